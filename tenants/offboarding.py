"""Offboarding a clinic (DESIGN.md §9): vendor staff close it, which exports its data and
suspends it; after TENANT_CLOSING_GRACE_DAYS its schema, media files and domains are
deleted and its Tenant row stays as a tombstone (status deleted) with the vendor's audit
trail. Closing can be cancelled until then.

An edge of tenancy like provisioning: it enters the clinic's schema to request its export
and to count and delete what it holds."""

from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils.translation import gettext as _
from django_tenants.utils import schema_exists, tenant_context
from wagtail.documents import get_document_model
from wagtail.images import get_image_model

from crm.models import ClinicExport, Contact, Encounter
from crm.services import exports
from saas import clock

from . import schemas
from .models import ClinicBacklog, ConsoleAuditEntry, Tenant
from .services import tenant_set_status


def tenant_close(*, tenant: Tenant, actor, reason: str = "") -> Tenant:
    """Start closing a clinic: suspend it, export its data (a worker builds the ZIP, which
    vendor staff hand over from the console), and set the day its data is deleted."""
    if tenant.is_public or tenant.is_deleted:
        raise ValidationError(_("This clinic cannot be closed."), code="not_closable")
    if tenant.is_closing:
        raise ValidationError(_("This clinic is already closing."), code="closing")
    now = clock.now()
    with transaction.atomic():
        tenant = Tenant.objects.select_for_update().get(pk=tenant.pk)
        tenant.closing_at = now
        tenant.delete_after = now + timedelta(days=settings.TENANT_CLOSING_GRACE_DAYS)
        tenant.save(update_fields=["closing_at", "delete_after"])
        if tenant.status != Tenant.Status.SUSPENDED:
            tenant_set_status(
                tenant=tenant, status=Tenant.Status.SUSPENDED, actor=actor, reason="closing"
            )
        with tenant_context(tenant):
            # Sent when this transaction commits, to a worker in the clinic's schema.
            export = exports.clinic_export_request(user=None, purpose=ClinicExport.Purpose.CLOSING)
        ConsoleAuditEntry.objects.create(
            actor=actor,
            tenant=tenant,
            action=ConsoleAuditEntry.Action.CLOSING_STARTED,
            detail={
                "reason": reason[:200],
                "delete_after": tenant.delete_after.isoformat(),
                "export": export.pk,
            },
        )
    return tenant


def tenant_close_cancel(*, tenant: Tenant, actor) -> Tenant:
    """Stop a closing during its grace period. The clinic stays suspended: vendor staff
    reactivate it when it should work again (billing may need settling first)."""
    with transaction.atomic():
        tenant = Tenant.objects.select_for_update().get(pk=tenant.pk)
        if not tenant.is_closing:
            raise ValidationError(_("This clinic is not closing."), code="not_closing")
        tenant.closing_at = tenant.delete_after = None
        tenant.save(update_fields=["closing_at", "delete_after"])
        ConsoleAuditEntry.objects.create(
            actor=actor, tenant=tenant, action=ConsoleAuditEntry.Action.CLOSING_CANCELLED
        )
    return tenant


def closing_export_open(*, tenant: Tenant, actor):
    """The closing clinic's export ZIP, for vendor staff to hand over; audit-logged in the
    console. Returns (export, open file)."""
    if not tenant.is_closing:
        raise ValidationError(_("This clinic is not closing."), code="not_closing")
    with tenant_context(tenant):
        export = exports.clinic_export_closing()
        if export is None or export.status != ClinicExport.Status.READY:
            raise ValidationError(_("The export is not ready yet."), code="not_ready")
        handle = default_storage.open(export.path, "rb")
    ConsoleAuditEntry.objects.create(
        actor=actor,
        tenant=tenant,
        action=ConsoleAuditEntry.Action.EXPORT_DOWNLOADED,
        detail={"export": export.pk, "size": export.size},
    )
    return export, handle


def tenants_close_due(*, now: datetime | None = None) -> list[str]:
    """Delete every closing clinic whose grace period is over; returns their schema names."""
    now = now or clock.now()
    due = Tenant.objects.filter(
        delete_after__lte=now, status=Tenant.Status.SUSPENDED, closing_at__isnull=False
    ).exclude(schema_name="public")
    deleted = []
    for tenant in due:
        tenant_delete(tenant=tenant)
        deleted.append(tenant.schema_name)
    return deleted


def _counts(tenant: Tenant) -> dict[str, int]:
    with tenant_context(tenant):
        return {
            "contacts": Contact.objects.count(),
            "encounters": Encounter.objects.count(),
            "staff": get_user_model().objects.count(),
            "images": get_image_model().objects.count(),
            "documents": get_document_model().objects.count(),
        }


def _media_delete(tenant: Tenant) -> int:
    """Delete every file under the clinic's media prefix (its folder on disk, its prefix in
    the bucket) through the default storage, which is per tenant either way."""
    deleted = 0
    with tenant_context(tenant):
        folders = [""]
        while folders:
            folder = folders.pop()
            try:
                subfolders, files = default_storage.listdir(folder)
            except FileNotFoundError:
                continue
            for name in files:
                default_storage.delete(f"{folder}/{name}" if folder else name)
                deleted += 1
            folders.extend(f"{folder}/{sub}" if folder else sub for sub in subfolders)
    return deleted


def tenant_delete(*, tenant: Tenant, actor=None) -> Tenant:
    """Delete a closing clinic's data for good: media files, schema, domains. The Tenant
    row stays as a tombstone (status deleted) with a console audit entry giving the counts
    of what was deleted."""
    tenant = Tenant.objects.get(pk=tenant.pk)
    if not tenant.is_closing or tenant.status != Tenant.Status.SUSPENDED:
        raise ValidationError(_("Only a closing, suspended clinic can be deleted."))
    counts = _counts(tenant) if schema_exists(tenant.schema_name) else {}
    counts["files"] = _media_delete(tenant)
    with transaction.atomic():
        schemas.schema_drop(tenant.schema_name)
        domains = list(tenant.domains.values_list("domain", flat=True))
        tenant.domains.all().delete()
        ClinicBacklog.objects.filter(tenant=tenant).delete()
        tenant_set_status(tenant=tenant, status=Tenant.Status.DELETED, actor=actor,
                          reason="closing grace period over")  # fmt: skip
        ConsoleAuditEntry.objects.create(
            actor=actor,
            tenant=tenant,
            action=ConsoleAuditEntry.Action.TENANT_DELETED,
            detail={"schema": tenant.schema_name, "domains": domains, "counts": counts},
        )
    return tenant

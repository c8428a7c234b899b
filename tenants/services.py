"""Writes on tenants: provisioning, suspension, reactivation, the clinics' backlog figures.
Provisioning is an edge of tenancy: it creates schemas and enters the new tenant's schema to
seed it."""

import re
import time
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, connection, transaction
from django.utils import translation
from django.utils.translation import gettext as _
from django_tenants.utils import schema_exists, tenant_context

from crm import crypto
from crm.roles import Role
from crm.services.audit import login_digest
from crm.services.staff import staff_invite
from saas import clock
from saas.celery import enqueue_on_commit

from . import schemas
from .links import tenant_url
from .models import ConsoleAuditEntry, Domain, Tenant
from .presets import preset_apply

HOSTNAME_PATTERN = re.compile(
    r"^(?=.{4,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$"
)
SLUG_PATTERN = re.compile(r"^[a-z](?:[a-z0-9]|-(?=[a-z0-9])){1,39}$")
RESERVED_SLUGS = frozenset(
    {
        "admin", "api", "app", "assets", "billing", "blog", "cdn", "console", "dashboard",
        "demo", "dev", "docs", "ftp", "help", "imap", "info", "mail", "media", "ns1", "ns2",
        "pop", "public", "root", "smtp", "staging", "static", "status", "support", "test",
        "template", "webmail", "www", "carebridge", "information_schema",
    }
)  # fmt: skip


@dataclass(frozen=True)
class ProvisionResult:
    tenant: Tenant
    admin_email: str
    set_password_url: str
    method: str  # "pool", "clone" or "migrations"
    seconds: float


def slug_validate(slug: str) -> str:
    """Return the normalised slug or raise ValidationError saying what is wrong with it."""
    slug = (slug or "").strip().lower()
    if not SLUG_PATTERN.match(slug):
        raise ValidationError(
            _(
                "The address name must be 2–40 characters: lowercase letters, digits and "
                "single hyphens, starting with a letter and not ending with a hyphen."
            ),
            code="invalid_slug",
        )
    if slug in RESERVED_SLUGS or slug.startswith("pg-"):
        raise ValidationError(
            _("“%(slug)s” is reserved. Please choose another name."),
            code="reserved_slug",
            params={"slug": slug},
        )
    if Tenant.objects.filter(schema_name__iexact=slug).exists() or schema_exists(slug):
        raise _slug_taken(slug)
    return slug


def _slug_taken(slug: str) -> ValidationError:
    return ValidationError(
        _("“%(slug)s” is already taken. Please choose another name."),
        code="duplicate_slug",
        params={"slug": slug},
    )


def tenant_provision(
    *,
    name: str,
    slug: str,
    kind: str,
    admin_email: str,
    admin_name: str = "",
    locale: str = Tenant.Locale.ZH_HANS,
    use_pool: bool = True,
    use_template: bool = True,
    actor=None,
) -> ProvisionResult:
    """Create a tenant with its domain, schema, preset and first admin, all or nothing.

    The schema comes from the pool of ready copies when one is waiting, else from a fresh
    copy of the migrated template schema (its DDL replayed, tenants.ddl), else (no current
    template) from migrations. DDL
    is transactional in PostgreSQL, so one transaction covers rows and schema alike: any
    failure leaves no tenant row, domain or schema behind."""
    started = time.perf_counter()
    connection.set_schema_to_public()
    slug = slug_validate(slug)
    admin_email = _email_validate(admin_email)
    # Every way of making the schema (pool, clone, migrations) brings it to the code's state,
    # and the preset gives it its roles: the next release has nothing to do for it.
    tenant = Tenant(
        schema_name=slug,
        name=name.strip(),
        kind=kind,
        locale=locale,
        schema_fingerprint=schemas.migration_fingerprint(),
        sync_fingerprint=schemas.sync_fingerprint(),
    )
    tenant.full_clean()

    try:
        with transaction.atomic():
            tenant.save()
            Domain.objects.create(domain=tenant.primary_host, tenant=tenant, is_primary=True)
            method = _schema_create(slug, use_pool=use_pool, use_template=use_template)
            with tenant_context(tenant), translation.override(tenant.locale):
                # The clinic's own field encryption keys: the schema is a clone of the
                # template (or a pooled clone), which holds none to share.
                crypto.keys_ensure()
                preset_apply(tenant)
                # The first admin is invited like any staff member.
                invitation = staff_invite(
                    email=admin_email,
                    full_name=admin_name,
                    role=Role.ADMIN,
                    base_url=tenant_url(tenant),
                )
            if actor is not None:
                ConsoleAuditEntry.objects.create(
                    actor=actor,
                    tenant=tenant,
                    action=ConsoleAuditEntry.Action.TENANT_CREATED,
                    detail={"method": method},
                )
    except IntegrityError as exc:
        # Another request took the same slug between our check and our insert.
        raise _slug_taken(slug) from exc
    if method == "pool":
        # Refill at once rather than at the next beat tick, so a burst of sign-ups keeps
        # finding ready schemas.
        connection.set_schema_to_public()
        enqueue_on_commit("tenants.tasks.schema_pool_refill_task")
    # The next sign-up on this connection would pay for the caches this one filled.
    schemas.connection_renew()
    return ProvisionResult(
        tenant=tenant,
        admin_email=admin_email,
        set_password_url=invitation.set_password_url,
        method=method,
        seconds=time.perf_counter() - started,
    )


def _email_validate(email: str) -> str:
    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError as exc:
        raise ValidationError(_("Enter a valid email address for the administrator.")) from exc
    return email


def _schema_create(slug: str, *, use_pool: bool, use_template: bool) -> str:
    if use_pool and schemas.pool_claim(slug):
        return "pool"
    if use_template and schemas.schema_create_from_template(slug):
        return "clone"
    schemas.schema_create_by_migrations(slug)
    return "migrations"


def tenant_set_status(*, tenant: Tenant, status: str, actor=None, reason: str = "") -> Tenant:
    """Move a tenant to ``status`` and record who did it."""
    if status not in Tenant.Status.values:
        raise ValidationError(_("Unknown status."))
    with transaction.atomic():
        previous = tenant.status
        tenant.status = status
        tenant.status_changed_at = clock.now()
        tenant.save(update_fields=["status", "status_changed_at"])
        ConsoleAuditEntry.objects.create(
            actor=actor,
            tenant=tenant,
            action=ConsoleAuditEntry.Action.STATUS_CHANGED,
            detail={"from": previous, "to": status, "reason": reason},
        )
    return tenant


def tenant_suspend(*, tenant: Tenant, actor=None, reason: str = "") -> Tenant:
    return tenant_set_status(
        tenant=tenant, status=Tenant.Status.SUSPENDED, actor=actor, reason=reason
    )


def tenant_reactivate(*, tenant: Tenant, actor=None) -> Tenant:
    return tenant_set_status(tenant=tenant, status=Tenant.Status.ACTIVE, actor=actor)


def public_tenant_ensure() -> Tenant:
    """The public schema's tenant row and its domain (BASE_DOMAIN), which route the landing
    page and the vendor console."""
    connection.set_schema_to_public()
    tenant, _created = Tenant.objects.get_or_create(
        schema_name="public",
        defaults={"name": "CareBridge", "status": Tenant.Status.ACTIVE},
    )
    Domain.objects.get_or_create(
        domain=settings.BASE_DOMAIN, defaults={"tenant": tenant, "is_primary": True}
    )
    return tenant


def domain_add(*, tenant: Tenant, domain: str, actor=None) -> Domain:
    """Route a clinic's own host name (e.g. followup.renai-hospital.cn) to ``tenant``. Hosts
    under BASE_DOMAIN are ours and are given by the slug only."""
    host = (domain or "").strip().lower().rstrip(".")
    if not HOSTNAME_PATTERN.match(host):
        raise ValidationError(
            _("Enter a host name such as followup.example-hospital.cn."), code="invalid_domain"
        )
    base = settings.BASE_DOMAIN
    if host == base or host.endswith(f".{base}"):
        raise ValidationError(
            _("Addresses under %(base)s come with the tenant's name and cannot be added."),
            code="reserved_domain",
            params={"base": base},
        )
    if Domain.objects.filter(domain=host).exists():
        raise ValidationError(
            _("%(domain)s is already in use."), code="duplicate_domain", params={"domain": host}
        )
    with transaction.atomic():
        added = Domain.objects.create(domain=host, tenant=tenant, is_primary=False)
        ConsoleAuditEntry.objects.create(
            actor=actor,
            tenant=tenant,
            action=ConsoleAuditEntry.Action.DOMAIN_ADDED,
            detail={"domain": host},
        )
    return added


def domain_remove(*, domain: Domain, actor=None) -> None:
    """Stop routing a custom host name; the tenant's own <slug>.BASE_DOMAIN stays."""
    if domain.is_primary:
        raise ValidationError(_("The tenant's main address cannot be removed."), code="primary")
    with transaction.atomic():
        ConsoleAuditEntry.objects.create(
            actor=actor,
            tenant=domain.tenant,
            action=ConsoleAuditEntry.Action.DOMAIN_REMOVED,
            detail={"domain": domain.domain},
        )
        domain.delete()


SETTINGS_FIELDS = (
    "name",
    "locale",
    "timezone",
    "calling_hours",
    "phone_region",
    "caller_number",
    "spot_check_percent",
    "message_hours",
    "complaint_ack_days",
    "complaint_reply_days",
    "sms_per_number_day",
    "sms_per_number_month",
    "channel_order",
    "retention_years",
    "require_two_step",
    "survey_interval_days",
    "survey_reminder_days",
)


def tenant_settings_update(*, tenant: Tenant, **values) -> Tenant:
    """Save a clinic's own settings (any of SETTINGS_FIELDS); invalid values raise
    ValidationError and change nothing."""
    unknown = values.keys() - set(SETTINGS_FIELDS)
    if unknown:
        raise TypeError(f"Not a tenant setting: {sorted(unknown)}")
    changed = Tenant.objects.get(pk=tenant.pk)
    for field, value in values.items():
        setattr(changed, field, value.strip() if isinstance(value, str) else value)
    changed.full_clean(exclude=["schema_name"])
    changed.save(update_fields=list(values))
    return changed


def console_sign_in_recorded(user, *, client_address: str | None) -> ConsoleAuditEntry:
    """A sign-in to the vendor console (public schema), in the console's audit trail."""
    return ConsoleAuditEntry.objects.create(
        actor=user, action=ConsoleAuditEntry.Action.SIGNED_IN, client_address=client_address
    )


def console_sign_out_recorded(user, *, client_address: str | None) -> ConsoleAuditEntry:
    return ConsoleAuditEntry.objects.create(
        actor=user, action=ConsoleAuditEntry.Action.SIGNED_OUT, client_address=client_address
    )


def console_sign_in_failed_recorded(
    username: str, *, client_address: str | None
) -> ConsoleAuditEntry:
    """A refused console sign-in: against the account the login names, else with only a
    keyed digest of the name tried (never the address itself)."""
    username = (username or "").strip()
    user = get_user_model().objects.filter(username__iexact=username).first() if username else None
    detail = (
        {"account": "known"}
        if user
        else {"account": "unknown", "login_digest": login_digest(username)}
    )
    return ConsoleAuditEntry.objects.create(
        actor=user,
        action=ConsoleAuditEntry.Action.SIGN_IN_FAILED,
        detail=detail,
        client_address=client_address,
    )

"""The clinic's audit trail (DESIGN.md §9): the one way an audit entry is written, the
sign-in records, and the trail's own export. Entries hold ids, role names and the names of
changed fields in ``detail``, never a personal value (a phone number, a name, an email)."""

import io

from django.contrib.auth import get_user_model
from django.db import models
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _

from ..models import AuditEntry, Contact
from ..selectors_audit import AuditFilters, audit_detail_text, audit_entries
from ..spreadsheets import SafeCsvWriter

User = get_user_model()
Action = AuditEntry.Action


def audit_record(
    actor,
    action: str,
    *,
    contact: Contact | int | None = None,
    obj: models.Model | str | None = None,
    detail: dict | None = None,
    client_address: str | None = None,
) -> AuditEntry:
    """Append one entry: ``actor`` (a user, or None for the system) did ``action`` to
    ``contact`` (or its id) and/or ``obj`` (a row, whose id is kept, or a short reference
    such as "xlsx:2026-11")."""
    object_id = str(obj.pk) if isinstance(obj, models.Model) else obj or ""
    return AuditEntry.objects.create(
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        action=action,
        contact_id=contact.pk if isinstance(contact, Contact) else contact,
        object_id=object_id[:40],
        detail=detail or {},
        client_address=client_address or None,
    )


def sign_in_recorded(user, *, client_address: str | None) -> AuditEntry:
    return audit_record(user, Action.SIGNED_IN, client_address=client_address)


def sign_out_recorded(user, *, client_address: str | None) -> AuditEntry:
    return audit_record(user, Action.SIGNED_OUT, client_address=client_address)


def login_digest(username: str) -> str:
    """A keyed digest of a login name that matches no account: repeated tries at the same
    name show as one digest, yet the address itself (personal data, maybe a typo of a real
    one) is not kept, and without the server's secret it cannot be guessed back."""
    return salted_hmac(
        "crm.audit.sign_in_failed", username.strip().lower(), algorithm="sha256"
    ).hexdigest()[:16]


def sign_in_failed_recorded(username: str, *, client_address: str | None) -> AuditEntry:
    """A refused sign-in: against the account when the login names one, else with only the
    digest of the name tried."""
    username = username or ""
    user = User.objects.filter(username__iexact=username.strip()).first() if username else None
    if user is not None:
        return audit_record(
            user,
            Action.SIGN_IN_FAILED,
            obj=user,
            detail={"account": "known"},
            client_address=client_address,
        )
    return audit_record(
        None,
        Action.SIGN_IN_FAILED,
        detail={"account": "unknown", "login_digest": login_digest(username)},
        client_address=client_address,
    )


def audit_csv(filters: AuditFilters, *, user) -> str:
    """The filtered trail as CSV, newest first; the download is itself an entry of the trail
    (with the filters used, and the contact when one was asked for)."""
    entries = list(audit_entries(filters))
    contact = (
        Contact.objects.filter(record_no=filters.record_no).first() if filters.record_no else None
    )
    audit_record(
        user,
        Action.AUDIT_EXPORTED,
        contact=contact,
        detail={
            "rows": len(entries),
            "actor": filters.actor_id,
            "action": filters.action,
            "since": filters.since.isoformat() if filters.since else None,
            "until": filters.until.isoformat() if filters.until else None,
        },
    )
    out = io.StringIO()
    writer = SafeCsvWriter(out)
    writer.writerow(
        [
            _("When"),
            _("Who"),
            _("Action"),
            _("Record number"),
            _("Object"),
            _("Detail"),
            _("Client address"),
        ]
    )
    for entry in entries:
        writer.writerow(
            [
                timezone.localtime(entry.created_at).strftime("%Y-%m-%d %H:%M:%S"),
                entry.actor.email if entry.actor else "",
                entry.get_action_display(),
                entry.contact.record_no if entry.contact else "",
                entry.object_id,
                audit_detail_text(entry),
                entry.client_address or "",
            ]
        )
    return out.getvalue()

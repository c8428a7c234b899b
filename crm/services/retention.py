"""Retention and erasure of patient data (DESIGN.md §9; PIPL treats health data as
sensitive): a contact is anonymised N years after their last encounter (the clinic's
retention policy) or at once on an erasure request; rejected import rows are deleted
REJECTED_ROWS_DAYS after their import; expired exports are deleted.

Anonymising blanks what identifies a person and keeps what the reports count: rows, dates,
departments, outcome codes, categories, scores. Every personal field it blanks is listed in
PERSONAL_FIELDS and written in ``_blank``, the one place a later change to how those fields
are stored (encryption with blind indexes) has to adapt."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import DateTimeField, Max, Q
from django.db.models.functions import Coalesce
from django.utils import translation
from django.utils.translation import gettext as _

from saas import clock
from surveys.models import QuestionKind, SurveyAnswer, SurveyInvitation, SurveyResponse
from tenants.tick_records import tenant_retention_ran

from ..calendar import local_date, tenant_zone
from ..models import (
    AuditEntry,
    CallAttempt,
    Complaint,
    ComplaintEvent,
    Contact,
    ContactPhone,
    Encounter,
    FollowUpTask,
    ImportJob,
    InboundMessage,
    Message,
    Praise,
    WeChatLink,
    WeChatLinkToken,
)
from ..models.imports import REJECTED_ROWS_DAYS
from .audit import audit_record
from .cascade import contacts_tasks_cancel
from .exports import clinic_exports_expire

# Contacts anonymised per transaction, and per tick: thousands due on the first day of a
# policy are worked through over a few ticks, never in one long transaction.
BATCH = 200
PER_TICK = 5_000

# Every personal field anonymising blanks, by model: (field, blank value). A field not listed
# is kept (it is a count, date, code, score or a reference to staff or a department).
PERSONAL_FIELDS: dict[type, dict[str, object]] = {
    Contact: {
        "birth_date": None,
        "record_no": "",
        "email": "",
        "address": "",
        "notes": "",
        "do_not_contact_reason": "",
    },
    Encounter: {
        "attending_name": "",
        "responsible_nurse_name": "",
        "serial_no": "",
        "diagnosis": "",
        "procedure": "",
        "treatment_course": "",
        "bed": "",
        "external_id": "",  # an import's key holds the record number or phone
        "notes": "",
    },
    FollowUpTask: {"result_summary": ""},
    CallAttempt: {"notes": ""},
    Complaint: {"summary": "", "reply": "", "corrective_action": ""},
    ComplaintEvent: {"changes": {}, "note": ""},
    Praise: {"text": ""},
    # An update() writes no blind index (crm.fields): the recipient's is emptied with it.
    Message: {"to": "", "to_index": "", "subject": "", "body": "", "last_error": ""},
    InboundMessage: {"from_number": "", "body": ""},
    SurveyAnswer: {"text": ""},
}


def anonymised_name() -> str:
    """What an anonymised contact is called, in the clinic's language (stored, so lists
    sorted or searched by name still work)."""
    with translation.override(connection.tenant.locale):
        return _("Anonymised")


def _blank(model: type, queryset) -> int:
    return queryset.update(**PERSONAL_FIELDS[model])


@transaction.atomic
def contact_anonymise(contact: Contact, *, reason: str, now: datetime | None = None) -> bool:
    """Erase one contact's personal data everywhere it is held, keep every row and figure.
    Open follow-ups are cancelled (reason: anonymised) and the contact is never planned,
    messaged or called again. Idempotent: False when the contact was already anonymised."""
    now = now or clock.now()
    contact = Contact.objects.select_for_update().get(pk=contact.pk)
    if contact.anonymised_at is not None:
        return False
    contacts_tasks_cancel([contact.pk], reason=FollowUpTask.Reason.ANONYMISED, now=now)
    for field, value in PERSONAL_FIELDS[Contact].items():
        setattr(contact, field, value)
    contact.name = anonymised_name()
    contact.do_not_contact = True  # every path that checks it (planning, SMS) stays away
    contact.anonymised_at = now
    contact.anonymised_reason = reason
    contact.save()
    ContactPhone.objects.filter(contact=contact).delete()
    _blank(Encounter, Encounter.objects.filter(contact=contact))
    tasks = FollowUpTask.objects.filter(contact=contact)
    _blank(FollowUpTask, tasks)
    _blank(CallAttempt, CallAttempt.objects.filter(task__in=tasks))
    complaints = Complaint.objects.filter(Q(contact=contact) | Q(encounter__contact=contact))
    _blank(Complaint, complaints)
    _blank(ComplaintEvent, ComplaintEvent.objects.filter(complaint__in=complaints))
    _blank(Praise, Praise.objects.filter(Q(contact=contact) | Q(encounter__contact=contact)))
    messages = Message.objects.filter(contact=contact)
    Message.objects.filter(contact=contact, status=Message.Status.QUEUED).update(
        status=Message.Status.CANCELLED
    )
    _blank(Message, messages)
    _blank(
        InboundMessage,
        InboundMessage.objects.filter(Q(contact=contact) | Q(reply_to__in=messages)),
    )
    # The WeChat user is the person: unlinked, and a QR code still out links nobody.
    WeChatLink.objects.filter(contact=contact).delete()
    WeChatLinkToken.objects.filter(contact=contact).delete()
    # A survey link still out would let answers about the person arrive after the erasure.
    SurveyInvitation.objects.filter(contact=contact, answered_at__isnull=True).update(
        expires_at=now
    )
    _blank(
        SurveyAnswer,
        SurveyAnswer.objects.filter(
            response__in=SurveyResponse.objects.filter(contact=contact), kind=QuestionKind.TEXT
        ),
    )
    return True


def contact_erase(contact: Contact, *, user, reason: str, now: datetime | None = None) -> bool:
    """An erasure request (PIPL art. 47) made by an administrator: anonymised at once, and
    recorded with who asked for it. The reason is one of Contact.Erasure (no free text: it
    would hold what is being erased)."""
    if reason not in Contact.Erasure.values or reason == Contact.Erasure.RETENTION:
        raise ValueError(f"Not an erasure reason: {reason!r}")
    with transaction.atomic():
        erased = contact_anonymise(contact, reason=reason, now=now)
        if erased:
            audit_record(user, AuditEntry.Action.CONTACT_ERASED, contact=contact, obj=reason)
    return erased


def contacts_retention_due(*, years: int, now: datetime):
    """Contacts not yet anonymised whose last encounter (or, without any, their creation)
    is more than ``years`` years old."""
    cutoff = _years_before(now, years)
    return (
        Contact.objects.filter(anonymised_at__isnull=True)
        .annotate(
            last_seen=Coalesce(
                Max("encounters__occurred_at"), "created_at", output_field=DateTimeField()
            )
        )
        .filter(last_seen__lt=cutoff)
        .order_by("pk")
    )


def _years_before(moment: datetime, years: int) -> datetime:
    try:
        return moment.replace(year=moment.year - years)
    except ValueError:  # 29 February
        return moment.replace(year=moment.year - years, day=28)


def import_rejected_purge(*, now: datetime) -> int:
    """Delete the rejected rows (and the preview, which names patients) of imports finished
    more than REJECTED_ROWS_DAYS ago; the job stays with its counts."""
    return ImportJob.objects.filter(
        finished_at__lte=now - timedelta(days=REJECTED_ROWS_DAYS), rejected_purged_at__isnull=True
    ).update(errors=[], rejected_cells={}, preview={}, content=b"", rejected_purged_at=now)


@dataclass
class RetentionResult:
    anonymised: int = 0
    rejected_purged: int = 0
    exports_deleted: int = 0
    done: bool = True  # False: more contacts are due, the next tick carries on
    ran: bool = True  # False: already run today


def retention_run(*, now: datetime | None = None, force: bool = False) -> RetentionResult:
    """The clinic's daily retention pass (run by the follow-up tick): anonymise the contacts
    past the retention period, in batches, purge old rejected import rows and expired
    exports. Runs once per local day; a day with more contacts due than PER_TICK carries on
    at the next tick."""
    now = now or clock.now()
    tenant = connection.tenant
    today = local_date(now, tenant_zone(tenant))
    if tenant.retention_ran_on == today and not force:
        return RetentionResult(ran=False)
    result = RetentionResult()
    result.rejected_purged = import_rejected_purge(now=now)
    result.exports_deleted = clinic_exports_expire(now=now)
    if tenant.retention_years:
        due = contacts_retention_due(years=tenant.retention_years, now=now)
        ids = list(due.values_list("pk", flat=True)[: PER_TICK + 1])
        result.done = len(ids) <= PER_TICK
        ids = ids[:PER_TICK]
        for start in range(0, len(ids), BATCH):
            with transaction.atomic():
                for contact in Contact.objects.filter(pk__in=ids[start : start + BATCH]):
                    result.anonymised += contact_anonymise(
                        contact, reason=Contact.Erasure.RETENTION, now=now
                    )
    if result.done:
        tenant_retention_ran(tenant, today)
    return result

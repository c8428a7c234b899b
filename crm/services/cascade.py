"""The cascade: what news about a contact does to their other follow-ups (DESIGN.md §5.2).
A death flags the contact and cancels every open follow-up; a later discharge (a readmission)
cancels the open follow-ups of earlier stays; an opt-out or an erasure cancels them all.

One set-based implementation, whatever brought the news: an encounter saved by staff
(``crm.services.planning.encounter_cascade``), a batch of rows from the import or the
integration API (``crm.services.encounter_rows``), a call whose outcome says so
(``crm.services.followup.attempt_log``). Each runs a fixed number of statements, however many
contacts the news is about."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db import connection

from saas import clock

from ..models import Contact, Encounter, FollowUpTask

Status = FollowUpTask.Status
Reason = FollowUpTask.Reason


@dataclass(frozen=True, slots=True)
class EncounterWritten:
    """An encounter just created or corrected, as the cascade reads it."""

    encounter_id: int
    contact_id: int
    kind: str
    discharge_outcome: str
    # A contact created with this encounter has no earlier stay to cancel.
    new_contact: bool = False

    @classmethod
    def of(cls, encounter: Encounter) -> "EncounterWritten":
        return cls(
            encounter_id=encounter.pk,
            contact_id=encounter.contact_id,
            kind=encounter.kind,
            discharge_outcome=encounter.discharge_outcome,
        )


def tasks_cancel(
    tasks, *, reason: str, now: datetime | None = None, status: str = Status.CANCELLED
) -> int:
    """Cancel the open ones among ``tasks`` (a queryset) with the reason, releasing any
    claim (``status`` EXCLUDED: they leave the denominators too). Returns how many."""
    now = now or clock.now()
    return tasks.filter(status__in=FollowUpTask.OPEN).update(
        status=status,
        reason=reason,
        completed_at=now,
        claimed_by=None,
        claimed_until=None,
        updated_at=now,
    )


def contacts_tasks_cancel(
    contact_ids: Iterable[int],
    *,
    reason: str,
    sparing: Iterable[int] = (),
    now: datetime | None = None,
) -> int:
    """Cancel every open follow-up of these contacts with the reason (deceased, opted out,
    readmitted, anonymised), except the tasks ``sparing`` names: the one whose call brought
    the news, which its caller closes itself."""
    tasks = FollowUpTask.objects.filter(contact_id__in=list(contact_ids))
    spared = list(sparing)
    if spared:
        tasks = tasks.exclude(pk__in=spared)
    return tasks_cancel(tasks, reason=reason, now=now)


def contacts_died(
    contact_ids: Iterable[int], *, sparing: Iterable[int] = (), now: datetime | None = None
) -> int:
    """Flag the contacts deceased (a date of death already recorded is kept) and cancel all
    their open follow-ups but ``sparing``. Returns how many follow-ups were cancelled."""
    now = now or clock.now()
    ids = list(contact_ids)
    if not ids:
        return 0
    Contact.objects.filter(pk__in=ids, deceased=False).update(
        deceased=True, deceased_at=now, updated_at=now
    )
    return contacts_tasks_cancel(ids, reason=Reason.DECEASED, sparing=sparing, now=now)


def encounters_cascade(written: Iterable[EncounterWritten], *, now: datetime | None = None) -> int:
    """What new or corrected encounters tell about their contacts' other follow-ups: a death
    flags the contact and cancels all their open follow-ups; a discharge cancels the open
    follow-ups of the contact's earlier discharges (a readmission). Deaths are applied first,
    so a contact who died is never counted as readmitted. Returns how many follow-ups were
    cancelled."""
    now = now or clock.now()
    written = list(written)
    died = {w.contact_id for w in written if w.discharge_outcome == Encounter.Outcome.DIED}
    cancelled = contacts_died(died, now=now)
    discharges = [
        w.encounter_id
        for w in written
        if w.kind == Encounter.Kind.DISCHARGE and not w.new_contact and w.contact_id not in died
    ]
    if not discharges:
        return cancelled
    task, encounter = FollowUpTask._meta.db_table, Encounter._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            # The open tasks of the contact's discharges earlier than one of these.
            f"SELECT DISTINCT t.id FROM {encounter} n"  # noqa: S608
            f" JOIN {task} t ON t.contact_id = n.contact_id"
            f" JOIN {encounter} e ON e.id = t.encounter_id"
            " WHERE n.id = ANY(%s) AND e.kind = %s AND e.occurred_at < n.occurred_at"
            " AND t.status = ANY(%s)",
            [discharges, Encounter.Kind.DISCHARGE, list(FollowUpTask.OPEN)],
        )
        earlier = [pk for (pk,) in cursor.fetchall()]
    if earlier:
        cancelled += tasks_cancel(
            FollowUpTask.objects.filter(pk__in=earlier), reason=Reason.READMITTED, now=now
        )
    return cancelled

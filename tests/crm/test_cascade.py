"""The cascade (crm.services.cascade): a death or a readmission does the same to a contact's
other follow-ups whichever way the news arrives — an encounter saved by staff, a row of the
import or the integration API, or the outcome of a call."""

from datetime import timedelta

import pytest

from crm.models import FollowUpRule, FollowUpTask, OutcomeCode
from crm.services.encounter_rows import encounters_intake
from crm.services.followup import AttemptInput, attempt_log
from crm.services.planning import encounter_cascade, encounters_plan
from tests.clock import at
from tests.factories import ContactFactory, EncounterFactory, RuleFactory, StaffFactory

Status = FollowUpTask.Status
Reason = FollowUpTask.Reason
NOW = at("2026-11-23 10:00")


@pytest.fixture
def alpha(tenant_a, in_tenant):
    with in_tenant(tenant_a):
        FollowUpRule.objects.update(active=False)
        RuleFactory(match_kinds=[], steps=[{"offset_days": 3, "due_days": 7}])
        yield tenant_a


@pytest.fixture
def agent(alpha):
    return StaffFactory(role="agent")


def _contact_with_a_stay_and_a_visit():
    """A contact discharged four days ago and seen as an outpatient the same day: one open
    follow-up each (window day 3–7)."""
    contact = ContactFactory()
    stay = EncounterFactory(contact=contact, occurred_at=NOW - timedelta(days=4))
    visit = EncounterFactory(
        contact=contact,
        kind="outpatient",
        discharge_outcome="",
        occurred_at=NOW - timedelta(days=4),
    )
    encounters_plan([stay.pk, visit.pk], now=NOW)
    return contact, stay.tasks.get(), visit.tasks.get()


def _row(contact, **values) -> dict:
    """A checked intake row (as crm.registers.row_check returns it) of a new encounter of
    ``contact``, found by its record number."""
    return {
        "key": f"news-{contact.pk}",
        "name": contact.name,
        "sex": "",
        "birth_date": None,
        "record_no": contact.record_no,
        "email": "",
        "address": "",
        "phones": [],
        "kind": "discharge",
        "department_id": None,
        "attending_id": None,
        "attending_name": "",
        "responsible_nurse_id": None,
        "responsible_nurse_name": "",
        "occurred_at": NOW,
        "admitted_at": None,
        "serial_no": "",
        "age": None,
        "diagnosis_code": "",
        "diagnosis": "",
        "procedure_code": "",
        "procedure": "",
        "treatment_course": "",
        "discharge_outcome": "",
        "length_of_stay": None,
        "bed": "",
        "tags": [],
        "notes": "",
    } | values


def _told_by_staff(contact, visit_task, agent, *, outcome, category):
    encounter_cascade(
        EncounterFactory(contact=contact, discharge_outcome=outcome, occurred_at=NOW), now=NOW
    )


def _told_by_intake(contact, visit_task, agent, *, outcome, category):
    encounters_intake(source="his", rows=[(0, _row(contact, discharge_outcome=outcome))])


def _told_on_a_call(contact, visit_task, agent, *, outcome, category):
    code = OutcomeCode.objects.filter(category=category).first()
    attempt_log(visit_task, agent, AttemptInput(outcome=code), now=NOW)


@pytest.mark.now("2026-11-23 10:00", tick=False)
@pytest.mark.parametrize(
    ("outcome", "category", "deceased", "deceased_at", "reason"),
    [
        ("died", "deceased", True, NOW, Reason.DECEASED),
        ("cured", "readmitted", False, None, Reason.READMITTED),
    ],
    ids=["death", "readmission"],
)
def test_the_three_entry_points_cascade_alike(
    alpha, agent, outcome, category, deceased, deceased_at, reason
):
    """Given a contact with an open follow-up of an earlier stay, when a death (or a new
    discharge) is recorded by staff, by the intake, or on a call about another follow-up,
    then the contact and the earlier stay's follow-up end up the same."""
    seen = {}
    for entry, tell in (
        ("staff", _told_by_staff),
        ("intake", _told_by_intake),
        ("call", _told_on_a_call),
    ):
        contact, stay_task, visit_task = _contact_with_a_stay_and_a_visit()
        tell(contact, visit_task, agent, outcome=outcome, category=category)
        contact.refresh_from_db()
        stay_task.refresh_from_db()
        seen[entry] = (
            contact.deceased,
            contact.deceased_at,
            stay_task.status,
            stay_task.reason,
            stay_task.completed_at,
            stay_task.claimed_by_id,
        )
    expected = (deceased, deceased_at, Status.CANCELLED, reason, NOW, None)
    assert seen == {"staff": expected, "intake": expected, "call": expected}


@pytest.mark.now("2026-11-23 10:00", tick=False)
def test_a_death_keeps_the_date_already_recorded(alpha):
    """Given a contact already recorded as deceased, a second report of the death does not
    move the date."""
    contact, _stay_task, _visit_task = _contact_with_a_stay_and_a_visit()
    encounter_cascade(EncounterFactory(contact=contact, discharge_outcome="died"), now=NOW)
    later = NOW + timedelta(days=2)
    encounters_intake(source="his", rows=[(0, _row(contact, discharge_outcome="died"))])
    encounter_cascade(EncounterFactory(contact=contact, discharge_outcome="died"), now=later)
    contact.refresh_from_db()
    assert contact.deceased_at == NOW

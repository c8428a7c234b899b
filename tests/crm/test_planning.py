"""Planning follow-up tasks from rules (DESIGN.md §5.1, §5.2): windows in the tenant's local
days, matching, exclusions with reasons, recurrence, assignment, idempotent re-planning."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from crm.models import (
    Department,
    FollowUpRule,
    FollowUpTask,
    OutcomeCategory,
    OutcomeCode,
    RuleStep,
)
from crm.services.planning import encounters_plan
from tests.factories import ContactFactory, EncounterFactory, RuleFactory, StaffFactory

SHANGHAI = ZoneInfo("Asia/Shanghai")
Status = FollowUpTask.Status
Reason = FollowUpTask.Reason


@pytest.fixture
def alpha(tenant_a, in_tenant):
    """Inside alpha (hospital, Asia/Shanghai) with its preset rules switched off."""
    with in_tenant(tenant_a):
        FollowUpRule.objects.update(active=False)
        yield tenant_a


def plan(*encounters):
    encounters_plan([e.pk for e in encounters])
    return list(
        FollowUpTask.objects.filter(encounter__in=encounters).order_by("opens_at", "sequence")
    )


def test_presets_of_a_hospital_are_seeded(tenant_a, in_tenant):
    with in_tenant(tenant_a):
        names = list(FollowUpRule.objects.values_list("name", flat=True))
        assert names == [
            "手术患者回访",
            "慢病随访",
            "出院回访（治愈）",
            "出院回访（好转/转院）",
            "出院回访",
        ]
        discharge = FollowUpRule.objects.get(name="出院回访")
        assert discharge.exclude_outcomes == ["died", "self_discharged"]
        step = discharge.steps.get()
        assert (step.offset_days, step.due_days, step.channel) == (3, 7, "phone")
        by_outcome = {
            rule.name: (rule.match_outcomes, rule.exclusive, step.tier, step.assignee_policy)
            for rule in FollowUpRule.objects.filter(name__startswith="出院回访（")
            for step in rule.steps.all()
        }
        assert by_outcome == {
            "出院回访（治愈）": (["cured"], True, 1, "nurse"),
            "出院回访（好转/转院）": (["improved", "transferred"], True, 1, "clinician"),
        }
        assert set(OutcomeCode.objects.values_list("category", flat=True)) == {
            c for c, _label in OutcomeCategory.choices
        }


def test_presets_of_a_dental_clinic_are_in_english(tenant_b, in_tenant):
    with in_tenant(tenant_b):
        assert list(FollowUpRule.objects.values_list("name", flat=True)) == [
            "Post-treatment call",
            "Hygiene recall",
        ]
        assert OutcomeCode.objects.get(code="wrong-number").label == "Wrong or empty number"


def test_a_discharge_gets_the_preset_day_3_to_7_task(tenant_a, in_tenant):
    with in_tenant(tenant_a):
        encounter = EncounterFactory(
            occurred_at=datetime(2026, 11, 20, 10, tzinfo=SHANGHAI), discharge_outcome="unchanged"
        )
        [task] = plan(encounter)
        assert task.name == "出院回访 · 出院 3–7 天"
        assert task.status == Status.PENDING
        assert task.opens_at == datetime(2026, 11, 23, tzinfo=SHANGHAI)
        assert task.due_at == datetime(2026, 11, 28, tzinfo=SHANGHAI)  # end of day 7
        assert task.closes_at == datetime(2026, 12, 5, tzinfo=SHANGHAI)  # + 7 days' grace
        assert (task.channel, task.tier, task.max_attempts) == ("phone", 2, 3)


@pytest.mark.parametrize(
    ("occurred_utc", "opens_local_day"),
    [
        # 00:30 on the 20th in Shanghai is still the 19th in UTC: day 3 is the 23rd locally.
        (datetime(2026, 11, 19, 16, 30, tzinfo=UTC), 23),
        # 23:59 on the 20th in Shanghai.
        (datetime(2026, 11, 20, 15, 59, tzinfo=UTC), 23),
        # 00:00 on the 21st in Shanghai.
        (datetime(2026, 11, 20, 16, 0, tzinfo=UTC), 24),
    ],
)
def test_days_are_counted_in_the_tenant_zone_not_utc(alpha, occurred_utc, opens_local_day):
    RuleFactory()
    [task] = plan(EncounterFactory(occurred_at=occurred_utc))
    assert task.opens_at == datetime(2026, 11, opens_local_day, tzinfo=SHANGHAI)
    assert task.opens_at.astimezone(UTC).hour == 16  # local midnight is 16:00 UTC


def test_planning_twice_never_duplicates(alpha):
    RuleFactory(steps=[{"name": "D3"}, {"name": "D7", "offset_days": 7, "due_days": 7}])
    encounter = EncounterFactory()
    first = plan(encounter)
    second = plan(encounter)
    assert len(first) == len(second) == 2
    assert [t.pk for t in first] == [t.pk for t in second]


@pytest.mark.parametrize(
    ("contact", "encounter", "reason"),
    [
        ({"deceased": True}, {}, Reason.DECEASED),
        ({}, {"discharge_outcome": "died"}, Reason.DECEASED),
        ({"do_not_contact": True}, {}, Reason.DO_NOT_CONTACT),
        ({}, {"discharge_outcome": "self_discharged"}, Reason.OUTCOME),
        ({}, {"tags": ["privacy-sensitive"]}, Reason.TAG),
    ],
)
def test_excluded_encounters_are_recorded_with_the_reason(alpha, contact, encounter, reason):
    RuleFactory(exclude_outcomes=["self_discharged"], exclude_tags=["privacy-sensitive"])
    [task] = plan(EncounterFactory(contact=ContactFactory(**contact), **encounter))
    assert (task.status, task.reason) == (Status.EXCLUDED, reason)


def test_an_encounter_without_a_phone_is_eligible_and_unreachable_not_excluded(alpha):
    """Issue 19: a missing number is a failed follow-up, never an exclusion."""
    RuleFactory()
    [task] = plan(EncounterFactory(contact=ContactFactory(phone="")))
    assert (task.status, task.reason) == (Status.UNREACHABLE, Reason.NO_CONTACT)
    assert task.attempts_count == 0
    assert task.completed_at is not None


def test_a_rule_exclusion_still_wins_over_a_missing_phone(alpha):
    RuleFactory(exclude_tags=["privacy-sensitive"])
    contact = ContactFactory(phone="")
    [task] = plan(EncounterFactory(contact=contact, tags=["privacy-sensitive"]))
    assert (task.status, task.reason) == (Status.EXCLUDED, Reason.TAG)


def test_a_contact_whose_only_number_is_wrong_has_no_contact_information(alpha):
    RuleFactory()
    contact = ContactFactory()
    contact.phones.update(invalid=True)
    [task] = plan(EncounterFactory(contact=contact))
    assert (task.status, task.reason) == (Status.UNREACHABLE, Reason.NO_CONTACT)


def test_an_email_step_needs_an_email_address(alpha):
    RuleFactory(steps=[{"channel": "email"}])
    without, with_email = (
        EncounterFactory(),
        EncounterFactory(contact=ContactFactory(email="li@example.com")),
    )
    assert (plan(without)[0].status, plan(without)[0].reason) == (
        Status.UNREACHABLE,
        Reason.NO_CONTACT,
    )
    assert plan(with_email)[0].status == Status.PENDING


def test_matching_by_kind_department_code_prefix_tag_outcome_and_age(alpha):
    cardio = Department.objects.get(code="cardiology")
    RuleFactory(
        match_kinds=["discharge"],
        match_codes=["I10", "I2"],
        match_tags=["chronic", "vip"],
        match_outcomes=["cured", "improved"],
        min_age=18,
        max_age=80,
    ).match_departments.add(cardio)
    base = {
        "department": cardio,
        "diagnosis_code": "I21.9",
        "tags": ["chronic"],
        "discharge_outcome": "improved",
        "age": 60,
    }
    assert plan(EncounterFactory(**base))
    for change in (
        {"kind": "surgery"},
        {"department": Department.objects.get(code="orthopaedics")},
        {"diagnosis_code": "J18"},
        {"tags": ["other"]},
        {"discharge_outcome": "transferred"},
        {"age": 17},
        {"age": 81},
        {"age": None},
    ):
        assert plan(EncounterFactory(**{**base, **change})) == [], change
    # The code may also be a procedure code, in any case.
    assert plan(EncounterFactory(**{**base, "diagnosis_code": "", "procedure_code": "i10"}))


def test_every_matching_rule_applies_unless_one_is_exclusive(alpha):
    RuleFactory(name="General", position=2)
    RuleFactory(name="Cardiac", position=1, match_codes=["I2"])
    both = plan(EncounterFactory(diagnosis_code="I21"))
    assert {t.rule.name for t in both} == {"General", "Cardiac"}

    FollowUpRule.objects.filter(name="Cardiac").update(exclusive=True)
    only = plan(EncounterFactory(diagnosis_code="I21"))
    assert {t.rule.name for t in only} == {"Cardiac"}
    assert {t.rule.name for t in plan(EncounterFactory(diagnosis_code="J18"))} == {"General"}


def test_recurrence_stops_at_the_hard_limit(alpha):
    RuleFactory(
        steps=[
            {"name": "First", "offset_days": 0, "due_days": 7},
            {
                "name": "Every 90 days",
                "offset_days": 90,
                "due_days": 97,
                "repeat_every_days": 90,
                "repeat_limit": 3,
                "stop_when": "recovered",
            },
        ]
    )
    occurred = datetime(2026, 1, 10, 9, tzinfo=SHANGHAI)
    tasks = plan(EncounterFactory(occurred_at=occurred))
    assert [t.name.split(" · ")[1] for t in tasks] == [
        "First",
        "Every 90 days (1)",
        "Every 90 days (2)",
        "Every 90 days (3)",
    ]
    assert [t.opens_at.astimezone(SHANGHAI).date() for t in tasks[1:]] == [
        (occurred + timedelta(days=d)).date() for d in (90, 180, 270)
    ]


def test_assignee_policies(alpha):
    surgery = Department.objects.get(code="general-surgery")
    doctor = StaffFactory(role="clinician")
    agents = sorted([StaffFactory(role="agent").pk, StaffFactory(role="agent").pk])
    from django.contrib.auth import get_user_model

    all_agents = list(
        get_user_model()
        .objects.filter(groups__name="agent", is_active=True)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    assert set(agents) <= set(all_agents)
    RuleFactory(
        steps=[
            {"name": "Doctor", "tier": 1, "assignee_policy": "clinician"},
            {"name": "Dept", "offset_days": 4, "due_days": 4, "assignee_policy": "department"},
            {"name": "Centre", "offset_days": 5, "due_days": 5, "assignee_policy": "centre"},
            {"name": "RR", "offset_days": 6, "due_days": 6, "assignee_policy": "round_robin"},
        ]
    )
    encounter = EncounterFactory(department=surgery, attending=doctor)
    by_step = {t.step.name: t for t in plan(encounter)}
    assert (by_step["Doctor"].assignee, by_step["Doctor"].tier) == (doctor, 1)
    assert (by_step["Dept"].assignee, by_step["Dept"].department) == (None, surgery)
    assert (by_step["Centre"].assignee, by_step["Centre"].department) == (None, None)
    assert by_step["RR"].assignee_id == all_agents[encounter.pk % len(all_agents)]
    # Without an attending clinician, tier 1 falls to the department's queue.
    orphan = {t.step.name: t for t in plan(EncounterFactory(department=surgery))}
    assert (orphan["Doctor"].assignee, orphan["Doctor"].department) == (None, surgery)


@pytest.mark.now("2026-11-20 12:00")
def test_a_corrected_encounter_replans_its_open_tasks(alpha):
    RuleFactory(name="Discharge")
    RuleFactory(name="Surgery", match_kinds=["surgery"], steps=[{"offset_days": 1, "due_days": 2}])
    encounter = EncounterFactory(occurred_at=datetime(2026, 11, 20, 10, tzinfo=SHANGHAI))
    [task] = plan(encounter)

    encounter.occurred_at = datetime(2026, 11, 21, 10, tzinfo=SHANGHAI)
    encounter.save()
    [moved] = plan(encounter)
    assert moved.pk == task.pk
    assert moved.opens_at == datetime(2026, 11, 24, tzinfo=SHANGHAI)

    encounter.kind = "surgery"
    encounter.save()
    tasks = {t.rule.name: t for t in plan(encounter)}
    assert (tasks["Discharge"].status, tasks["Discharge"].reason) == (
        Status.CANCELLED,
        Reason.NO_LONGER_MATCHES,
    )
    assert tasks["Surgery"].status == Status.PENDING


def test_a_phone_added_later_reopens_a_task_closed_for_want_of_one(alpha):
    RuleFactory()
    encounter = EncounterFactory(contact=ContactFactory(phone=""))
    [task] = plan(encounter)
    assert (task.status, task.reason) == (Status.UNREACHABLE, Reason.NO_CONTACT)
    encounter.contact.phones.create(number="+8613800138000")
    [task] = plan(encounter)
    assert (task.status, task.reason, task.completed_at) == (Status.PENDING, "", None)


def test_a_worked_task_is_history_even_when_the_phone_goes_missing(alpha):
    RuleFactory()
    encounter = EncounterFactory()
    [task] = plan(encounter)
    FollowUpTask.objects.filter(pk=task.pk).update(
        status=Status.UNREACHABLE, reason=Reason.OUTCOME_TERMINAL, attempts_count=1
    )
    encounter.contact.phones.update(invalid=True)
    [task] = plan(encounter)
    assert (task.status, task.reason) == (Status.UNREACHABLE, Reason.OUTCOME_TERMINAL)


@pytest.mark.now("2026-03-01 10:00")
def test_replanning_leaves_finished_tasks_alone_and_adds_no_late_work(alpha):
    rule = RuleFactory()
    encounter = EncounterFactory(occurred_at=datetime(2026, 1, 1, 10, tzinfo=SHANGHAI))
    [task] = plan(encounter)
    FollowUpTask.objects.filter(pk=task.pk).update(status=Status.COMPLETED)
    RuleStep.objects.create(rule=rule, name="Day 5", offset_days=5, due_days=5)
    tasks = plan(encounter)
    # The new step's window closed long ago: not added to an encounter already planned.
    assert [(t.pk, t.status) for t in tasks] == [(task.pk, Status.COMPLETED)]


@pytest.mark.now("2026-03-01 10:00")
def test_history_is_planned_for_a_new_encounter_even_if_late(alpha):
    """A discharge imported late still counts: its task exists (and the tick closes it)."""
    RuleFactory()
    [task] = plan(EncounterFactory(occurred_at=datetime(2026, 1, 1, 10, tzinfo=SHANGHAI)))
    assert task.status == Status.PENDING


def test_tenant_b_rules_do_not_plan_tenant_a_encounters(tenant_a, tenant_b, in_tenant):
    with in_tenant(tenant_b):
        RuleFactory(name="Beta only", match_kinds=[])
    with in_tenant(tenant_a):
        FollowUpRule.objects.update(active=False)
        assert plan(EncounterFactory()) == []


def test_replanning_an_unchanged_encounter_reports_no_change(alpha):
    RuleFactory(exclude_tags=["x"], steps=[{}, {"name": "D9", "offset_days": 9, "due_days": 9}])
    excluded, planned = EncounterFactory(tags=["x"]), EncounterFactory()
    first = encounters_plan([excluded.pk, planned.pk])
    assert (first.created, first.updated) == (4, 0)
    again = encounters_plan([excluded.pk, planned.pk])
    assert (again.created, again.updated) == (0, 0)


@pytest.mark.parametrize("kind", ["hospital", "aesthetic", "dental", "service"])
def test_the_presets_of_every_kind_are_valid_rules(kind):
    """Every preset rule would pass the rule form's checks: valid steps, no overlap."""
    from crm.presets import DEPARTMENTS, RULES
    from crm.services.rules import steps_overlap

    assert RULES[kind]
    for preset in RULES[kind]:
        steps = []
        for spec in preset["steps"]:
            team = spec.get("team")
            step = RuleStep(**{**spec, "name": spec["name"][1], "team": None})
            step.clean_fields(exclude=["rule", "team"])
            if team:  # a code of the kind's preset departments, resolved when seeded
                assert team in {code for code, _zh, _en in DEPARTMENTS[kind]}
                step.team_id = 1
            step.clean()
            steps.append(step)
        assert steps_overlap(steps) is None, preset["name"]
        FollowUpRule(
            **{k: v for k, v in preset.items() if k not in ("steps", "name")}, name="x"
        ).clean_fields()


def test_an_imported_death_flags_the_contact_and_cancels_everything_open(alpha):
    from crm.services.planning import encounter_cascade

    RuleFactory(match_kinds=[])
    earlier = EncounterFactory(kind="outpatient", occurred_at=timezone.now() - timedelta(days=5))
    encounters_plan([earlier.pk])
    death = EncounterFactory(contact=earlier.contact, discharge_outcome="died")
    assert encounter_cascade(death) == 1
    earlier.contact.refresh_from_db()
    assert earlier.contact.deceased
    assert earlier.tasks.get().reason == Reason.DECEASED


def test_a_readmission_cancels_the_open_follow_ups_of_the_earlier_stay(alpha):
    from crm.services.planning import encounter_cascade

    RuleFactory()
    first = EncounterFactory(occurred_at=timezone.now() - timedelta(days=5))
    encounters_plan([first.pk])
    second = EncounterFactory(contact=first.contact, occurred_at=timezone.now())
    assert encounter_cascade(second) == 1
    encounters_plan([second.pk])
    assert first.tasks.get().reason == Reason.READMITTED
    assert second.tasks.get().status == Status.PENDING
    # Correcting the earlier stay later does not cancel the newer one's follow-ups.
    assert encounter_cascade(first) == 0


def test_planning_later_is_split_into_worker_sized_tasks(
    alpha, monkeypatch, django_capture_on_commit_callbacks
):
    from crm.services.planning import encounters_plan_later

    monkeypatch.setattr("crm.services.planning.PLAN_TASK_CHUNK", 2)
    RuleFactory()
    encounters = [EncounterFactory() for _ in range(5)]
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        encounters_plan_later([e.pk for e in encounters])
    assert len(callbacks) == 3  # 2 + 2 + 1, each a Celery task
    assert FollowUpTask.objects.filter(encounter__in=encounters).count() == 5

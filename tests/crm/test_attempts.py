"""Working a task: claims, every outcome category, tier-3 spot checks and the periodic tick."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone, translation

from crm.models import (
    AuditEntry,
    CallAttempt,
    FollowUpRule,
    FollowUpTask,
    OutcomeCategory,
    OutcomeCode,
)
from crm.services.followup import (
    AttemptInput,
    attempt_log,
    followup_tick,
    phone_reveal,
    spot_check_draw,
    task_claim,
)
from crm.services.planning import encounters_plan
from crm.services.spot_checks import spot_check_sampled
from tests.factories import ContactFactory, EncounterFactory, RuleFactory, StaffFactory

SHANGHAI = ZoneInfo("Asia/Shanghai")
Status = FollowUpTask.Status
Reason = FollowUpTask.Reason
# Monday 2026-11-23, 10:00 in Shanghai: inside the default calling hours.
NOW = datetime(2026, 11, 23, 10, tzinfo=SHANGHAI)


@pytest.fixture
def alpha(tenant_a, in_tenant):
    with in_tenant(tenant_a):
        FollowUpRule.objects.update(active=False)
        yield tenant_a


@pytest.fixture
def agent(alpha):
    return StaffFactory(role="agent")


def new_task(**step) -> FollowUpTask:
    """An open task of a fresh encounter, window day 3–7 around NOW, from a rule of its own."""
    FollowUpRule.objects.update(active=False)
    RuleFactory(steps=[{"offset_days": 3, "due_days": 7, **step}])
    encounter = EncounterFactory(occurred_at=NOW - timedelta(days=4))
    encounters_plan([encounter.pk], now=NOW)
    return FollowUpTask.objects.get(encounter=encounter)


def code(category: str) -> OutcomeCode:
    return OutcomeCode.objects.filter(category=category).first()


def log(task, agent, category, at=NOW, **extra):
    return attempt_log(task, agent, AttemptInput(outcome=code(category), **extra), now=at)


def test_reached_completes_in_the_window(alpha, agent):
    task = new_task()
    attempt = log(task, agent, "reached", notes="恢复良好")
    task.refresh_from_db()
    assert (task.status, task.attempts_count, task.last_outcome) == (Status.COMPLETED, 1, "reached")
    assert task.reached_in_window is True
    assert task.result_summary == "恢复良好"
    assert attempt.category == "reached" and attempt.agent == agent


def test_reached_after_the_due_day_is_not_timely(alpha, agent):
    task = new_task()
    log(task, agent, "reached", at=task.due_at + timedelta(hours=1))
    task.refresh_from_db()
    assert (task.status, task.reached_in_window) == (Status.COMPLETED, False)


@pytest.mark.parametrize(
    "category", ["no_answer", "busy", "powered_off", "suspended", "hung_up_suspected_fraud"]
)
def test_retryable_outcomes_retry_after_the_gap_then_give_up(alpha, agent, category):
    task = new_task(max_attempts=2, retry_gap_hours=4)
    log(task, agent, category)
    task.refresh_from_db()
    assert task.status == Status.PENDING
    assert task.next_attempt_at == NOW + timedelta(hours=4)  # 14:00, inside calling hours
    log(task, agent, category, at=NOW + timedelta(hours=4))
    task.refresh_from_db()
    assert (task.status, task.reason) == (Status.UNREACHABLE, Reason.ATTEMPTS_EXHAUSTED)
    assert task.attempts_count == 2


def test_a_retry_outside_calling_hours_moves_to_the_next_opening(alpha, agent):
    task = new_task(retry_gap_hours=8)  # 10:00 + 8 h = 18:00, after 17:30
    log(task, agent, "no_answer")
    task.refresh_from_db()
    assert task.next_attempt_at == datetime(2026, 11, 24, 8, tzinfo=SHANGHAI)


def test_a_requested_callback_time_is_kept(alpha, agent):
    task = new_task()
    callback = datetime(2026, 11, 23, 16, tzinfo=SHANGHAI)
    log(task, agent, "busy", callback_at=callback)
    task.refresh_from_db()
    assert task.next_attempt_at == callback


@pytest.mark.parametrize(
    "category", ["refused", "language_barrier", "hearing_impaired", "transferred_elsewhere"]
)
def test_terminal_outcomes_close_the_task_unreachable(alpha, agent, category):
    task = new_task()
    log(task, agent, category)
    task.refresh_from_db()
    assert (task.status, task.reason, task.last_outcome) == (
        Status.UNREACHABLE,
        Reason.OUTCOME_TERMINAL,
        category,
    )
    assert task.contact.reachable


def test_wrong_number_flags_the_number_and_tries_the_next(alpha, agent):
    task = new_task()
    first = task.contact.phones.get()
    second = task.contact.phones.create(number="+8613900139000", position=1)
    log(task, agent, "wrong_number", phone=first)
    task.refresh_from_db()
    first.refresh_from_db()
    assert first.invalid and task.status == Status.PENDING

    log(task, agent, "wrong_number", phone=second)
    task.refresh_from_db()
    assert (task.status, task.reason) == (Status.UNREACHABLE, Reason.OUTCOME_TERMINAL)
    assert not task.contact.phones.filter(invalid=False).exists()


def test_deceased_flags_the_contact_and_cancels_all_their_open_tasks(alpha, agent):
    task = new_task()
    other = EncounterFactory(contact=task.contact, kind="discharge")
    encounters_plan([other.pk], now=NOW)
    log(task, agent, "deceased")
    task.refresh_from_db()
    assert (task.status, task.last_outcome) == (Status.UNREACHABLE, "deceased")
    assert task.contact.deceased
    cancelled = FollowUpTask.objects.get(encounter=other)
    assert (cancelled.status, cancelled.reason) == (Status.CANCELLED, Reason.DECEASED)


def test_opted_out_sets_do_not_contact_and_cancels(alpha, agent):
    task = new_task()
    other = EncounterFactory(contact=task.contact)
    encounters_plan([other.pk], now=NOW)
    log(task, agent, "opted_out", notes="不需要回访")
    task.contact.refresh_from_db()
    assert task.contact.do_not_contact
    assert task.contact.do_not_contact_reason == "不需要回访"
    assert FollowUpTask.objects.get(encounter=other).reason == Reason.DO_NOT_CONTACT
    # A new encounter of this contact is excluded from the start.
    later = EncounterFactory(contact=task.contact)
    encounters_plan([later.pk], now=NOW)
    assert FollowUpTask.objects.get(encounter=later).status == Status.EXCLUDED


def test_readmitted_cancels_the_contacts_open_tasks(alpha, agent):
    task = new_task()
    other = EncounterFactory(contact=task.contact)
    encounters_plan([other.pk], now=NOW)
    log(task, agent, "readmitted")
    task.refresh_from_db()
    assert (task.status, task.reason) == (Status.CANCELLED, Reason.READMITTED)
    assert FollowUpTask.objects.get(encounter=other).reason == Reason.READMITTED


def test_every_category_is_handled(alpha, agent):
    """No category falls through: each one closes, completes or schedules the task."""
    for category in OutcomeCategory.values:
        task = new_task()
        log(task, agent, category)
        task.refresh_from_db()
        assert task.status != Status.IN_PROGRESS, category
        assert task.status != Status.PENDING or task.next_attempt_at, category


def test_recovered_stops_a_repeating_step(alpha, agent):
    RuleFactory(
        steps=[
            {"name": "First", "offset_days": 0, "due_days": 7},
            {
                "name": "Monthly",
                "offset_days": 30,
                "due_days": 33,
                "repeat_every_days": 30,
                "repeat_limit": 5,
                "stop_when": "recovered",
            },
        ]
    )
    encounter = EncounterFactory(occurred_at=NOW - timedelta(days=1))
    encounters_plan([encounter.pk], now=NOW)
    first = FollowUpTask.objects.get(encounter=encounter, step__name="First")
    log(first, agent, "reached", recovered=True)
    monthly = FollowUpTask.objects.filter(encounter=encounter, step__name="Monthly")
    assert set(monthly.values_list("status", "reason")) == {(Status.CANCELLED, Reason.RECOVERED)}
    encounter.refresh_from_db()
    assert encounter.recovered_at == NOW


def test_two_agents_cannot_hold_the_same_task(alpha, agent):
    task = new_task()
    other = StaffFactory(role="agent")
    agent.first_name, agent.last_name = "王", "芳"
    agent.save()
    task_claim(task, agent, now=NOW)
    with pytest.raises(ValidationError) as refused:
        task_claim(task, other, now=NOW + timedelta(minutes=5))
    assert "王 芳" in refused.value.messages[0]
    with pytest.raises(ValidationError):
        log(task, other, "reached", at=NOW + timedelta(minutes=5))
    assert not CallAttempt.objects.filter(task=task).exists()
    # The claim expires: the other agent may take over.
    task_claim(task, other, now=NOW + timedelta(minutes=16))
    log(task, other, "reached", at=NOW + timedelta(minutes=17))


def test_an_attempt_on_a_closed_task_is_refused_and_changes_nothing(alpha, agent):
    task = new_task()
    log(task, agent, "reached")
    with translation.override("en"), pytest.raises(ValidationError) as refused:
        log(task, agent, "no_answer")
    assert refused.value.messages == ["This follow-up is already closed (Completed)."]
    task.refresh_from_db()
    assert (task.status, task.attempts_count) == (Status.COMPLETED, 1)
    assert CallAttempt.objects.filter(task=task).count() == 1


def test_phone_reveal_is_audit_logged(alpha, agent):
    task = new_task()
    phone = task.contact.phones.get()
    assert phone_reveal(task, agent, phone) == phone.number
    entry = AuditEntry.objects.get(action="phone_revealed")
    assert (entry.actor, entry.action, entry.contact_id) == (
        agent,
        "phone_revealed",
        task.contact_id,
    )


def test_spot_checks_sample_reproducibly_about_the_configured_share():
    sampled = [spot_check_sampled(task_id, 10) for task_id in range(1, 10_001)]
    assert sampled == [spot_check_sampled(task_id, 10) for task_id in range(1, 10_001)]
    assert 900 <= sum(sampled) <= 1100
    assert not any(spot_check_sampled(t, 0) for t in range(1, 1000))
    assert all(spot_check_sampled(t, 100) for t in range(1, 1000))


def test_a_sampled_completed_centre_task_gets_a_tier_3_spot_check(alpha, agent):
    alpha.spot_check_percent = 100
    supervisor = StaffFactory(role="supervisor")
    task = new_task()
    log(task, agent, "reached")
    spot = FollowUpTask.objects.get(spot_check_of=task)
    assert (spot.tier, spot.status, spot.contact_id) == (3, Status.PENDING, task.contact_id)
    task.refresh_from_db()
    assert spot_check_draw(task) == spot  # drawn once
    with pytest.raises(ValidationError):
        log(spot, supervisor, "reached")  # the audit result is required
    log(spot, supervisor, "reached", audit_agrees=False, notes="患者称未接到回访")
    spot.refresh_from_db()
    assert (spot.status, spot.audit_agrees) == (Status.COMPLETED, False)


def test_tier_1_tasks_are_not_spot_checked(alpha, agent):
    alpha.spot_check_percent = 100
    task = new_task(tier=1, assignee_policy="clinician")
    log(task, agent, "reached")
    assert not FollowUpTask.objects.filter(spot_check_of=task).exists()


def test_tick_closes_windows_releases_claims_and_moves_overdue_tier_1(alpha, agent):
    expired = new_task()
    held = new_task()
    overdue_tier_1 = new_task(tier=1, assignee_policy="clinician")
    task_claim(held, agent, now=NOW)
    later = expired.closes_at + timedelta(minutes=1)
    FollowUpTask.objects.filter(pk=overdue_tier_1.pk).update(closes_at=later + timedelta(days=9))
    FollowUpTask.objects.filter(pk=held.pk).update(closes_at=later + timedelta(days=9))

    result = followup_tick(now=later)

    expired.refresh_from_db()
    held.refresh_from_db()
    overdue_tier_1.refresh_from_db()
    assert (expired.status, expired.reason) == (Status.UNREACHABLE, Reason.WINDOW_CLOSED)
    assert (held.status, held.claimed_by) == (Status.PENDING, None)
    assert (overdue_tier_1.tier, overdue_tier_1.escalated_at) == (2, later)
    assert (result.closed, result.released, result.escalated) == (1, 1, 1)
    assert followup_tick(now=later) == type(result)(0, 0, 0)  # nothing left to do


def test_tick_runs_in_one_tenant_only(tenant_a, tenant_b, in_tenant):
    with in_tenant(tenant_b):
        RuleFactory(match_kinds=[])
        encounter = EncounterFactory(contact=ContactFactory(), occurred_at=NOW - timedelta(days=60))
        encounters_plan([encounter.pk], now=NOW - timedelta(days=60))
        task = FollowUpTask.objects.get(encounter=encounter)
    with in_tenant(tenant_a):
        followup_tick(now=timezone.now())
    with in_tenant(tenant_b):
        task.refresh_from_db()
        assert task.status == Status.PENDING


def test_the_beat_fan_out_ticks_every_tenant_but_suspended_ones(
    tenant_a, tenant_b, in_tenant, django_capture_on_commit_callbacks
):
    from django.db import connection

    from crm.tasks import followup_fanout_task

    def expired_task(tenant):
        with in_tenant(tenant):
            FollowUpRule.objects.update(active=False)
            RuleFactory(match_kinds=[])
            encounter = EncounterFactory(occurred_at=timezone.now() - timedelta(days=60))
            encounters_plan([encounter.pk], now=timezone.now() - timedelta(days=60))
            return FollowUpTask.objects.get(encounter=encounter)

    task_a, task_b = expired_task(tenant_a), expired_task(tenant_b)
    connection.set_schema_to_public()
    tenant_b.status = "suspended"
    tenant_b.save()

    assert followup_fanout_task.delay().get() >= 1

    with in_tenant(tenant_a):
        task_a.refresh_from_db()
        assert (task_a.status, task_a.reason) == (Status.UNREACHABLE, Reason.WINDOW_CLOSED)
    with in_tenant(tenant_b):
        task_b.refresh_from_db()
        assert task_b.status == Status.PENDING


def test_a_rules_calling_hours_override_applies_to_retries(alpha, agent):
    task = new_task(retry_gap_hours=4)
    FollowUpRule.objects.filter(pk=task.rule_id).update(calling_hours=[["18:00", "20:30"]])
    log(task, agent, "no_answer")  # at 10:00; 14:00 is outside the rule's evening hours
    task.refresh_from_db()
    assert task.next_attempt_at == datetime(2026, 11, 23, 18, tzinfo=SHANGHAI)

"""Tier-3 spot checks: the stratified, reproducible sample and the discrepancy score per agent
on the supervisor's worklist tab, with the audits behind each figure."""

import random
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crm.models import Department, FollowUpRule, FollowUpTask, OutcomeCode
from crm.reporting.figures.spot_checks import spot_check_figures, spot_check_scores
from crm.reporting.period import Period, Scope
from crm.services.followup import AttemptInput, attempt_log, followup_tick
from crm.services.planning import encounters_plan
from crm.services.spot_checks import (
    ReachedCall,
    reached_calls,
    spot_check_create,
    spot_check_sample,
    spot_check_share,
    spot_checks_draw_stratified,
)
from tests.clock import at
from tests.conftest import login
from tests.crm.conftest import in_english
from tests.factories import ContactFactory, EncounterFactory, RuleFactory, StaffFactory

pytestmark = pytest.mark.now("2026-11-23 10:00")  # a Monday: last week is 16–22 November
LAST_WEEK = Period.of("week", at("2026-11-18 10:00").date())
NOVEMBER = Period.of("month", at("2026-11-18 10:00").date())


def _reached(agent, department, count, *, day="2026-11-18 10:00"):
    """`count` centre follow-ups of the department, reached by the agent on that day."""
    when = at(day)
    encounters = [
        EncounterFactory(
            occurred_at=when - timedelta(days=4), department=department, contact=ContactFactory()
        )
        for _ in range(count)
    ]
    encounters_plan([e.pk for e in encounters], now=when)
    reached = OutcomeCode.objects.filter(category="reached").first()
    tasks = list(FollowUpTask.objects.filter(encounter__in=encounters, tier=2))
    for task in tasks:
        attempt_log(task, agent, AttemptInput(outcome=reached, notes="恢复良好"), now=when)
    return tasks


def _audit(task, supervisor, *, agrees, day="2026-11-20 10:00"):
    spot = spot_check_create(task, now=at(day))
    reached = OutcomeCode.objects.filter(category="reached").first()
    finding = "与原记录一致" if agrees else "患者称未接到回访"
    attempt_log(
        spot,
        supervisor,
        AttemptInput(outcome=reached, audit_agrees=agrees, notes=finding),
        now=at(day),
    )
    return spot


@pytest.fixture
def alpha(tenant_a, in_tenant):
    with in_tenant(tenant_a):
        FollowUpRule.objects.update(active=False)
        RuleFactory(steps=[{"offset_days": 3, "due_days": 7}])
        tenant_a.spot_check_percent = 10
        yield tenant_a


@pytest.fixture
def wards(alpha):
    return (
        Department.objects.create(name="骨科 A", code="ortho-a"),
        Department.objects.create(name="眼科 B", code="eye-b"),
    )


# --- The sample ---------------------------------------------------------------------------


def test_every_agent_and_department_gets_its_share_rounded_up():
    # One busy agent in one ward, two agents with one call each, one of them in a small ward.
    calls = [ReachedCall(task_id, 1, 10) for task_id in range(1, 41)]
    calls += [ReachedCall(41, 2, 10), ReachedCall(42, 3, 20)]
    sample = spot_check_sample(calls, percent=10)
    for stratum in (lambda c: ("agent", c.agent_id), lambda c: ("department", c.department_id)):
        groups = {}
        for call in calls:
            groups.setdefault(stratum(call), []).append(call.task_id)
        for task_ids in groups.values():
            assert len(sample & set(task_ids)) >= spot_check_share(len(task_ids), 10)
    assert {41, 42} <= sample  # one call each: 10 % of one call is one re-call
    assert spot_check_share(40, 10) == 4 and spot_check_share(41, 10) == 5


def test_the_sample_is_reproducible_and_independent_of_order():
    calls = [ReachedCall(task_id, task_id % 7, task_id % 5) for task_id in range(1, 501)]
    shuffled = calls[:]
    random.Random(4).shuffle(shuffled)
    sample = spot_check_sample(calls, percent=10)
    assert sample == spot_check_sample(shuffled, percent=10)
    assert sample == spot_check_sample(calls, percent=10, seed="spot-check")
    assert sample != spot_check_sample(calls, percent=10, seed="another clinic's seed")
    assert spot_check_sample(calls, percent=0) == set()
    assert spot_check_sample(calls, percent=100) == {c.task_id for c in calls}


def test_the_weekly_draw_tops_up_small_strata_once(alpha, wards):
    busy, new = StaffFactory(role="agent"), StaffFactory(role="agent")
    _reached(busy, wards[0], 20)
    (lonely,) = _reached(new, wards[1], 1)
    drawn_per_call = FollowUpTask.objects.filter(tier=3).count()

    added = spot_checks_draw_stratified(period=LAST_WEEK, now=at("2026-11-23 10:00"))

    assert FollowUpTask.objects.filter(tier=3).count() == drawn_per_call + added
    assert FollowUpTask.objects.filter(spot_check_of=lonely, tier=3).exists()
    audited = FollowUpTask.objects.filter(tier=3)
    assert audited.filter(spot_check_of__attempts__agent=busy).distinct().count() >= 2
    assert audited.filter(encounter__department=wards[1]).count() == 1
    assert spot_checks_draw_stratified(period=LAST_WEEK, now=at("2026-11-23 11:00")) == 0


def test_the_same_data_gives_the_same_sample(alpha, wards):
    agent = StaffFactory(role="agent")
    _reached(agent, wards[0], 12)
    calls = [call for call, _drawn in reached_calls(LAST_WEEK)]
    spot_checks_draw_stratified(period=LAST_WEEK, now=at("2026-11-23 10:00"))
    drawn = set(FollowUpTask.objects.filter(tier=3).values_list("spot_check_of_id", flat=True))
    assert drawn == spot_check_sample(calls, percent=10)


def test_the_tick_draws_last_week_once(alpha, wards, clock):
    agent = StaffFactory(role="agent")
    (task,) = _reached(agent, wards[1], 1)
    FollowUpTask.objects.filter(spot_check_of=task).delete()  # as if the per-call draw missed

    first = followup_tick(now=at("2026-11-23 10:00"))
    again = followup_tick(now=at("2026-11-23 10:05"))

    assert (first.spot_checks_drawn, again.spot_checks_drawn) == (1, 0)
    assert FollowUpTask.objects.filter(spot_check_of=task, tier=3).count() == 1


def test_no_draw_when_the_clinic_samples_nothing(alpha, wards):
    alpha.spot_check_percent = 0
    _reached(StaffFactory(role="agent"), wards[0], 3)
    assert spot_checks_draw_stratified(period=LAST_WEEK, now=at("2026-11-23 10:00")) == 0
    assert not FollowUpTask.objects.filter(tier=3).exists()


# --- The discrepancy score ----------------------------------------------------------------


@pytest.fixture
def audited(alpha, wards):
    """Agent 王 had three calls re-called (one discrepancy), agent 李 one (a discrepancy)."""
    alpha.spot_check_percent = 0  # only the audits made here
    wang = StaffFactory(role="agent", first_name="芳", last_name="王", email="wang@alpha.test")
    li = StaffFactory(role="agent", first_name="强", last_name="李", email="li@alpha.test")
    supervisor = StaffFactory(role="supervisor", email="lead@alpha.test")
    wang_calls = _reached(wang, wards[0], 3)
    (li_call,) = _reached(li, wards[1], 1)
    _audit(wang_calls[0], supervisor, agrees=True)
    _audit(wang_calls[1], supervisor, agrees=True)
    _audit(wang_calls[2], supervisor, agrees=False)
    _audit(li_call, supervisor, agrees=False)
    return {"wang": wang, "li": li, "supervisor": supervisor}


def test_the_score_is_the_share_of_checked_calls_with_a_discrepancy(
    audited, django_assert_num_queries
):
    with django_assert_num_queries(2):
        scores = spot_check_scores(NOVEMBER)
    assert [(s.agent_id, s.checked, s.discrepancies, str(s.score)) for s in scores] == [
        (audited["li"].pk, 1, 1, "100.00"),
        (audited["wang"].pk, 3, 1, "33.33"),
    ]
    assert spot_check_scores(Period.of("month", at("2026-10-01 10:00").date())) == []


def test_the_report_and_the_score_count_an_audit_for_the_agent_who_reached_the_patient(
    alpha, wards
):
    """A failed try by 张 then the reaching call by 赵: the re-call checks 赵's record, so the
    audit is 赵's in both the report's per-agent agreement and the discrepancy score."""
    alpha.spot_check_percent = 0
    zhang = StaffFactory(role="agent", email="zhang@alpha.test")
    zhao = StaffFactory(role="agent", email="zhao@alpha.test")
    supervisor = StaffFactory(role="supervisor", email="lead@alpha.test")
    encounter = EncounterFactory(
        occurred_at=at("2026-11-14 10:00"), department=wards[0], contact=ContactFactory()
    )
    encounters_plan([encounter.pk], now=at("2026-11-18 09:00"))
    task = FollowUpTask.objects.get(encounter=encounter, tier=2)
    no_answer = OutcomeCode.objects.filter(category="no_answer").first()
    reached = OutcomeCode.objects.filter(category="reached").first()
    attempt_log(task, zhang, AttemptInput(outcome=no_answer), now=at("2026-11-18 09:30"))
    attempt_log(task, zhao, AttemptInput(outcome=reached), now=at("2026-11-18 15:00"))
    _audit(task, supervisor, agrees=False)

    assert spot_check_figures(NOVEMBER, Scope(agent=zhang.pk)) == {
        "audits": 0,
        "agree": 0,
        "rate": None,
    }
    zhao_figures = spot_check_figures(NOVEMBER, Scope(agent=zhao.pk))
    assert (zhao_figures["audits"], zhao_figures["agree"]) == (1, 0)
    assert [(s.agent_id, s.checked, s.discrepancies) for s in spot_check_scores(NOVEMBER)] == [
        (zhao.pk, 1, 1)
    ]


@pytest.fixture
def supervisor_a(client_a, audited):
    connection.set_schema_to_public()
    login(client_a, "lead@alpha.test")
    return client_a


def test_the_supervisor_sees_the_score_in_english(supervisor_a, audited):
    page = in_english(supervisor_a).get("/worklist/?scope=spot_checks")
    html = page.content.decode()
    assert page.status_code == 200
    assert "Discrepancy score per agent" in html
    rows = [
        (s.name, s.checked, s.discrepancies, s.score) for s in page.context["spot_checks"]["scores"]
    ]
    assert [(r[1], r[2], str(r[3])) for r in rows] == [(1, 1, "100.00"), (3, 1, "33.33")]
    assert "33.33 %" in html and "100.00 %" in html
    wang = audited["wang"].pk
    assert f'/spot-checks/agents/{wang}/?month=2026-11&amp;only=discrepancies"' in html


def test_the_supervisor_sees_the_score_in_chinese(supervisor_a):
    html = supervisor_a.get("/worklist/?scope=spot_checks").content.decode()
    assert "各回访专员差异率" in html
    assert "差异率" in html and "33.33 %" in html


def test_the_lists_behind_the_figures(supervisor_a, audited):
    wang = f"/spot-checks/agents/{audited['wang'].pk}/?month=2026-11"
    with CaptureQueriesContext(connection) as three_rows:
        everything = in_english(supervisor_a).get(wang)
    with CaptureQueriesContext(connection) as one_row:
        only = supervisor_a.get(wang + "&only=discrepancies")
    assert len(everything.context["audits"]) == 3
    assert [a.result_summary for a in only.context["audits"]] == ["患者称未接到回访"]
    assert "Agrees" in everything.content.decode()
    # One query for the rows whatever their number: no query per audit.
    assert len(three_rows) == len(one_row)


def test_a_month_that_does_not_parse_says_so_and_shows_this_month(supervisor_a):
    page = in_english(supervisor_a).get("/worklist/?scope=spot_checks&month=2026-13")
    assert page.context["spot_checks"]["month"] == "2026-11"
    assert page.context["spot_checks"]["month_error"] == "Choose a month as YYYY-MM, e.g. 2026-11."
    assert "Choose a month as YYYY-MM" in page.content.decode()
    assert len(page.context["spot_checks"]["scores"]) == 2  # the month's figures, still there


def test_agents_cannot_see_the_scores_or_the_lists(client_a, audited):
    connection.set_schema_to_public()
    login(client_a, "wang@alpha.test")
    worklist = client_a.get("/worklist/?scope=spot_checks")
    assert worklist.context["spot_checks"] is None
    assert "Discrepancy score" not in worklist.content.decode()
    assert client_a.get(f"/spot-checks/agents/{audited['wang'].pk}/").status_code == 403


def test_another_clinic_sees_none_of_it(client_b, tenant_b, in_tenant, audited):
    connection.set_schema_to_public()
    with in_tenant(tenant_b):
        StaffFactory(role="supervisor", email="lead@beta.test")
        assert spot_check_scores(NOVEMBER) == []
    login(client_b, "lead@beta.test")
    page = client_b.get("/worklist/?scope=spot_checks&month=2026-11")
    assert page.context["spot_checks"]["scores"] == []
    listing = client_b.get(f"/spot-checks/agents/{audited['wang'].pk}/?month=2026-11")
    assert listing.status_code == 404 or list(listing.context["audits"]) == []
    assert "患者称未接到回访" not in listing.content.decode()

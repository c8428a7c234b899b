"""The home page of each role ("what needs me now"), the set-up problems and the new clinic's
checklist: figures counted exactly, each linking to the list behind it, at a bounded number
of queries, and never another clinic's."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import connection

from crm.models import (
    CallAttempt,
    Complaint,
    Department,
    FollowUpRule,
    FollowUpTask,
    Onboarding,
    OutcomeCode,
)
from crm.selectors_home import QueueCounts, onboarding_checklist
from crm.services.feedback import complaint_open
from crm.services.followup import AttemptInput, attempt_log
from crm.services.planning import encounters_plan
from crm.services.staff import department_save, staff_invite
from tests.billing.test_entitlements import limit_plan
from tests.clock import at, utc
from tests.conftest import SUITE_NOW, login
from tests.crm.conftest import in_english
from tests.factories import EncounterFactory, RuleFactory, StaffFactory

NOW = at("2026-11-20 10:00")  # a Friday, inside the default calling hours
pytestmark = pytest.mark.now("2026-11-20 10:00")


def _code(category):
    return OutcomeCode.objects.filter(category=category).first()


@pytest.fixture
def world(tenant_a, in_tenant, agent_a):
    """Four orthopaedics discharges of this month on one centre rule: t0 called back at 15:00
    today (not due), t1 overdue, t2 reached today, t3 a spot check waiting; one complaint due
    tomorrow and one due in a week."""
    connection.set_schema_to_public()
    tenant_a.spot_check_percent = 0  # no spot check drawn by chance on t2
    tenant_a.save()
    with in_tenant(tenant_a):
        FollowUpRule.objects.update(active=False)
        RuleFactory(steps=[{"offset_days": 0, "due_days": 2}])
        ortho = Department.objects.get(code="orthopaedics")
        encounters = [
            EncounterFactory(department=ortho, occurred_at=NOW - timedelta(days=days))
            for days in (1, 5, 1, 1)
        ]
        encounters_plan([e.pk for e in encounters], now=NOW)
        tasks = [FollowUpTask.objects.get(encounter=e) for e in encounters]
        attempt_log(
            tasks[0],
            agent_a,
            AttemptInput(outcome=_code("no_answer"), callback_at=at("2026-11-20 15:00")),
            now=NOW - timedelta(minutes=30),
        )
        attempt_log(tasks[2], agent_a, AttemptInput(outcome=_code("reached")), now=NOW)
        FollowUpTask.objects.filter(pk=tasks[3].pk).update(tier=3)
        complaint_open(summary="态度", source="call", category="attitude", now=NOW)
        near = complaint_open(summary="费用", source="call", category="fees", now=NOW)
        # Due tomorrow, whatever the clinic's working-day clock made of it.
        Complaint.objects.filter(pk=near.pk).update(deadline=NOW + timedelta(days=1))
        return {"tasks": tasks, "ortho": ortho, "near": near}


@pytest.fixture
def supervisor_client_a(client_a, tenant_a, in_tenant):
    with in_tenant(tenant_a):
        StaffFactory(email="lead@alpha.test", role="supervisor")
    login(client_a, "lead@alpha.test")
    return client_a


def test_an_agent_sees_their_calls_each_linked_to_its_list(agent_client_a, world):
    response = agent_client_a.get("/")

    mine = response.context["home"]["mine"]
    assert mine["queue"] == QueueCounts(due=1, overdue=1)
    assert mine["callbacks"] == 1
    assert (mine["reach"].attempts, mine["reach"].reached, mine["reach"].rate) == (
        2,
        1,
        Decimal("50.00"),
    )
    assert "team" not in response.context["home"] and "setup" not in response.context["home"]
    # Each figure opens the list it counted.
    tasks = world["tasks"]
    due = agent_client_a.get("/worklist/?scope=centre").context["rows"]
    assert [row["task"].pk for row in due] == [tasks[1].pk]
    overdue = agent_client_a.get("/worklist/?scope=centre&when=overdue").context["rows"]
    assert [row["task"].pk for row in overdue] == [tasks[1].pk]
    callbacks = agent_client_a.get("/worklist/?scope=all&when=callbacks_today").context["rows"]
    assert [row["task"].pk for row in callbacks] == [tasks[0].pk]
    calls = agent_client_a.get("/worklist/today/")
    assert [a.task_id for a in calls.context["attempts"]] == [tasks[2].pk, tasks[0].pk]
    page = response.content.decode()
    assert 'href="/worklist/today/"' in page
    assert 'href="/worklist/?scope=all&amp;when=callbacks_today"' in page


def test_callbacks_for_another_day_are_not_today(agent_client_a, world, tenant_a, in_tenant):
    with in_tenant(tenant_a):
        CallAttempt.objects.filter(task=world["tasks"][0]).update(
            callback_at=at("2026-11-21 09:00")
        )
    assert agent_client_a.get("/").context["home"]["mine"]["callbacks"] == 0


def test_a_clinician_sees_their_tier_1_calls(client_a, world, tenant_a, in_tenant):
    with in_tenant(tenant_a):
        doctor = StaffFactory(email="doc@alpha.test", role="clinician")
        FollowUpTask.objects.filter(pk=world["tasks"][1].pk).update(tier=1, assignee=doctor)
    login(client_a, "doc@alpha.test")

    mine = client_a.get("/").context["home"]["mine"]

    assert (mine["tier"], mine["scope"], mine["queue"]) == (1, "mine", QueueCounts(1, 1))
    rows = client_a.get("/worklist/?scope=mine&tier=1").context["rows"]
    assert [row["task"].pk for row in rows] == [world["tasks"][1].pk]


def test_a_supervisor_sees_the_team_complaints_spot_checks_and_departments(
    supervisor_client_a, world
):
    response = supervisor_client_a.get("/")

    home = response.context["home"]
    assert home["team"]["queue"] == QueueCounts(due=2, overdue=1)
    assert home["team"]["spot_checks"] == 1
    assert home["complaints_near"] == 1
    [below] = home["below_target"]
    assert (below.department, below.metric, below.value, below.target) == (
        world["ortho"].pk,
        "follow_up_rate",
        Decimal("25.00"),
        Decimal("80.00"),
    )
    assert "mine" not in home and "setup" not in home
    near = supervisor_client_a.get("/complaints/?list=due_soon").context["page"]
    assert [c.pk for c in near] == [world["near"].pk]
    # The department's link lists the encounters its rate did not follow up.
    listed = supervisor_client_a.get(below.url)
    assert listed.status_code == 200
    assert len(listed.context["page"]) == 3
    spot = supervisor_client_a.get("/worklist/?scope=spot_checks").context["rows"]
    assert [row["task"].pk for row in spot] == [world["tasks"][3].pk]


def test_an_administrator_sees_set_up_problems(
    admin_client_a, world, tenant_a, in_tenant, account_a, plans, settings
):
    settings.SMS_API_BASE = ""
    with in_tenant(tenant_a):
        # Last month: an encounter the discharge rule planned; the surgery rule matched none.
        october = EncounterFactory(occurred_at=at("2026-10-15 09:00"))
        encounters_plan([october.pk], now=at("2026-10-15 10:00"))
        idle = RuleFactory(name="术后复查", match_kinds=["surgery"])
        seats = get_user_model().objects.filter(is_active=True).count()
    limit_plan(plans["starter"], staff_seats=seats + 1)
    account_a.trial_ends_at = NOW + timedelta(days=3)
    account_a.save()

    home = admin_client_a.get("/").context["home"]

    setup = home["setup"]
    assert setup["sms_missing"] is True
    assert [rule.pk for rule in setup["idle_rules"]] == [idle.pk]
    assert (setup["seats"].used, setup["seats"].limit) == (seats, seats + 1)
    assert setup["trial_ends"] == NOW + timedelta(days=3)
    # The supervisor's figures too: October's follow-up is still open, long overdue.
    assert home["team"]["queue"] == QueueCounts(due=3, overdue=2)


def test_no_set_up_problem_when_all_is_well(admin_client_a, tenant_a, settings):
    settings.SMS_API_BASE = "http://127.0.0.1:9/sms"

    setup = admin_client_a.get("/").context["home"]["setup"]

    assert setup == {"sms_missing": False, "idle_rules": [], "seats": None, "trial_ends": None}
    assert "没有需要处理的设置问题" in admin_client_a.get("/").content.decode()


def test_the_home_page_reads_in_a_bounded_number_of_queries(
    admin_client_a, world, django_assert_max_num_queries
):
    """Measured 37: 13 for the session, sign-in, permissions and the billing banners of every
    page; the rest one per figure (the clinic's own SMS account is asked by the set-up problems
    and by the checklist), whatever the number of tasks, complaints or departments."""
    admin_client_a.get("/")  # sessions, permissions and translations warmed

    with django_assert_max_num_queries(37):
        response = admin_client_a.get("/")
    assert response.status_code == 200


def test_the_agent_home_reads_in_a_bounded_number_of_queries(
    agent_client_a, world, django_assert_max_num_queries
):
    """Measured 16, of which 4 for the agent's own figures."""
    agent_client_a.get("/")

    with django_assert_max_num_queries(16):
        agent_client_a.get("/")


def test_clinic_b_home_counts_nothing_of_clinic_a(
    admin_client_b, world, tenant_a, tenant_b, in_tenant, admin_client_a
):
    admin_client_a.post("/departments/new/", {"name": "疼痛科", "code": "pain", "active": "on"})

    home = admin_client_b.get("/").context["home"]

    assert home["team"] == {"queue": QueueCounts(0, 0), "spot_checks": 0}
    assert home["complaints_near"] == 0
    assert home["below_target"] == []
    assert home["setup"]["idle_rules"] == []
    steps = {step.key: step.done for step in home["checklist"].steps}
    assert steps["departments"] is False
    with in_tenant(tenant_b):
        assert not Department.objects.filter(code="pain").exists()


# --- The set-up checklist -------------------------------------------------------------------


@pytest.fixture
def fresh_checklist(tenant_a, in_tenant, settings, clock):
    """Alpha as if just provisioned: the checklist starts a day after the suite's instant
    (after alpha's preset, whatever the day the suite runs), no SMS gateway."""
    settings.SMS_API_BASE = ""
    started = SUITE_NOW + timedelta(days=1)
    clock.move_to(utc(started))
    with in_tenant(tenant_a):
        Onboarding.objects.update(started_at=started, dismissed_at=None)
    return started


def _steps(tenant, in_tenant) -> dict:
    with in_tenant(tenant):
        return {step.key: step.done for step in onboarding_checklist().steps}


def test_each_step_is_ticked_by_what_the_clinic_did(
    fresh_checklist, admin_client_a, admin_a, tenant_a, in_tenant, clock, settings
):
    assert {k for k, v in _steps(tenant_a, in_tenant).items() if v} == set()
    clock.shift(timedelta(minutes=1))

    admin_client_a.post("/departments/new/", {"name": "疼痛科", "code": "pain", "active": "on"})
    with in_tenant(tenant_a):
        staff_invite(
            email="n@alpha.test", full_name="", role="agent", base_url="http://x/", actor=admin_a
        )
    settings.SMS_API_BASE = "http://127.0.0.1:9/sms"

    steps = _steps(tenant_a, in_tenant)
    assert steps == {
        "settings": False,
        "departments": True,
        "staff": True,
        "rules": False,
        "survey": False,
        "sms": True,
        "import": False,
        "call": False,
    }


def test_the_preset_itself_ticks_nothing(tenant_a, in_tenant, settings):
    """A department, rule or invitation the provisioning made is not the clinic's set-up."""
    settings.SMS_API_BASE = ""
    with in_tenant(tenant_a):
        started = Onboarding.objects.get().started_at
        assert not Department.objects.filter(updated_at__gt=started).exists()
    assert _steps(tenant_a, in_tenant)["staff"] is False


def test_the_checklist_is_on_the_administrators_home_until_put_away(
    fresh_checklist, admin_client_a, tenant_a, in_tenant
):
    page = in_english(admin_client_a).get("/").content.decode()
    assert 'id="onboarding"' in page and "0 of 8 done" in page
    assert 'href="/departments/"' in page and 'href="/imports/sample.csv"' in page

    response = admin_client_a.post("/home/checklist/dismiss/")

    assert response.status_code == 302
    page = admin_client_a.get("/").content.decode()
    assert 'id="onboarding"' not in page
    with in_tenant(tenant_a):
        assert Onboarding.objects.get().dismissed_at >= fresh_checklist  # for the whole clinic
    admin_client_a.post("/home/checklist/restore/")
    assert 'id="onboarding"' in admin_client_a.get("/").content.decode()


def test_an_agent_may_not_put_the_checklist_away(
    fresh_checklist, agent_client_a, tenant_a, in_tenant
):
    response = agent_client_a.post("/home/checklist/dismiss/")

    assert response.status_code == 403
    with in_tenant(tenant_a):
        assert Onboarding.objects.get().dismissed_at is None
    assert 'id="onboarding"' not in agent_client_a.get("/").content.decode()


def test_a_clinic_older_than_the_checklist_shows_none(admin_client_a, tenant_a, in_tenant):
    with in_tenant(tenant_a):
        Onboarding.objects.all().delete()

    response = admin_client_a.get("/")

    assert response.context["home"]["checklist"] is None
    assert 'id="onboarding"' not in response.content.decode()


# --- Departments ----------------------------------------------------------------------------


def test_an_administrator_adds_and_renames_departments(admin_client_a, tenant_a, in_tenant):
    response = admin_client_a.post(
        "/departments/new/", {"name": " 疼痛科 ", "code": "pain", "active": "on"}
    )
    assert response.status_code == 302
    with in_tenant(tenant_a):
        pain = Department.objects.get(code="pain")
    assert (pain.name, pain.active) == ("疼痛科", True)

    admin_client_a.post(f"/departments/{pain.pk}/", {"name": "疼痛门诊", "code": "pain"})

    pain.refresh_from_db()
    assert (pain.name, pain.active) == ("疼痛门诊", False)
    assert "疼痛门诊" in admin_client_a.get("/departments/").content.decode()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "骨科二", "code": "orthopaedics"}, "已有其他科室使用此代码。"),
        ({"name": "   ", "code": "blank"}, "必需字段"),
        ({"name": "坏代码", "code": "不 行"}, "code"),
    ],
)
def test_a_bad_department_is_refused_and_nothing_changes(
    admin_client_a, tenant_a, in_tenant, data, message
):
    with in_tenant(tenant_a):
        before = list(Department.objects.values_list("pk", "name", "code", "active"))

    response = admin_client_a.post("/departments/new/", {**data, "active": "on"})

    assert response.status_code == 400
    form = response.context["form"]
    assert message in form.errors or message in " ".join(
        error for errors in form.errors.values() for error in errors
    )
    with in_tenant(tenant_a):
        assert list(Department.objects.values_list("pk", "name", "code", "active")) == before


def test_an_agent_cannot_manage_departments(agent_client_a, tenant_a, in_tenant):
    assert agent_client_a.get("/departments/").status_code == 403
    response = agent_client_a.post("/departments/new/", {"name": "X", "code": "x"})
    assert response.status_code == 403
    with in_tenant(tenant_a):
        assert not Department.objects.filter(code="x").exists()


def test_department_save_refuses_a_taken_code(tenant_a, in_tenant):
    with in_tenant(tenant_a), pytest.raises(ValidationError) as refused:
        department_save(name="骨科", code="orthopaedics")
    assert "code" in refused.value.message_dict


def test_complaints_due_soon_lists_only_unanswered_ones_near_their_deadline(
    supervisor_client_a, world, tenant_a, in_tenant
):
    with in_tenant(tenant_a):
        Complaint.objects.filter(pk=world["near"].pk).update(status=Complaint.Status.REPLIED)

    assert list(supervisor_client_a.get("/complaints/?list=due_soon").context["page"]) == []


def test_clinic_b_putting_its_checklist_away_leaves_clinic_a_s(
    fresh_checklist, admin_client_b, tenant_a, tenant_b, in_tenant
):
    response = admin_client_b.post("/home/checklist/dismiss/")

    assert response.status_code == 302
    with in_tenant(tenant_b):
        assert Onboarding.objects.get().dismissed_at is not None
    with in_tenant(tenant_a):
        assert Onboarding.objects.get().dismissed_at is None

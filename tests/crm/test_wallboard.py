"""The supervisor's wallboard (/reports/live/, issue 21 item 4): today's calls per agent in the
clinic's own day, the phone queue by urgency, the last hour by outcome; two queries per
refresh; supervisors and administrators only; no patient's name or number; another clinic's
calls never counted."""

import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection

from crm.models import FollowUpRule, FollowUpTask, OutcomeCode, RuleStep
from crm.selectors_wallboard import wallboard_read
from crm.services.followup import AttemptInput, attempt_log
from crm.services.planning import encounters_plan
from tests.conftest import login
from tests.crm.conftest import in_english
from tests.factories import ContactFactory, EncounterFactory, RuleFactory, StaffFactory

SHANGHAI = ZoneInfo("Asia/Shanghai")
# Monday 2026-11-23, 10:00 in Shanghai (02:00 UTC).
NOW = datetime(2026, 11, 23, 10, tzinfo=SHANGHAI)
TOMORROW = datetime(2026, 11, 24, tzinfo=SHANGHAI)
PATIENT = "欧阳娜娜"
NUMBER = "+8613912345678"

pytestmark = pytest.mark.now("2026-11-23 10:00")


def open_task(**window) -> FollowUpTask:
    """An open phone follow-up of a new discharge (of the patient PATIENT), its window set to
    ``window`` (opens_at, due_at, closes_at) when given."""
    FollowUpRule.objects.update(active=False)
    RuleFactory(steps=[{"offset_days": 3, "due_days": 7}])
    contact = ContactFactory(name=PATIENT, phone=NUMBER)
    encounter = EncounterFactory(contact=contact, occurred_at=NOW - timedelta(days=4))
    encounters_plan([encounter.pk], now=NOW)
    task = FollowUpTask.objects.get(encounter=encounter)
    if window:
        FollowUpTask.objects.filter(pk=task.pk).update(**window)
        task.refresh_from_db()
    return task


def call(agent, category: str, at: datetime, minutes: int | None = None, task=None):
    """``agent`` logs one attempt of ``category`` at ``at`` (on a task of its own)."""
    task = task or open_task()
    outcome = OutcomeCode.objects.filter(category=category).first()
    seconds = minutes * 60 if minutes is not None else None
    return attempt_log(task, agent, AttemptInput(outcome=outcome, duration_seconds=seconds), now=at)


def board(tenant, when=NOW):
    return wallboard_read(now=when, zone=ZoneInfo(tenant.timezone))


def row(result, name):
    return next(a for a in result.agents if a.name == name)


@pytest.fixture
def alpha(tenant_a, in_tenant):
    with in_tenant(tenant_a):
        yield tenant_a


@pytest.fixture
def team(alpha):
    """Three agents of alpha: 李 and 王 call today, 赵 has not called yet."""
    return {
        name: StaffFactory(role="agent", first_name=name, last_name="")
        for name in ("李", "王", "赵")
    }


def test_today_per_agent_counts_the_clinics_own_day(alpha, team):
    li, wang = team["李"], team["王"]
    # 00:10 in Shanghai is 16:10 UTC the day before: still today here.
    call(li, "reached", datetime(2026, 11, 23, 0, 10, tzinfo=SHANGHAI), minutes=5)
    call(li, "no_answer", datetime(2026, 11, 23, 9, 0, tzinfo=SHANGHAI), minutes=1)
    call(li, "busy", datetime(2026, 11, 23, 9, 30, tzinfo=SHANGHAI))  # no duration logged
    call(li, "reached", datetime(2026, 11, 22, 23, 50, tzinfo=SHANGHAI), minutes=9)  # yesterday
    call(wang, "reached", datetime(2026, 11, 23, 8, 0, tzinfo=SHANGHAI), minutes=2)

    result = board(alpha)

    li_day, wang_day, zhao_day = row(result, "李"), row(result, "王"), row(result, "赵")
    assert (li_day.attempts, li_day.reached, li_day.timed, li_day.seconds) == (3, 1, 2, 360)
    assert li_day.average_seconds == 180  # over the two timed attempts, not over three
    assert (wang_day.attempts, wang_day.reached, wang_day.average_seconds) == (1, 1, 120)
    assert (zhao_day.attempts, zhao_day.reached, zhao_day.average_seconds) == (0, 0, None)
    # Busiest first; those with no call (赵, the session's e2e agent) after them, by name.
    assert [a.name for a in result.agents[:2]] == ["李", "王"]
    idle = [a.name for a in result.agents[2:]]
    assert "赵" in idle and idle == sorted(idle, key=str.casefold)
    assert all(a.attempts == 0 for a in result.agents[2:])
    total = result.total
    assert (total.attempts, total.reached, total.timed, total.seconds) == (4, 2, 3, 480)
    assert total.average_seconds == 160  # 480 s over 3 timed attempts, not a mean of means


def test_staff_of_other_roles_who_called_today_are_on_the_board(alpha, team):
    supervisor = StaffFactory(role="supervisor", first_name="钱", last_name="主任")
    former = StaffFactory(role="agent", first_name="孙", last_name="")
    call(supervisor, "reached", NOW - timedelta(hours=2), minutes=4)
    call(former, "busy", NOW - timedelta(hours=3))
    former.is_active = False
    former.save()
    idle_supervisor = StaffFactory(role="supervisor", first_name="吴", last_name="")

    names = [a.name for a in board(alpha).agents]

    assert names[:2] == ["钱 主任", "孙"]
    assert idle_supervisor.first_name not in names  # not an agent, no call today


def test_the_last_hour_by_outcome(alpha, team):
    li = team["李"]
    call(li, "reached", NOW - timedelta(minutes=61))  # before the hour
    call(li, "reached", NOW - timedelta(minutes=30))
    call(li, "no_answer", NOW - timedelta(minutes=15))
    call(li, "powered_off", NOW - timedelta(minutes=5))
    call(li, "no_answer", NOW - timedelta(minutes=1))

    result = board(alpha)

    # In the taxonomy's order, categories with no attempt left out.
    assert result.outcomes == {"reached": 1, "no_answer": 2, "powered_off": 1}
    assert result.last_hour == 4


def test_just_after_midnight_the_last_hour_reaches_into_yesterday(alpha, team):
    li = team["李"]
    call(li, "busy", datetime(2026, 11, 22, 23, 40, tzinfo=SHANGHAI))

    result = board(alpha, when=datetime(2026, 11, 23, 0, 20, tzinfo=SHANGHAI))

    assert result.outcomes == {"busy": 1}
    assert row(result, "李").attempts == 0  # yesterday's call is not today's


def test_the_queue_by_urgency(alpha):
    def window(opens_hours, due, status=FollowUpTask.Status.PENDING, channel="phone"):
        task = open_task(opens_at=NOW + timedelta(hours=opens_hours), due_at=due)
        task.closes_at = due + timedelta(days=3)
        FollowUpTask.objects.filter(pk=task.pk).update(
            closes_at=task.closes_at, status=status, channel=channel
        )

    window(-72, NOW - timedelta(hours=1))  # overdue
    window(-72, NOW)  # overdue: its window ends now
    window(-1, TOMORROW)  # due today: today is its last day
    window(-1, TOMORROW + timedelta(days=2))  # due later
    window(-1, TOMORROW, status=FollowUpTask.Status.IN_PROGRESS)  # being called: still waiting
    window(2, TOMORROW)  # opens at noon: not in the queue yet
    window(-1, TOMORROW, status=FollowUpTask.Status.COMPLETED)  # done
    window(-1, TOMORROW, channel=RuleStep.Channel.SMS)  # a message, sent by the tick

    assert board(alpha).queue == {"overdue": 2, "due_today": 2, "due_later": 1}


def test_two_queries_per_refresh_however_many_agents_and_calls(
    alpha, team, django_assert_num_queries
):
    for name, agent in team.items():
        for minutes in (5, 20, 50):
            call(
                agent, "reached" if name == "李" else "no_answer", NOW - timedelta(minutes=minutes)
            )
    for _ in range(5):
        StaffFactory(role="agent")

    with django_assert_num_queries(2):
        result = board(alpha)

    assert result.total.attempts == 9
    assert len(result.agents) >= 8


def test_an_empty_clinic_shows_zeros_and_says_so(client_b, admin_b, tenant_b):
    login(client_b, "admin@beta.test")

    response = client_b.get("/reports/live/")
    data = client_b.get("/reports/live/data.json").json()

    assert response.status_code == 200
    page = response.content.decode()
    assert "No agents yet: invite staff with the agent role." in page
    assert "No calls in the last hour." in page
    assert data["agents"] == []
    assert data["total"] == {
        "name": "",
        "attempts": 0,
        "reached": 0,
        "average_handling": "—",
        "average_handling_seconds": None,
    }
    assert [(q["key"], q["count"]) for q in data["queue"]] == [
        ("overdue", 0),
        ("due_today", 0),
        ("due_later", 0),
    ]
    assert (data["outcomes"], data["last_hour"], data["queue_total"]) == ([], 0, 0)


@pytest.fixture
def calls_in_alpha(alpha, team):
    """Two calls to PATIENT today: the JSON and the page are read after them."""
    task = open_task()
    call(team["李"], "no_answer", NOW - timedelta(minutes=20), minutes=3, task=task)
    task.refresh_from_db()
    FollowUpTask.objects.filter(pk=task.pk).update(next_attempt_at=None)
    call(team["王"], "reached", NOW - timedelta(minutes=10), minutes=7, task=task)
    connection.set_schema_to_public()
    return task


@pytest.fixture
def supervisor_client_a(client_a, tenant_a, in_tenant):
    with in_tenant(tenant_a):
        StaffFactory(email="wall-sup@alpha.test", role="supervisor")
    login(client_a, "wall-sup@alpha.test")
    return client_a


def test_the_json_carries_the_figures_and_nothing_of_the_patient(
    supervisor_client_a, calls_in_alpha
):
    response = in_english(supervisor_client_a).get("/reports/live/data.json")

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    data = response.json()
    agents = {a["name"]: a for a in data["agents"]}
    assert agents["李"] == {
        "name": "李",
        "attempts": 1,
        "reached": 0,
        "average_handling": "3:00",
        "average_handling_seconds": 180,
    }
    assert (agents["王"]["reached"], agents["王"]["average_handling"]) == (1, "7:00")
    assert data["total"]["average_handling"] == "5:00"
    assert data["outcomes"] == [
        {"key": "reached", "label": "Reached", "count": 1},
        {"key": "no_answer", "label": "No answer", "count": 1},
    ]
    assert data["updated"].startswith("10:0")  # the clinic's wall time
    body = response.content.decode()
    for secret in (PATIENT, NUMBER, NUMBER[-4:], calls_in_alpha.contact.record_no, "•"):
        assert secret not in body
    assert PATIENT not in json.dumps(data, ensure_ascii=False)


def test_the_page_in_chinese_shows_the_figures_and_nothing_of_the_patient(
    supervisor_client_a, calls_in_alpha
):
    response = supervisor_client_a.get("/reports/live/")

    assert response.status_code == 200
    page = response.content.decode()
    assert "实时看板" in page and "今日各回访专员通话" in page and "近一小时结果" in page
    assert "已接通" in page  # the outcome's label, not its code
    assert 'data-refresh-seconds="30"' in page
    assert 'data-url="/reports/live/data.json"' in page
    for secret in (PATIENT, NUMBER, NUMBER[-4:], calls_in_alpha.contact.record_no):
        assert secret not in page


@pytest.mark.parametrize(
    ("asked", "given"), [("5", "5"), ("0", "2"), ("100000", "600"), ("soon", "30")]
)
def test_the_refresh_interval_is_asked_in_the_address(supervisor_client_a, asked, given):
    page = supervisor_client_a.get(f"/reports/live/?refresh={asked}").content.decode()

    assert f'data-refresh-seconds="{given}"' in page


def test_an_administrator_sees_the_wallboard(client_a, admin_a):
    login(client_a, "admin@alpha.test")

    assert client_a.get("/reports/live/").status_code == 200
    assert client_a.get("/reports/live/data.json").status_code == 200


@pytest.mark.parametrize("role", ["agent", "clinician", "viewer"])
def test_other_roles_are_refused_the_page_and_its_json(
    client_a, tenant_a, in_tenant, calls_in_alpha, role
):
    with in_tenant(tenant_a):
        StaffFactory(email=f"wall-{role}@alpha.test", role=role)
    login(client_a, f"wall-{role}@alpha.test")

    page = client_a.get("/reports/live/")
    data = client_a.get("/reports/live/data.json")

    assert (page.status_code, data.status_code) == (403, 403)
    assert "李" not in data.content.decode()


def test_signed_out_the_json_sends_to_sign_in(client_a, calls_in_alpha):
    response = client_a.get("/reports/live/data.json")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_another_clinic_never_counts_alphas_calls(
    calls_in_alpha, client_b, admin_b, tenant_a, tenant_b, in_tenant
):
    with in_tenant(tenant_b):
        beta_agent = StaffFactory(role="agent", first_name="Bea", last_name="")
        call(beta_agent, "busy", NOW - timedelta(minutes=5), minutes=1)
    login(client_b, "admin@beta.test")

    data = client_b.get("/reports/live/data.json").json()
    page = client_b.get("/reports/live/").content.decode()

    assert [(a["name"], a["attempts"]) for a in data["agents"]] == [("Bea", 1)]
    assert data["outcomes"] == [{"key": "busy", "label": "Busy", "count": 1}]
    assert [(q["key"], q["count"]) for q in data["queue"]] == [
        ("overdue", 0),
        ("due_today", 0),
        ("due_later", 1),  # Bea's own task; alpha's is not counted
    ]
    for alpha_name in ("李", "王", "赵"):
        assert alpha_name not in page
    # The other way round: alpha's board does not count Bea's call.
    with in_tenant(tenant_a):
        alpha_board = board(tenant_a)
    assert (alpha_board.total.attempts, alpha_board.outcomes) == (2, {"reached": 1, "no_answer": 1})

"""The worklist and the call page, through HTTP, as agents use them."""

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone, translation

from crm.models import AuditEntry, CallAttempt, FollowUpRule, FollowUpTask, OutcomeCode
from crm.services.planning import encounters_plan
from tests.conftest import login
from tests.crm.conftest import in_english
from tests.factories import ContactFactory, EncounterFactory, RuleFactory, StaffFactory

Status = FollowUpTask.Status


@pytest.fixture
def due_tasks(tenant_a, in_tenant):
    """Three tasks of alpha's centre, due now (window opened yesterday), whatever the hour:
    calling hours are set to the whole day."""
    connection.set_schema_to_public()  # a login request may have left it in another tenant
    tenant_a.calling_hours = [["00:00", "24:00"]]
    tenant_a.save()
    with in_tenant(tenant_a):
        FollowUpRule.objects.update(active=False)
        RuleFactory(steps=[{"offset_days": 0, "due_days": 2}])
        encounters = [
            EncounterFactory(
                contact=ContactFactory(name=f"病人{i}", phone=f"+86138001380{i:02d}"),
                occurred_at=timezone.now() - timedelta(days=1 + i),
            )
            for i in range(3)
        ]
        encounters_plan([e.pk for e in encounters])
        return list(FollowUpTask.objects.order_by("due_at", "pk"))


def test_agent_sees_due_centre_tasks_most_urgent_first(agent_client_a, due_tasks):
    response = agent_client_a.get("/worklist/")
    assert response.status_code == 200
    page = response.content.decode()
    names = [row["task"].contact.name for row in response.context["rows"]]
    assert names == ["病人2", "病人1", "病人0"]  # earliest due first
    assert "+8613800138000" not in page  # the worklist shows no numbers at all
    assert all(row["call_now"] for row in response.context["rows"])


def test_the_worklist_filters_and_searches(agent_client_a, due_tasks, tenant_a, in_tenant):
    def search(term):
        return agent_client_a.post("/worklist/?scope=centre", {"q": term}, follow=True)

    response = search("病人1")
    assert response.redirect_chain == [("/worklist/?scope=centre", 302)]
    assert len(response.context["rows"]) == 1
    record_no = due_tasks[0].contact.record_no
    assert len(search(record_no).context["rows"]) == 1
    assert len(search("").context["rows"]) == 3  # cleared
    assert agent_client_a.get("/worklist/?tier=1").context["rows"] == []
    assert agent_client_a.get("/worklist/?when=upcoming").context["rows"] == []
    assert len(agent_client_a.get("/worklist/?status=pending").context["rows"]) == 3
    assert agent_client_a.get("/worklist/?scope=mine").context["rows"] == []


def test_keyset_pages_cover_every_task_once(agent_client_a, due_tasks, monkeypatch):
    monkeypatch.setattr("crm.selectors.WORKLIST_PAGE", 2)
    first = agent_client_a.get("/worklist/")
    assert len(first.context["rows"]) == 2 and first.context["next_url"]
    second = agent_client_a.get("/worklist/" + first.context["next_url"])
    assert len(second.context["rows"]) == 1 and second.context["next_url"] is None
    seen = [r["task"].pk for r in first.context["rows"] + second.context["rows"]]
    assert seen == [t.pk for t in due_tasks]


def test_outside_calling_hours_no_call_now(agent_client_a, due_tasks, tenant_a):
    now_local = timezone.localtime(timezone.now(), timezone=ZoneInfo(tenant_a.timezone))
    start = (now_local + timedelta(hours=2)).strftime("%H:%M")
    end = (now_local + timedelta(hours=3)).strftime("%H:%M")
    if start >= end:  # the two hours straddle midnight: any interval later today will do
        start, end = "00:00", "00:01"
    tenant_a.calling_hours = [[start, end]]
    tenant_a.save()
    rows = agent_client_a.get("/worklist/").context["rows"]
    assert rows and not any(row["call_now"] for row in rows)


def test_call_page_masks_the_number_until_call_is_pressed(
    agent_client_a, due_tasks, agent_a, tenant_a, in_tenant
):
    task = due_tasks[0]
    page = agent_client_a.get(f"/tasks/{task.pk}/").content.decode()
    assert "+86 ••• 8002" in page and "138 0013 8002" not in page

    agent_client_a.post(f"/tasks/{task.pk}/claim/")
    with in_tenant(tenant_a):
        phone = task.contact.phones.get()
    response = agent_client_a.post(f"/tasks/{task.pk}/call/{phone.pk}/")
    assert "138 0013 8002" in response.content.decode()
    assert 'href="tel:+8613800138002"' in response.content.decode()
    with in_tenant(tenant_a):
        entry = AuditEntry.objects.get(action="phone_revealed")
        assert (entry.actor_id, entry.contact_id) == (agent_a.pk, task.contact_id)


def test_logging_an_attempt_completes_and_opens_the_next_task(
    agent_client_a, due_tasks, tenant_a, in_tenant
):
    first, second = due_tasks[0], due_tasks[1]
    agent_client_a.post(f"/tasks/{first.pk}/claim/")
    with in_tenant(tenant_a):
        reached = OutcomeCode.objects.get(code="reached")
    response = agent_client_a.post(
        f"/tasks/{first.pk}/attempts/",
        {"outcome": reached.pk, "notes": "恢复好", "scope": "centre"},
    )
    assert response.status_code == 302
    assert response["Location"] == f"/tasks/{second.pk}/?scope=centre"
    with in_tenant(tenant_a):
        first.refresh_from_db()
        second.refresh_from_db()
        assert first.status == Status.COMPLETED
        assert (second.status, second.claimed_by.email) == (Status.IN_PROGRESS, "agent@alpha.test")


def test_the_next_task_stays_in_the_rule_the_agent_filtered_the_list_by(
    agent_client_a, due_tasks, tenant_a, in_tenant
):
    """An HR team working only its new hires (the rule filter) is not handed the next call of
    another rule by "save and open the next", however much more urgent that one is."""
    first, second = due_tasks[0], due_tasks[1]
    with in_tenant(tenant_a):
        RuleFactory(match_kinds=["outpatient"], steps=[{"offset_days": 0, "due_days": 2}])
        other = EncounterFactory(
            kind="outpatient",
            contact=ContactFactory(name="别的规则", phone="+8613800138099"),
            occurred_at=timezone.now() - timedelta(days=5),
        )
        encounters_plan([other.pk])
        urgent = FollowUpTask.objects.get(encounter=other)
        reached = OutcomeCode.objects.get(code="reached")
    rule = first.rule_id
    listed = agent_client_a.get(f"/worklist/?scope=centre&rule={rule}")
    assert [row["task"].pk for row in listed.context["rows"]] == [t.pk for t in due_tasks]
    assert f'<input type="hidden" name="rule" value="{rule}">' in listed.content.decode()

    claimed = agent_client_a.post(f"/tasks/{first.pk}/claim/", {"scope": "centre", "rule": rule})
    assert claimed["Location"] == f"/tasks/{first.pk}/?scope=centre&rule={rule}"
    page = agent_client_a.get(claimed["Location"]).content.decode()
    assert f'<input type="hidden" name="rule" value="{rule}">' in page
    response = agent_client_a.post(
        f"/tasks/{first.pk}/attempts/", {"outcome": reached.pk, "scope": "centre", "rule": rule}
    )
    assert response["Location"] == f"/tasks/{second.pk}/?scope=centre&rule={rule}"

    # The whole centre's list: the most urgent call, whatever its rule.
    response = agent_client_a.post(
        f"/tasks/{second.pk}/attempts/", {"outcome": reached.pk, "scope": "centre"}
    )
    assert response["Location"] == f"/tasks/{urgent.pk}/?scope=centre"


def test_an_attempt_on_a_task_someone_else_holds_is_refused(
    agent_client_a, due_tasks, tenant_a, in_tenant
):
    task = due_tasks[0]
    with in_tenant(tenant_a):
        other = StaffFactory(role="agent", first_name="李", last_name="娜")
        from crm.services.followup import task_claim

        task_claim(task, other)
        code = OutcomeCode.objects.get(code="no-answer")
    with translation.override("en"):
        response = in_english(agent_client_a).post(
            f"/tasks/{task.pk}/attempts/", {"outcome": code.pk}
        )
    assert response.status_code == 400
    assert "is working on this follow-up until" in response.content.decode()
    with in_tenant(tenant_a):
        assert not CallAttempt.objects.exists()


def test_an_attempt_on_a_closed_task_is_refused(agent_client_a, due_tasks, tenant_a, in_tenant):
    task = due_tasks[0]
    with in_tenant(tenant_a):
        FollowUpTask.objects.filter(pk=task.pk).update(status=Status.CANCELLED)
        code = OutcomeCode.objects.get(code="reached")
    response = agent_client_a.post(f"/tasks/{task.pk}/attempts/", {"outcome": code.pk})
    assert response.status_code == 400
    with in_tenant(tenant_a):
        assert not CallAttempt.objects.exists()
        task.refresh_from_db()
        assert task.status == Status.CANCELLED


def test_an_attempt_without_an_outcome_shows_the_error(agent_client_a, due_tasks):
    task = due_tasks[0]
    agent_client_a.post(f"/tasks/{task.pk}/claim/")
    response = agent_client_a.post(f"/tasks/{task.pk}/attempts/", {"notes": "x"})
    assert response.status_code == 400
    assert response.context["form"].errors["outcome"]


def test_viewer_cannot_work_tasks(client_a, due_tasks, tenant_a, in_tenant):
    with in_tenant(tenant_a):
        StaffFactory(email="viewer@alpha.test", role="viewer")
    login(client_a, "viewer@alpha.test")
    assert client_a.get("/worklist/").status_code == 403
    assert client_a.post(f"/tasks/{due_tasks[0].pk}/claim/").status_code == 403


def test_agents_cannot_open_spot_checks(agent_client_a, due_tasks, tenant_a, in_tenant):
    with in_tenant(tenant_a):
        FollowUpTask.objects.filter(pk=due_tasks[0].pk).update(tier=3)
    assert agent_client_a.get(f"/tasks/{due_tasks[0].pk}/").status_code == 403
    assert "spot_checks" not in [s for s, _ in agent_client_a.get("/worklist/").context["scopes"]]


def test_another_tenant_cannot_see_or_work_these_tasks(
    admin_client_b, due_tasks, tenant_b, in_tenant
):
    rows = admin_client_b.get("/worklist/?scope=all").context["rows"]
    assert rows == []
    for task in due_tasks:
        response = admin_client_b.get(f"/tasks/{task.pk}/")
        assert response.status_code == 404
        assert admin_client_b.post(f"/tasks/{task.pk}/claim/").status_code == 404


def test_department_queue_follows_the_staff_departments(admin_client_a, tenant_a, in_tenant):
    from django.test import Client

    from crm.models import Department
    from tests.conftest import login

    with in_tenant(tenant_a):
        FollowUpRule.objects.update(active=False)
        RuleFactory(steps=[{"offset_days": 0, "due_days": 2, "assignee_policy": "department"}])
        ortho = Department.objects.get(code="orthopaedics")
        encounter = EncounterFactory(department=ortho, occurred_at=timezone.now())
        encounters_plan([encounter.pk])
        nurse = StaffFactory(email="nurse@alpha.test", role="clinician")
    response = admin_client_a.post(f"/staff/{nurse.pk}/departments/", {"departments": [ortho.pk]})
    assert response.status_code == 302
    assert "骨科" in admin_client_a.get("/staff/").content.decode()

    nurse_client = Client(HTTP_HOST=tenant_a.primary_host)
    login(nurse_client, "nurse@alpha.test")
    rows = nurse_client.get("/worklist/?scope=department").context["rows"]
    assert [r["task"].encounter_id for r in rows] == [encounter.pk]
    home = nurse_client.get("/").content.decode()
    assert 'id="home-summary"' in home


def test_worklist_rows_escape_what_staff_typed(agent_client_a, due_tasks, tenant_a, in_tenant):
    """The rows are built as strings (crm/templatetags/followup.py): every value from the
    database must come out escaped."""
    with in_tenant(tenant_a):
        contact = due_tasks[0].contact
        contact.name = '<script>alert("x")</script>'
        contact.record_no = "<b>R1</b>"
        contact.save()
        FollowUpTask.objects.filter(pk=due_tasks[0].pk).update(name="Day 3 & <i>more</i>")

    page = agent_client_a.get("/worklist/").content.decode()

    assert "<script>alert" not in page and "<b>R1</b>" not in page and "<i>more</i>" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert "&lt;b&gt;R1&lt;/b&gt;" in page and "Day 3 &amp; &lt;i&gt;more&lt;/i&gt;" in page


def test_a_clinician_cannot_open_claim_or_call_tasks_off_their_lists_by_url(
    due_tasks, tenant_a, in_tenant
):
    from django.test import Client

    from crm.models import Department

    with in_tenant(tenant_a):
        StaffFactory(email="ward-nurse@alpha.test", role="clinician")  # no departments
        centre_task = due_tasks[0]
        phone = centre_task.contact.phones.get()
        ortho = Department.objects.get(code="orthopaedics")
        ward_task = due_tasks[1]
        FollowUpTask.objects.filter(pk=ward_task.pk).update(department=ortho, tier=1)
    nurse = Client(HTTP_HOST=tenant_a.primary_host)
    login(nurse, "ward-nurse@alpha.test")

    for task in (centre_task, ward_task):
        assert nurse.get(f"/tasks/{task.pk}/").status_code == 404
        assert nurse.post(f"/tasks/{task.pk}/claim/").status_code == 404
    assert nurse.post(f"/tasks/{centre_task.pk}/call/{phone.pk}/").status_code == 404
    with in_tenant(tenant_a):
        assert not FollowUpTask.objects.filter(claimed_by__email="ward-nurse@alpha.test").exists()
        assert not AuditEntry.objects.filter(action="phone_revealed").exists()
        FollowUpTask.objects.filter(pk=ward_task.pk).update(
            assignee=get_user_model().objects.get(email="ward-nurse@alpha.test")
        )
    assert nurse.get(f"/tasks/{ward_task.pk}/").status_code == 200  # assigned to them: theirs

""" "Unhappy last time" (DESIGN.md §7a.7): the worklist row and the call page say so before the
agent dials, when the contact's last survey response was dissatisfied or their last complaint
is still open."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from crm.models import Complaint, FollowUpRule, FollowUpTask
from crm.services.feedback import complaint_open
from crm.services.planning import encounters_plan
from surveys.models import SurveyResponse, SurveyTemplate
from tests.conftest import login
from tests.crm.conftest import in_english
from tests.factories import ContactFactory, EncounterFactory, RuleFactory, StaffFactory
from tests.surveys.conftest import STANDARD, survey_with


def _due_tasks(tenant, in_tenant, count: int) -> list[FollowUpTask]:
    """``count`` centre tasks due now, whatever the hour."""
    connection.set_schema_to_public()
    tenant.calling_hours = [["00:00", "24:00"]]
    tenant.save()
    with in_tenant(tenant):
        FollowUpRule.objects.update(active=False)
        RuleFactory(steps=[{"offset_days": 0, "due_days": 2}])
        encounters = [
            EncounterFactory(
                contact=ContactFactory(name=f"病人{i}", phone=f"+86138001381{i:02d}"),
                occurred_at=timezone.now() - timedelta(days=1 + i),
            )
            for i in range(count)
        ]
        encounters_plan([e.pk for e in encounters])
        return list(FollowUpTask.objects.select_related("contact").order_by("due_at", "pk"))


def _response(contact, satisfaction: str, days_ago: int) -> SurveyResponse:
    survey = SurveyTemplate.objects.filter(published__isnull=False).first() or survey_with(
        STANDARD[:1]
    )
    return SurveyResponse.objects.create(
        version=survey.published,
        template=survey,
        source="call",
        contact=contact,
        satisfaction=satisfaction,
        submitted_at=timezone.now() - timedelta(days=days_ago),
    )


def _complaint(contact, days_ago: int, *, status: str = "open", kind: str = "complaint"):
    complaint = complaint_open(
        summary="等了两个小时",
        source="call",
        contact=contact,
        kind=kind,
        now=timezone.now() - timedelta(days=days_ago),
    )
    Complaint.objects.filter(pk=complaint.pk).update(status=status)
    return complaint


@pytest.fixture
def unhappy_tasks(tenant_a, in_tenant):
    """Five due tasks: a dissatisfied last response (0), an open complaint (1), unhappy once
    but satisfied since and the complaint closed (2), only a suggestion open (3), and
    nothing at all (4)."""
    tasks = sorted(_due_tasks(tenant_a, in_tenant, 5), key=lambda task: task.contact.name)
    with in_tenant(tenant_a):
        contacts = [task.contact for task in tasks]
        dissatisfied = _response(contacts[0], "dissatisfied", 3)
        _response(contacts[0], "satisfied", 30)
        complaint = _complaint(contacts[1], 2)
        _response(contacts[2], "dissatisfied", 40)
        _response(contacts[2], "satisfied", 5)
        _complaint(contacts[2], 20, status="closed")
        _complaint(contacts[3], 1, kind="suggestion")
    return tasks, dissatisfied, complaint


def _rows_by_contact(response) -> dict[str, list[dict]]:
    return {row["task"].contact.name: row["unhappy"] for row in response.context["rows"]}


def test_the_worklist_row_says_why_the_contact_was_unhappy(agent_client_a, unhappy_tasks, tenant_a):
    tasks, dissatisfied, complaint = unhappy_tasks
    response = in_english(agent_client_a).get("/worklist/")

    day = timezone.localtime(dissatisfied.submitted_at).strftime("%Y-%m-%d")
    complained = timezone.localtime(complaint.created_at).strftime("%Y-%m-%d")
    assert _rows_by_contact(response) == {
        "病人0": [{"text": f"Dissatisfied in their last survey ({day})", "url": ""}],
        "病人1": [{"text": f"Their complaint of {complained} is still open", "url": ""}],
        "病人2": [],
        "病人3": [],
        "病人4": [],
    }
    page = response.content.decode()
    assert page.count('class="status status-suspended unhappy">Unhappy last time</span>') == 2
    # An agent may not read responses or complaints: the reason, no link to a page they
    # would be refused.
    assert f"/surveys/responses/{dissatisfied.pk}/" not in page
    assert f"/complaints/{complaint.pk}/" not in page


def test_a_supervisor_gets_links_to_the_response_and_the_complaint(
    client_a, unhappy_tasks, tenant_a, in_tenant
):
    tasks, dissatisfied, complaint = unhappy_tasks
    with in_tenant(tenant_a):
        StaffFactory(email="lead@alpha.test", role="supervisor")
    login(client_a, "lead@alpha.test")

    page = client_a.get("/worklist/").content.decode()

    assert f'href="/surveys/responses/{dissatisfied.pk}/"' in page
    assert f'href="/complaints/{complaint.pk}/"' in page
    call_page = client_a.get(f"/tasks/{tasks[1].pk}/").content.decode()
    assert f'href="/complaints/{complaint.pk}/"' in call_page


def test_the_call_page_says_so_before_dialling_in_both_languages(agent_client_a, unhappy_tasks):
    tasks, dissatisfied, complaint = unhappy_tasks

    chinese = agent_client_a.get(f"/tasks/{tasks[0].pk}/").content.decode()
    english = in_english(agent_client_a).get(f"/tasks/{tasks[1].pk}/").content.decode()
    calm = agent_client_a.get(f"/tasks/{tasks[2].pk}/").content.decode()

    assert "上次不满意" in chinese and "上次调查中表示不满意" in chinese
    assert "Unhappy last time" in english and "is still open" in english
    assert 'class="notice unhappy"' not in calm
    # Nothing of the complaint itself (its words) reaches the agent's page.
    assert "等了两个小时" not in english


def test_the_worklist_does_not_query_per_row(agent_client_a, tenant_a, in_tenant):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            response = agent_client_a.get("/worklist/")
        assert response.status_code == 200
        return len(captured)

    tasks = _due_tasks(tenant_a, in_tenant, 2)
    with in_tenant(tenant_a):
        _response(tasks[0].contact, "dissatisfied", 1)
    agent_client_a.get("/worklist/")  # sessions, roles and caches warmed
    few = queries()
    more = _due_tasks(tenant_a, in_tenant, 6)
    with in_tenant(tenant_a):
        for task in more:
            _response(task.contact, "dissatisfied", 1)
            _complaint(task.contact, 1)

    many = queries()

    assert len(agent_client_a.get("/worklist/").context["rows"]) == 8
    assert many == few


def test_another_clinic_sees_nothing_of_alphas_unhappy_contacts(
    unhappy_tasks, admin_client_b, tenant_b, in_tenant
):
    tasks = _due_tasks(tenant_b, in_tenant, 2)

    response = admin_client_b.get("/worklist/")

    assert [row["unhappy"] for row in response.context["rows"]] == [[], []]
    assert "unhappy" not in response.content.decode().split("<tbody>")[1].split("</tbody>")[0]
    assert admin_client_b.get(f"/tasks/{tasks[0].pk}/").context["unhappy"] == []

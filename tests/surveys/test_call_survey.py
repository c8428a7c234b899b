"""An agent fills the step's survey inside the call page; it is saved with the attempt."""

from crm.models import CallAttempt, OutcomeCode
from surveys.models import SurveyResponse
from tests.crm.conftest import in_english


def _reached(tenant_a, in_tenant):
    with in_tenant(tenant_a):
        return OutcomeCode.objects.filter(category="reached").first().pk


def test_the_agent_fills_the_survey_during_the_call(
    agent_client_a, agent_a, call_task, tenant_a, in_tenant
):
    agent_client_a.post(f"/tasks/{call_task.pk}/claim/")
    page = agent_client_a.get(f"/tasks/{call_task.pk}/").content.decode()
    assert "总体满意度" in page and 'name="q_q1"' in page

    done = agent_client_a.post(
        f"/tasks/{call_task.pk}/attempts/",
        {"outcome": _reached(tenant_a, in_tenant), "notes": "恢复良好", "q_q1": "4", "q_q2": "5"},
    )

    assert done.status_code == 302
    with in_tenant(tenant_a):
        response = SurveyResponse.objects.get()
        assert (response.source, response.task_id, response.answered_by) == (
            "call",
            call_task.pk,
            agent_a,
        )
        assert CallAttempt.objects.get().task_id == call_task.pk
        call_task.refresh_from_db()
        assert call_task.status == "completed"


def test_a_half_filled_survey_keeps_the_call_unlogged_with_a_message(
    agent_client_a, call_task, tenant_a, in_tenant
):
    in_english(agent_client_a)
    agent_client_a.post(f"/tasks/{call_task.pk}/claim/")
    page = agent_client_a.post(
        f"/tasks/{call_task.pk}/attempts/",
        {"outcome": _reached(tenant_a, in_tenant), "q_q1": "9"},
    )
    assert page.status_code == 400
    text = page.content.decode()
    assert "Some survey answers are missing or not valid." in text
    assert "Choose a value from 1 to 5." in text and "Please answer this question." in text
    with in_tenant(tenant_a):
        assert CallAttempt.objects.count() == 0 and SurveyResponse.objects.count() == 0


def test_a_declined_survey_still_logs_the_call(agent_client_a, call_task, tenant_a, in_tenant):
    agent_client_a.post(f"/tasks/{call_task.pk}/claim/")
    agent_client_a.post(
        f"/tasks/{call_task.pk}/attempts/", {"outcome": _reached(tenant_a, in_tenant)}
    )
    with in_tenant(tenant_a):
        assert CallAttempt.objects.count() == 1 and SurveyResponse.objects.count() == 0

"""Logging a call from a call-centre system on a follow-up."""

from datetime import timedelta

from django.utils import timezone

from crm.models import CallAttempt, FollowUpTask, OutcomeCode
from crm.services.planning import encounters_plan
from tests.api.conftest import ApiClient, make_key
from tests.factories import EncounterFactory, StaffFactory


def open_task(tenant, in_tenant):
    with in_tenant(tenant):
        encounter = EncounterFactory(occurred_at=timezone.now() - timedelta(days=3))
        encounters_plan([encounter.pk])
        return FollowUpTask.objects.get(encounter=encounter)


def test_a_reached_call_completes_the_follow_up(api_a, tenant_a, in_tenant):
    task = open_task(tenant_a, in_tenant)
    with in_tenant(tenant_a):
        agent = StaffFactory(email="cti-agent@alpha.test", role="agent")
        reached = OutcomeCode.objects.filter(category="reached").first()
    response = api_a.post(
        f"/tasks/{task.pk}/attempts",
        {"outcome": reached.code, "agent": "cti-agent@alpha.test", "notes": "恢复良好",
         "duration_seconds": 180},
    )  # fmt: skip
    assert response.status_code == 201
    body = response.json()
    assert (body["task_id"], body["agent_id"], body["category"]) == (task.pk, agent.pk, "reached")
    with in_tenant(tenant_a):
        task.refresh_from_db()
        assert (task.status, task.result_summary, task.attempts_count) == (
            "completed",
            "恢复良好",
            1,
        )
    # The follow-up is closed now: a second call is refused and not recorded.
    again = api_a.post(
        f"/tasks/{task.pk}/attempts", {"outcome": reached.code, "agent": "cti-agent@alpha.test"}
    )
    assert (again.status_code, again.json()["code"]) == (409, "task_closed")
    with in_tenant(tenant_a):
        assert CallAttempt.objects.filter(task=task).count() == 1


def test_bad_attempts_are_refused_with_a_code_and_change_nothing(api_a, tenant_a, in_tenant):
    task = open_task(tenant_a, in_tenant)
    with in_tenant(tenant_a):
        StaffFactory(email="cti-agent@alpha.test", role="agent")
        StaffFactory(email="viewer@alpha.test", role="viewer")
        code = OutcomeCode.objects.filter(category="no_answer").first().code
    future = (timezone.now() + timedelta(hours=2)).isoformat()
    cases = [
        ({"outcome": "nope", "agent": "cti-agent@alpha.test"}, 422, "unknown_outcome"),
        ({"outcome": code, "agent": "nobody@alpha.test"}, 422, "unknown_agent"),
        ({"outcome": code, "agent": "viewer@alpha.test"}, 422, "unknown_agent"),
        ({"outcome": code, "agent": "cti-agent@alpha.test", "at": future}, 422, "invalid_time"),
        ({"outcome": code, "agent": "cti-agent@alpha.test", "phone": "+1"}, 422, "unknown_phone"),
        ({"agent": "cti-agent@alpha.test"}, 422, "invalid_request"),
    ]
    for body, status, error in cases:
        response = api_a.post(f"/tasks/{task.pk}/attempts", body)
        assert (response.status_code, response.json()["code"]) == (status, error), body
    assert api_a.post("/tasks/999999/attempts", cases[0][0]).status_code == 404
    with in_tenant(tenant_a):
        task.refresh_from_db()
        assert (task.status, task.attempts_count) == ("pending", 0)
        assert not CallAttempt.objects.exists()


def test_tenant_b_cannot_log_on_tenant_as_task(tenant_a, tenant_b, in_tenant):
    task = open_task(tenant_a, in_tenant)
    _key, key = make_key(tenant_b, in_tenant)
    response = ApiClient(tenant_b, key).post(
        f"/tasks/{task.pk}/attempts", {"outcome": "reached", "agent": "boss@beta.test"}
    )
    assert response.status_code == 404
    with in_tenant(tenant_a):
        task.refresh_from_db()
        assert task.attempts_count == 0

"""The four events of the webhooks fire from where things happen: the patient's survey link,
the agent's call page, the API of a call-centre system, and the periodic tick. Each is
posted signed, with ids and figures only."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from crm.models import Complaint, OutcomeCode, WebhookDelivery
from crm.services import webhooks
from crm.services.followup import followup_tick
from surveys.models import SurveyResponse
from tests.api.test_survey_answers import call_logged, cti_agent
from tests.api.test_webhooks import verify
from tests.crm.test_outbox import _message_task, _signed_post, all_day, fake_sms  # noqa: F401
from tests.surveys.conftest import survey_with

ALL_EVENTS = ["followup.completed", "complaint.created", "complaint.overdue", "survey.answered"]
# A dissatisfied response with a complaint said in words: all of it stays in CareBridge.
SAID = "护士态度很差"


@pytest.fixture(autouse=True)
def _local_receiver_allowed(settings):
    settings.WEBHOOK_ALLOW_PRIVATE = True


@pytest.fixture
def endpoint(tenant_a, in_tenant, receiver):
    with in_tenant(tenant_a):
        return webhooks.webhook_endpoint_create(url=receiver.url, events=ALL_EVENTS)


def received(receiver, endpoint) -> dict[str, dict]:
    """The posted events by type, each checked for its signature."""
    events = {}
    for request in receiver.received:
        assert verify(endpoint.secret, request["headers"], request["body"])
        payload = json.loads(request["body"])
        assert request["headers"]["Carebridge-Event"] == payload["type"]
        events[payload["type"]] = payload["data"]
        for private in (SAID, "赵六", "王芳", "13800138"):
            assert private not in request["body"].decode()
    return events


def assert_answered(data, response, task, complaint):
    assert (data["response_id"], data["task_id"], data["contact_id"]) == (
        response.pk,
        task.pk,
        task.contact_id,
    )
    assert (data["template_id"], data["version"], data["source"]) == (
        response.template_id,
        1,
        response.source,
    )
    assert (data["score"], data["satisfaction"], data["complaint_id"]) == (
        1.0,
        "dissatisfied",
        complaint.pk,
    )
    assert data["answers"] == [
        {"question": "q1", "kind": "rating", "dimension": "overall", "number": 1},
        {"question": "q2", "kind": "rating", "dimension": "doctor", "number": 1},
    ]


def test_a_survey_answered_by_link_posts_three_events(
    client_a, link, endpoint, receiver, tenant_a, in_tenant, django_capture_on_commit_callbacks
):
    invitation, token = link

    with django_capture_on_commit_callbacks(execute=True):
        done = client_a.post(f"/s/{token}/", {"q_q1": "1", "q_q2": "1", "q_q6": SAID})

    assert done.status_code == 302
    events = received(receiver, endpoint)
    assert set(events) == {"survey.answered", "followup.completed", "complaint.created"}
    with in_tenant(tenant_a):
        response = SurveyResponse.objects.get()
        complaint = Complaint.objects.get()
        task = response.task
    assert response.source == "link" and task.pk == invitation.task_id
    assert_answered(events["survey.answered"], response, task, complaint)
    assert events["followup.completed"]["task_id"] == task.pk
    assert events["complaint.created"]["complaint_id"] == complaint.pk


def test_a_survey_filled_on_the_call_page_posts_three_events(
    agent_client_a, call_task, endpoint, receiver, tenant_a, in_tenant,
    django_capture_on_commit_callbacks,
):  # fmt: skip
    with in_tenant(tenant_a):
        reached = OutcomeCode.objects.filter(category="reached").first()

    with django_capture_on_commit_callbacks(execute=True):
        done = agent_client_a.post(
            f"/tasks/{call_task.pk}/attempts/",
            {"outcome": reached.pk, "q_q1": "1", "q_q2": "1", "q_q6": SAID},
        )

    assert done.status_code == 302
    events = received(receiver, endpoint)
    assert set(events) == {"survey.answered", "followup.completed", "complaint.created"}
    with in_tenant(tenant_a):
        response = SurveyResponse.objects.get()
        complaint = Complaint.objects.get()
    assert response.source == "call"
    assert_answered(events["survey.answered"], response, call_task, complaint)
    assert events["followup.completed"]["task_id"] == call_task.pk


def test_a_survey_recorded_through_the_api_posts_three_events(
    api_a, call_task, endpoint, receiver, tenant_a, in_tenant, django_capture_on_commit_callbacks
):
    cti_agent(tenant_a, in_tenant)

    with django_capture_on_commit_callbacks(execute=True):
        done = call_logged(api_a, call_task, tenant_a, in_tenant, {"q1": 1, "q2": 1, "q6": SAID})

    assert done.status_code == 201
    events = received(receiver, endpoint)
    assert set(events) == {"survey.answered", "followup.completed", "complaint.created"}
    with in_tenant(tenant_a):
        response = SurveyResponse.objects.get()
        complaint = Complaint.objects.get()
    assert done.json()["survey_response_id"] == response.pk
    assert_answered(events["survey.answered"], response, call_task, complaint)
    assert events["complaint.created"]["task_id"] == call_task.pk


def test_a_digit_reply_to_the_survey_sms_posts_survey_answered(
    client_a, tenant_a, in_tenant, all_day, fake_sms, endpoint, receiver,  # noqa: F811 (imported)
    django_capture_on_commit_callbacks,
):  # fmt: skip
    with in_tenant(tenant_a):
        one = survey_with([{"kind": "rating", "text_zh": "打分", "dimension": "overall"}])
    task = _message_task(tenant_a, in_tenant, channel="sms", survey=one, phone="+8613800138229")
    with in_tenant(tenant_a), django_capture_on_commit_callbacks(execute=True):
        followup_tick()
    reply = {"MessageSid": "SMin9", "From": "13800138229", "Body": "3"}

    with django_capture_on_commit_callbacks(execute=True):
        _signed_post(client_a, "/hooks/sms/inbound/", reply, fake_sms.auth_token)

    events = received(receiver, endpoint)
    assert set(events) == {"survey.answered", "followup.completed"}
    with in_tenant(tenant_a):
        response = SurveyResponse.objects.get()
    answered = events["survey.answered"]
    assert (answered["response_id"], answered["source"], answered["task_id"]) == (
        response.pk,
        "sms_reply",
        task.pk,
    )
    assert (answered["score"], answered["satisfaction"], answered["complaint_id"]) == (
        3.0,
        "neutral",
        None,
    )


def test_a_refused_api_call_posts_nothing(
    api_a, call_task, endpoint, receiver, tenant_a, in_tenant, django_capture_on_commit_callbacks
):
    cti_agent(tenant_a, in_tenant)

    with django_capture_on_commit_callbacks(execute=True):
        refused = call_logged(api_a, call_task, tenant_a, in_tenant, {"q1": 9})

    assert refused.status_code == 422
    assert receiver.received == []
    with in_tenant(tenant_a):
        assert not WebhookDelivery.objects.exists()


def test_an_overdue_complaint_is_posted_by_the_tick(
    endpoint, receiver, tenant_a, in_tenant, django_capture_on_commit_callbacks
):
    from crm.services.feedback import complaint_open

    with in_tenant(tenant_a):
        complaint = complaint_open(summary=SAID, source="phone_in")
        Complaint.objects.filter(pk=complaint.pk).update(
            deadline=timezone.now() - timedelta(hours=1)
        )
        with django_capture_on_commit_callbacks(execute=True):
            assert followup_tick().complaints_escalated == 1

    events = received(receiver, endpoint)
    assert set(events) == {"complaint.overdue"}
    assert (events["complaint.overdue"]["complaint_id"], events["complaint.overdue"]["status"]) == (
        complaint.pk,
        "open",
    )

"""The types the schema states exactly (crm.api.schemas): times are RFC 3339 with their
offset between 1900 and 2999, days YYYY-MM-DD, cursors only those the API gives, statuses
per resource. Anything else is refused with a code naming the field, and changes nothing."""

import base64
from datetime import timedelta

import pytest
from django.utils import timezone

from crm.models import CallAttempt, FollowUpTask, OutcomeCode
from tests.api.conftest import ApiClient, make_key
from tests.api.test_attempts import open_task
from tests.factories import EncounterFactory, StaffFactory


def _refused_field(response) -> tuple[int, str, list[str]]:
    body = response.json()
    return response.status_code, body["code"], [e["field"] for e in body.get("errors", [])]


@pytest.mark.parametrize(
    "value",
    [
        "0.5",  # was read as half a second after 1970
        "1732270200",  # a Unix time
        "2026-11-22T10:30:00",  # no offset: in which zone?
        "2026-11-22",  # a day, not a time
        "1899-12-31T23:59:59+08:00",
        "3000-01-01T00:00:00Z",
        "2026-02-30T10:30:00+08:00",  # no such day
    ],
)
def test_a_time_that_is_not_rfc_3339_with_its_offset_is_a_422(api_a, value):
    response = api_a.get("/tasks", {"updated_since": value})
    assert _refused_field(response) == (422, "invalid_request", ["query.updated_since"])


def test_the_refusal_of_a_time_says_what_to_send(api_a):
    response = api_a.get("/tasks", {"updated_since": "0.5"})
    assert "e.g. 2026-11-22T10:30:00+08:00" in response.json()["errors"][0]["message"]


def test_a_time_with_its_offset_filters(api_a, tenant_a, in_tenant):
    with in_tenant(tenant_a):
        EncounterFactory(source="his", external_id="ZY-1")
    earlier = (timezone.now() - timedelta(minutes=5)).astimezone(timezone.get_fixed_timezone(480))
    later = timezone.now() + timedelta(minutes=5)
    for since, found in ((earlier.isoformat(), ["ZY-1"]), (later.isoformat(), [])):
        response = api_a.get("/encounters", {"updated_since": since})
        assert [e["external_id"] for e in response.json()["items"]] == found


def test_an_attempt_time_without_offset_is_refused_and_nothing_is_recorded(
    api_a, tenant_a, in_tenant
):
    task = open_task(tenant_a, in_tenant)
    with in_tenant(tenant_a):
        StaffFactory(email="cti-agent@alpha.test", role="agent")
        code = OutcomeCode.objects.filter(category="no_answer").first().code
    naive = timezone.localtime().replace(tzinfo=None).isoformat(timespec="seconds")
    body = {"outcome": code, "agent": "cti-agent@alpha.test", "at": naive}
    response = api_a.post(f"/tasks/{task.pk}/attempts", body)
    assert _refused_field(response) == (422, "invalid_request", ["body.payload.at"])
    with in_tenant(tenant_a):
        assert (
            FollowUpTask.objects.get(pk=task.pk).attempts_count,
            CallAttempt.objects.count(),
        ) == (0, 0)


def test_an_empty_outcome_or_agent_is_refused_by_the_schema(api_a, tenant_a, in_tenant):
    task = open_task(tenant_a, in_tenant)
    response = api_a.post(f"/tasks/{task.pk}/attempts", {"outcome": "", "agent": ""})
    assert _refused_field(response) == (
        422,
        "invalid_request",
        ["body.payload.outcome", "body.payload.agent"],
    )


@pytest.mark.parametrize("value", ["0", "1800-01-01", "3000-01-01", "2026-1-5"])
def test_a_report_day_outside_the_calendar_is_a_422(tenant_a, in_tenant, value):
    reports = ApiClient(tenant_a, make_key(tenant_a, in_tenant, scopes=("reports",))[1])
    response = reports.get("/reports/followup", {"start": value, "end": "2026-11-30"})
    assert _refused_field(response) == (422, "invalid_request", ["query.start"])


def test_a_cursor_past_every_id_is_an_empty_last_page(api_a, tenant_a, in_tenant):
    with in_tenant(tenant_a):
        EncounterFactory()
    past = base64.urlsafe_b64encode(b"id:99999999999").decode().rstrip("=")
    response = api_a.get("/encounters", {"cursor": past})
    assert (response.status_code, response.json()) == (200, {"items": [], "next": None})


def test_an_empty_cursor_is_the_first_page(api_a, tenant_a, in_tenant):
    with in_tenant(tenant_a):
        encounter = EncounterFactory()
    response = api_a.get("/encounters", {"cursor": ""})
    assert [e["id"] for e in response.json()["items"]] == [encounter.pk]


def test_tasks_and_complaints_each_state_their_own_statuses(api_a):
    schema = api_a.client.get("/api/v1/openapi.json").json()

    def statuses(path):
        (parameter,) = [
            p for p in schema["paths"][path]["get"]["parameters"] if p["name"] == "status"
        ]
        return parameter["schema"]["anyOf"][0]["enum"]

    assert statuses("/api/v1/tasks") == list(FollowUpTask.Status.values)
    assert "open" not in statuses("/api/v1/tasks")
    assert statuses("/api/v1/complaints")[0] == "open"
    assert api_a.get("/tasks", {"status": "open"}).status_code == 422


def test_a_query_parameter_given_twice_is_a_422(api_a):
    response = api_a.get("/encounters", {"source": ["his", "pacs"]})
    assert _refused_field(response) == (422, "invalid_request", ["query.source"])


def test_a_query_value_without_a_name_is_a_422(api_a):
    response = api_a.client.get("/api/v1/tasks?=false", headers=api_a.headers)
    assert _refused_field(response) == (422, "invalid_request", ["query."])

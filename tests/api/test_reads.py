"""Reading encounters, follow-ups, attempts, survey responses and complaints: ids and codes,
filters, cursor pagination; contact details only through the audit-logged endpoint."""

from datetime import timedelta

from django.utils import timezone

from crm.models import AuditEntry, CallAttempt, FollowUpTask, OutcomeCode
from crm.services.feedback import complaint_open
from crm.services.planning import encounters_plan
from surveys.models import SurveyAnswer, SurveyResponse
from tests.api.conftest import ApiClient, make_key
from tests.factories import ContactFactory, EncounterFactory, StaffFactory
from tests.surveys.conftest import STANDARD, survey_with


def test_encounters_page_through_with_a_cursor(api_a, tenant_a, in_tenant):
    with in_tenant(tenant_a):
        ids = [EncounterFactory(source="his", external_id=f"E{i}").pk for i in range(5)]
    first = api_a.get("/encounters", {"limit": 2}).json()
    assert [e["id"] for e in first["items"]] == ids[:2]
    second = api_a.get("/encounters", {"limit": 2, "cursor": first["next"]}).json()
    assert [e["id"] for e in second["items"]] == ids[2:4]
    third = api_a.get("/encounters", {"limit": 2, "cursor": second["next"]}).json()
    assert ([e["id"] for e in third["items"]], third["next"]) == (ids[4:], None)
    only = api_a.get("/encounters", {"source": "his", "external_id": "E3"}).json()
    assert [e["id"] for e in only["items"]] == [ids[3]]
    # No personal details in the list.
    assert "name" not in only["items"][0] and "phones" not in only["items"][0]


def test_a_cursor_not_given_by_the_api_is_a_400(api_a):
    response = api_a.get("/encounters", {"cursor": "garbage!"})
    assert (response.status_code, response.json()["code"]) == (400, "invalid_cursor")


def test_a_limit_out_of_range_is_a_422(api_a):
    response = api_a.get("/encounters", {"limit": 5000})
    assert (response.status_code, response.json()["code"]) == (422, "invalid_request")


def test_completed_follow_ups_since_a_time_with_their_attempts(api_a, tenant_a, in_tenant):
    with in_tenant(tenant_a):
        agent = StaffFactory(role="agent")
        encounter = EncounterFactory(source="his", external_id="ZY-9")
        encounters_plan([encounter.pk])
        task = FollowUpTask.objects.get(encounter=encounter)
        other = EncounterFactory()
        encounters_plan([other.pk])
        reached = OutcomeCode.objects.filter(category="reached").first()
        attempt = CallAttempt.objects.create(
            task=task,
            agent=agent,
            channel=task.channel,
            started_at=timezone.now(),
            outcome=reached,
            category=reached.category,
            notes="恢复良好",
        )
        FollowUpTask.objects.filter(pk=task.pk).update(
            status="completed", completed_at=timezone.now(), result_summary="恢复良好"
        )
    since = (timezone.now() - timedelta(minutes=5)).isoformat()
    tasks = api_a.get("/tasks", {"status": "completed", "updated_since": since}).json()
    assert [(t["id"], t["external_id"], t["status"]) for t in tasks["items"]] == [
        (task.pk, "ZY-9", "completed")
    ]
    later = (timezone.now() + timedelta(minutes=5)).isoformat()
    assert api_a.get("/tasks", {"updated_since": later}).json()["items"] == []
    attempts = api_a.get("/attempts", {"task_id": task.pk}).json()["items"]
    assert [(a["id"], a["outcome"], a["notes"]) for a in attempts] == [
        (attempt.pk, reached.code, "恢复良好")
    ]
    assert api_a.get("/tasks", {"status": "nonsense"}).status_code == 422


def test_survey_responses_and_complaints(api_a, tenant_a, in_tenant):
    with in_tenant(tenant_a):
        template = survey_with(STANDARD)
        contact = ContactFactory()
        response = SurveyResponse.objects.create(
            version=template.published,
            template=template,
            source="call",
            contact=contact,
            score=4.5,
            satisfaction="satisfied",
            submitted_at=timezone.now(),
        )
        SurveyAnswer.objects.create(
            response=response, question_key="q1", kind="rating", dimension="overall", number=5
        )
        complaint = complaint_open(summary="等了两个小时", source="phone_in", contact=contact)
    items = api_a.get("/survey-responses").json()["items"]
    assert [(r["id"], r["score"], r["answers"][0]["number"]) for r in items] == [
        (response.pk, 4.5, 5)
    ]
    complaints = api_a.get("/complaints", {"status": "open"}).json()["items"]
    assert [(c["id"], c["contact_id"], c["status"]) for c in complaints] == [
        (complaint.pk, contact.pk, "open")
    ]
    assert "summary" not in complaints[0]
    assert complaints[0]["acknowledge_by"] and complaints[0]["acknowledged_at"] is None


def test_reading_a_contact_is_audit_logged(api_a, key_a, tenant_a, in_tenant):
    with in_tenant(tenant_a):
        contact = ContactFactory(name="王芳", phone="+8613800138111")
    response = api_a.get(f"/contacts/{contact.pk}")
    assert response.status_code == 200
    assert response.json()["phones"] == [
        {"number": "+8613800138111", "label": "mobile", "invalid": False}
    ]
    with in_tenant(tenant_a):
        entry = AuditEntry.objects.get(contact=contact)
        assert (entry.action, entry.object_id) == ("contact_viewed", f"api_key:{key_a[0].pk}")


def test_reads_need_the_read_scope(tenant_a, in_tenant):
    _key, key = make_key(tenant_a, in_tenant, scopes=["write"])
    response = ApiClient(tenant_a, key).get("/tasks")
    assert (response.status_code, response.json()["code"]) == (403, "scope_missing")


def test_tenant_b_cannot_read_tenant_as_records(tenant_a, tenant_b, in_tenant):
    with in_tenant(tenant_a):
        contact = ContactFactory()
        encounter = EncounterFactory(contact=contact)
        encounters_plan([encounter.pk])
        complaint_open(summary="投诉", source="phone_in", contact=contact)
    _key, key = make_key(tenant_b, in_tenant)
    api_b = ApiClient(tenant_b, key)
    for path in ("/encounters", "/tasks", "/attempts", "/survey-responses", "/complaints"):
        assert api_b.get(path).json() == {"items": [], "next": None}, path
    assert api_b.get(f"/contacts/{contact.pk}").status_code == 404
    with in_tenant(tenant_a):
        assert not AuditEntry.objects.filter(contact=contact).exists()


def test_openapi_schema_and_docs_on_the_tenant_host(tenant_a):
    client = ApiClient(tenant_a, None).client
    schema = client.get("/api/v1/openapi.json").json()
    assert schema["openapi"].startswith("3.")
    assert {
        "/api/v1/encounters/bulk",
        "/api/v1/encounters",
        "/api/v1/tasks",
        "/api/v1/attempts",
        "/api/v1/survey-responses",
        "/api/v1/complaints",
        "/api/v1/contacts/{contact_id}",
    } <= set(schema["paths"])
    assert schema["components"]["securitySchemes"]["ApiKeyAuth"]["scheme"] == "bearer"
    docs = client.get("/api/v1/docs")
    assert docs.status_code == 200
    page = docs.content.decode()
    # The docs load their scripts from our own static files (no CDN), so a strict
    # script-src 'self' policy does not break them.
    assert "/static/ninja/swagger-ui-bundle.js" in page and "cdn" not in page.lower()
    assert client.get("/static/ninja/swagger-ui-init.js").status_code == 200


def test_the_api_is_not_on_the_public_host(public_client):
    assert public_client.get("/api/v1/openapi.json").status_code == 404

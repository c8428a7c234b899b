"""The API and the clinic's own encounter kinds (issue 19 §2): a pushed row may name one by
its code or name; an unknown kind rejects the row, listing the clinic's kinds, and writes
nothing; the list of encounters filters by any of the clinic's kinds and refuses an unknown
one with a 422; another clinic's kinds are unknown here."""

import pytest

from crm.models import Contact, Encounter
from crm.services import kinds
from tests.api.conftest import ApiClient, make_key
from tests.api.test_bulk import ROW, push

pytestmark = pytest.mark.now("2026-11-24 09:00")


@pytest.fixture
def hire(tenant_a, in_tenant):
    with in_tenant(tenant_a):
        return kinds.encounter_kind_add(name="New hire", code="new-hire")


def test_a_row_of_the_clinics_kind_is_accepted_by_code_or_name(
    api_a, hire, tenant_a, in_tenant, django_capture_on_commit_callbacks
):
    rows = [
        {**ROW, "kind": "new-hire"},
        {**ROW, "external_id": "HR-2", "record_no": "HR2", "kind": "NEW HIRE"},
    ]
    response = push(api_a, {"source": "hr", "rows": rows}, django_capture_on_commit_callbacks)
    assert response.status_code == 200
    assert (response.json()["created"], response.json()["rejected"]) == (2, 0)
    with in_tenant(tenant_a):
        assert list(Encounter.objects.values_list("kind", flat=True)) == ["new-hire"] * 2
    listed = api_a.get("/encounters", {"kind": "new-hire"})
    assert listed.status_code == 200
    assert [item["kind"] for item in listed.json()["items"]] == ["new-hire", "new-hire"]


def test_a_row_of_an_unknown_kind_is_rejected_with_the_clinics_kinds_and_writes_nothing(
    api_a, hire, tenant_a, in_tenant, django_capture_on_commit_callbacks
):
    response = push(
        api_a,
        {"source": "hr", "rows": [{**ROW, "kind": "spaceship"}]},
        django_capture_on_commit_callbacks,
    )
    body = response.json()
    assert (body["created"], body["rejected"]) == (0, 1)
    (error,) = body["errors"]
    assert (error["index"], error["field"], error["code"]) == (0, "kind", "choice")
    assert error["message"].startswith("Unknown kind “spaceship”. The clinic's kinds: Discharge,")
    assert "New hire" in error["message"]
    with in_tenant(tenant_a):
        assert not Encounter.objects.exists()
        assert not Contact.objects.filter(record_no="ZY001").exists()


def test_listing_by_an_unknown_kind_is_a_422_naming_the_clinics_kinds(api_a, hire):
    response = api_a.get("/encounters", {"kind": "spaceship"})
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "unknown_kind"
    assert body["message"].startswith("Unknown kind “spaceship”. The clinic's kinds: ")
    assert "new-hire" in body["message"]


def test_another_clinic_cannot_use_a_clinics_kind(
    hire, tenant_b, in_tenant, django_capture_on_commit_callbacks
):
    api_b = ApiClient(tenant_b, make_key(tenant_b, in_tenant)[1])
    assert api_b.get("/encounters", {"kind": "new-hire"}).status_code == 422
    response = push(
        api_b,
        {"source": "hr", "rows": [{**ROW, "department": "", "kind": "new-hire"}]},
        django_capture_on_commit_callbacks,
    )
    assert response.json()["rejected"] == 1
    assert "New hire" not in response.json()["errors"][0]["message"]
    with in_tenant(tenant_b):
        assert not Encounter.objects.exists()

"""Bulk upsert of contacts and encounters: the import's row checks, per-row errors with
index/field/code, accepted rows committed, rejected rows writing nothing, idempotent."""

import gc
import json

import pytest
from django.utils import translation

from crm.models import Contact, ContactPhone, Encounter, FollowUpTask
from saas.memory import gc_paused
from tests.api.conftest import ApiClient, make_key

# The pushed discharges are of 20-23 November 2026, sent a few days later (a date in the
# future is refused).
pytestmark = pytest.mark.now("2026-11-24 09:00")

ROW = {
    "external_id": "ZY-1001",
    "name": "张三",
    "record_no": "ZY001",
    "sex": "男",
    "age": 65,
    "phone": "13800138001",
    "department": "orthopaedics",
    "occurred_at": "2026-11-20 10:30",
    "diagnosis": "股骨颈骨折",
    "discharge_outcome": "好转",
}


def rows(n, **extra):
    return [
        {
            "external_id": f"E{i}",
            "name": f"患者{i}",
            "record_no": f"R{i}",
            "phone": f"1380013{i:04d}",
            "occurred_at": "2026-11-20",
            **extra,
        }
        for i in range(n)
    ]


def push(api, body, capture):
    with translation.override("en"), capture(execute=True):
        return api.post("/encounters/bulk", body)


def test_bulk_creates_contacts_encounters_and_plans_tasks(
    api_a, tenant_a, in_tenant, django_capture_on_commit_callbacks
):
    response = push(api_a, {"source": "his", "rows": [ROW]}, django_capture_on_commit_callbacks)
    assert response.status_code == 200
    body = response.json()
    assert (body["created"], body["updated"], body["unchanged"], body["rejected"]) == (1, 0, 0, 0)
    with in_tenant(tenant_a):
        encounter = Encounter.objects.select_related("contact", "department").get()
        assert body["encounters"] == [
            {"index": 0, "external_id": "ZY-1001", "id": encounter.pk, "outcome": "created"}
        ]
        assert (encounter.source, encounter.external_id, encounter.kind) == (
            "his",
            "ZY-1001",
            "discharge",
        )
        assert (encounter.department.code, encounter.age, encounter.discharge_outcome) == (
            "orthopaedics",
            65,
            "improved",
        )
        assert (encounter.contact.name, encounter.contact.sex, encounter.contact.record_no) == (
            "张三",
            "M",
            "ZY001",
        )
        assert list(encounter.contact.phones.values_list("number", flat=True)) == ["+8613800138001"]
        # The hospital's discharge rule planned its follow-up.
        assert FollowUpTask.objects.filter(encounter=encounter).count() == 1


def test_the_same_call_again_changes_nothing_and_a_change_is_an_update(
    api_a, tenant_a, in_tenant, django_capture_on_commit_callbacks
):
    body = {"rows": rows(3)}
    push(api_a, body, django_capture_on_commit_callbacks)
    with in_tenant(tenant_a):
        before = list(Encounter.objects.order_by("pk").values("pk", "updated_at"))
        tasks = FollowUpTask.objects.count()
    again = push(api_a, body, django_capture_on_commit_callbacks).json()
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 3)
    with in_tenant(tenant_a):
        assert list(Encounter.objects.order_by("pk").values("pk", "updated_at")) == before
        assert Contact.objects.count() == 3
        assert FollowUpTask.objects.count() == tasks

    changed = rows(3)
    changed[1]["diagnosis"] = "肺炎"
    changed[2]["phone"] = "13900139000"  # a new number for the same person
    result = push(api_a, {"rows": changed}, django_capture_on_commit_callbacks).json()
    assert (result["created"], result["updated"], result["unchanged"]) == (0, 2, 1)
    with in_tenant(tenant_a):
        assert Encounter.objects.get(external_id="E1").diagnosis == "肺炎"
        assert set(
            ContactPhone.objects.filter(contact__record_no="R2").values_list("number", flat=True)
        ) == {"+8613800130002", "+8613900139000"}


def test_a_known_record_number_joins_the_existing_contact(
    api_a, tenant_a, in_tenant, django_capture_on_commit_callbacks
):
    first = dict(ROW)
    second = dict(ROW, external_id="ZY-2002", occurred_at="2026-11-21", address="杭州")
    push(api_a, {"rows": [first]}, django_capture_on_commit_callbacks)
    result = push(api_a, {"rows": [second]}, django_capture_on_commit_callbacks).json()
    assert result["created"] == 1
    with in_tenant(tenant_a):
        contact = Contact.objects.get(record_no="ZY001")
        assert contact.encounters.count() == 2
        assert contact.address == "杭州"
        # A later discharge is a readmission: the first stay's open follow-up is cancelled.
        first_task = FollowUpTask.objects.get(encounter__external_id="ZY-1001")
        assert (first_task.status, first_task.reason) == ("cancelled", "readmitted")


def test_mixed_rows_commit_the_valid_ones_and_report_each_bad_one(
    api_a, tenant_a, in_tenant, django_capture_on_commit_callbacks
):
    good = rows(2)
    bad = [
        dict(ROW, external_id="B1", bed_colour="red"),  # unknown field
        dict(ROW, external_id="B2", name={"first": "张"}),  # wrong type
        dict(ROW, external_id="B3", occurred_at="2099-01-01"),  # future
        dict(ROW, external_id="B4", occurred_at="yesterday"),  # unparsable
        dict(ROW, external_id="B5", phone="12345"),  # not a phone number
        dict(ROW, external_id="B6", age=True),  # wrong type
        {k: v for k, v in ROW.items() if k != "external_id"},  # no external id
        dict(good[0]),  # the same external id twice in one call
    ]
    response = push(api_a, {"rows": good + bad}, django_capture_on_commit_callbacks)
    assert response.status_code == 200
    body = response.json()
    assert (body["created"], body["rejected"]) == (2, 8)
    assert body["errors"] == [
        {"index": 2, "field": "bed_colour", "code": "unknown_field",
         "message": "Unknown field “bed_colour”."},
        {"index": 3, "field": "name", "code": "wrong_type", "message": "Name must be text."},
        {"index": 3, "field": "name", "code": "required", "message": "Name is missing."},
        {"index": 4, "field": "occurred_at", "code": "future_date",
         "message": "The date 2099-01-01 is in the future."},
        {"index": 5, "field": "occurred_at", "code": "date",
         "message": "“yesterday” is not a date (write 2026-11-23)."},
        {"index": 6, "field": "phone", "code": "phone",
         "message": "“12345” is not a valid phone number."},
        {"index": 7, "field": "age", "code": "wrong_type", "message": "Age must be text."},
        {"index": 8, "field": "external_id", "code": "required",
         "message": "External id is missing."},
        {"index": 9, "field": "external_id", "code": "duplicate",
         "message": "Same external id as row 0."},
    ]  # fmt: skip
    with in_tenant(tenant_a):
        assert set(Encounter.objects.values_list("external_id", flat=True)) == {"E0", "E1"}
        # Rejected rows left nothing behind, not even their contact or phone.
        assert not Contact.objects.filter(record_no="ZY001").exists()
        assert Contact.objects.count() == 2


def test_a_batch_over_the_limit_is_refused_whole(api_a, tenant_a, in_tenant):
    response = api_a.post("/encounters/bulk", {"rows": [{"external_id": "x"}] * 10_001})
    assert response.status_code == 413
    assert response.json() == {
        "code": "batch_too_large",
        "message": "At most 10000 rows per call; this one has 10001.",
    }
    with in_tenant(tenant_a):
        assert not Encounter.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        {"rows": "not a list"},
        {"rows": ["not an object"]},
        {"source": "bad source!", "rows": []},
        {},
    ],
)
def test_a_body_not_matching_the_schema_is_a_422_with_a_code(api_a, body):
    response = api_a.post("/encounters/bulk", body)
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_request"


def test_invalid_json_is_a_400_with_a_code(api_a):
    response = api_a.client.post(
        "/api/v1/encounters/bulk",
        "{nope",
        content_type="application/json",
        headers=api_a.headers,
    )
    assert response.status_code in (400, 422)
    assert response.json()["code"] in ("bad_request", "invalid_request")


def test_tenant_b_does_not_see_or_change_tenant_as_encounters(
    api_a, tenant_a, tenant_b, in_tenant, django_capture_on_commit_callbacks
):
    push(api_a, {"rows": [ROW]}, django_capture_on_commit_callbacks)
    _key, key = make_key(tenant_b, in_tenant)
    api_b = ApiClient(tenant_b, key)
    assert api_b.get("/encounters").json() == {"items": [], "next": None}
    changed = dict(ROW, diagnosis="改掉", department="")
    assert (
        push(api_b, {"rows": [changed]}, django_capture_on_commit_callbacks).json()["created"] == 1
    )
    with in_tenant(tenant_a):
        assert Encounter.objects.get(external_id="ZY-1001").diagnosis == "股骨颈骨折"


def test_a_record_number_claimed_twice_in_one_batch_does_not_fail_the_call(
    api_a, tenant_a, in_tenant, django_capture_on_commit_callbacks
):
    first = {
        "external_id": "E1",
        "name": "王五",
        "phone": "13800138009",
        "occurred_at": "2026-11-20",
    }
    push(api_a, {"rows": [first]}, django_capture_on_commit_callbacks)
    again = dict(first, record_no="R9")
    other = {"external_id": "E2", "name": "赵六", "record_no": "R9", "occurred_at": "2026-11-21"}
    response = push(api_a, {"rows": [again, other]}, django_capture_on_commit_callbacks)
    assert response.status_code == 200
    assert (response.json()["created"], response.json()["rejected"]) == (1, 0)
    with in_tenant(tenant_a):
        assert Contact.objects.filter(record_no="R9").count() == 1


def test_the_answer_matches_the_documented_schema(
    api_a, tenant_a, in_tenant, django_capture_on_commit_callbacks
):
    from crm.api.encounters import BulkOut

    body = {"rows": [*rows(2), dict(ROW, phone="12345")]}
    answer = push(api_a, body, django_capture_on_commit_callbacks).json()
    assert BulkOut.model_validate(answer).model_dump() == answer
    with in_tenant(tenant_a):
        ids = dict(Encounter.objects.values_list("external_id", "pk"))
    assert answer["encounters"] == [
        {"index": 0, "external_id": "E0", "id": ids["E0"], "outcome": "created"},
        {"index": 1, "external_id": "E1", "id": ids["E1"], "outcome": "created"},
    ]


def test_a_large_mixed_batch_commits_exactly_the_valid_rows(
    api_a, tenant_a, in_tenant, django_capture_on_commit_callbacks
):
    batch = rows(3000)
    for i in range(0, 3000, 7):
        batch[i]["phone"] = "1234567890"  # every seventh row: not a phone number
    for i in range(3, 3000, 11):
        batch[i]["bed"] = "床" * 21  # longer than the column: refused by the checks
    bad = set(range(0, 3000, 7)) | set(range(3, 3000, 11))
    answer = push(api_a, {"rows": batch}, django_capture_on_commit_callbacks).json()
    assert (answer["created"], answer["rejected"]) == (3000 - len(bad), len(bad))
    assert {e["index"] for e in answer["errors"]} == bad
    assert {e["code"] for e in answer["errors"]} == {"phone", "too_long"}
    with in_tenant(tenant_a):
        assert set(Encounter.objects.values_list("external_id", flat=True)) == {
            f"E{i}" for i in range(3000) if i not in bad
        }
        assert Contact.objects.count() == 3000 - len(bad)
        assert ContactPhone.objects.count() == 3000 - len(bad)
        assert FollowUpTask.objects.count() == 3000 - len(bad)

    again = push(api_a, {"rows": batch}, django_capture_on_commit_callbacks).json()
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 3000 - len(bad))


def test_rows_find_stored_contacts_by_name_and_phone_and_new_people_are_made_once(
    api_a, tenant_a, in_tenant, django_capture_on_commit_callbacks
):
    first = {
        "external_id": "V1",
        "name": "王五",
        "phone": "13800138009",
        "occurred_at": "2026-11-01",
    }
    push(api_a, {"rows": [first]}, django_capture_on_commit_callbacks)
    batch = [
        # The same person (same name, one of the phones), no record number: the stored contact.
        dict(first, external_id="V2", phone="13900139009,13800138009", email="w@example.cn"),
        # A new person twice in the batch: one contact, both phones, the last address given.
        {"external_id": "N1", "name": "李四", "record_no": "R77", "phone": "13700137001",
         "address": "杭州", "occurred_at": "2026-11-02"},
        {"external_id": "N2", "name": "李四", "record_no": "R77", "phone": "13700137002",
         "address": "宁波", "occurred_at": "2026-11-03"},
        {"external_id": "N3", "name": "李四", "record_no": "R77", "occurred_at": "2026-11-04"},
    ]  # fmt: skip
    answer = push(api_a, {"rows": batch}, django_capture_on_commit_callbacks).json()
    assert (answer["created"], answer["rejected"]) == (4, 0)
    with in_tenant(tenant_a):
        wang = Contact.objects.named("王五").get()
        assert (wang.encounters.count(), wang.email) == (2, "w@example.cn")
        assert list(wang.phones.values_list("number", "position")) == [
            ("+8613800138009", 0),
            ("+8613900139009", 1),
        ]
        li = Contact.objects.get(record_no="R77")
        assert (li.encounters.count(), li.address) == (3, "宁波")
        assert list(li.phones.values_list("number", "position")) == [
            ("+8613700137001", 0),
            ("+8613700137002", 1),
        ]
        assert Contact.objects.count() == 2


def test_a_death_flags_the_contact_and_closes_their_follow_ups(
    api_a, tenant_a, in_tenant, django_capture_on_commit_callbacks
):
    push(api_a, {"rows": [ROW]}, django_capture_on_commit_callbacks)
    died = dict(ROW, discharge_outcome="死亡")
    answer = push(api_a, {"rows": [died]}, django_capture_on_commit_callbacks).json()
    assert (answer["updated"], answer["encounters"][0]["outcome"]) == (1, "updated")
    with in_tenant(tenant_a):
        assert Contact.objects.get(record_no="ZY001").deceased
        tasks = FollowUpTask.objects.filter(encounter__external_id="ZY-1001")
        # The improved patient's call to the attending doctor is cancelled; a death is the
        # centre's rule's to record, as an exclusion (the hospital preset).
        assert set(tasks.values_list("rule__name", "status", "reason")) == {
            ("出院回访（好转/转院）", "cancelled", "deceased"),
            ("出院回访", "excluded", "deceased"),
        }


def test_new_encounters_past_the_plans_allowance_are_refused_and_write_nothing(
    api_a, tenant_a, in_tenant, account_a, plans, django_capture_on_commit_callbacks
):
    from billing.models import BillingAccount, Plan

    Plan.objects.filter(pk=plans["professional"].pk).update(encounters_per_month=2)
    BillingAccount.objects.filter(pk=account_a.pk).update(plan=plans["professional"])
    push(api_a, {"rows": rows(1)}, django_capture_on_commit_callbacks)
    changed = rows(3)
    changed[0]["diagnosis"] = "肺炎"  # a correction of a known encounter still goes through
    answer = push(api_a, {"rows": changed}, django_capture_on_commit_callbacks).json()
    assert (answer["created"], answer["updated"], answer["rejected"]) == (1, 1, 1)
    assert [(e["index"], e["code"]) for e in answer["errors"]] == [(2, "plan_limit")]
    with in_tenant(tenant_a):
        assert set(Encounter.objects.values_list("external_id", flat=True)) == {"E0", "E1"}
        assert not Contact.objects.filter(record_no="R2").exists()


def test_a_bulk_call_of_tenant_b_never_touches_tenant_as_contacts(
    api_a, tenant_a, tenant_b, in_tenant, django_capture_on_commit_callbacks
):
    push(api_a, {"rows": [ROW]}, django_capture_on_commit_callbacks)
    with in_tenant(tenant_a):
        before = list(Contact.objects.values()), list(ContactPhone.objects.values())
    _key, key = make_key(tenant_b, in_tenant)
    api_b = ApiClient(tenant_b, key)
    # Same external id, record number and phone, other details: tenant B's own person.
    theirs = dict(ROW, name="张三丰", address="武当山", phone="13800138001,13900139001",
                  department="")  # fmt: skip
    answer = push(api_b, {"rows": [theirs]}, django_capture_on_commit_callbacks).json()
    assert (answer["created"], answer["rejected"]) == (1, 0)
    again = push(api_b, {"rows": [theirs]}, django_capture_on_commit_callbacks).json()
    assert again["unchanged"] == 1
    with in_tenant(tenant_a):
        assert (list(Contact.objects.values()), list(ContactPhone.objects.values())) == before
    with in_tenant(tenant_b):
        contact = Contact.objects.get(record_no="ZY001")
        assert (contact.name, contact.address, contact.phones.count()) == ("张三丰", "武当山", 2)


def test_text_with_quotes_braces_commas_and_line_breaks_is_stored_as_sent(
    api_a, tenant_a, in_tenant, django_capture_on_commit_callbacks
):
    row = dict(
        ROW,
        notes='第一行\n第二行, "引号" \\ 反斜杠\t{括号}',
        address="杭州市, 西湖区\r\n1 号",
        tags=['"慢病"', "{VIP}", "a\\b"],
    )
    push(api_a, {"rows": [row]}, django_capture_on_commit_callbacks)
    again = push(api_a, {"rows": [row]}, django_capture_on_commit_callbacks).json()
    assert again["unchanged"] == 1
    with in_tenant(tenant_a):
        encounter = Encounter.objects.select_related("contact").get()
        assert encounter.notes == '第一行\n第二行, "引号" \\ 反斜杠\t{括号}'
        assert encounter.tags == ['"慢病"', "a\\b", "{VIP}"]
        assert encounter.contact.address == "杭州市, 西湖区\r\n1 号"


def test_keys_with_quotes_backslashes_commas_and_braces_are_found_again(
    api_a, tenant_a, in_tenant, django_capture_on_commit_callbacks
):
    # Known encounters and contacts are looked up with array literals: every character an
    # HIS may put in an id must match itself.
    keys = ['A"1', "B\\2", "C,3", "{D4}", "NULL", "E 5", "住院号6", "F'7"]
    body = {
        "rows": [
            dict(ROW, external_id=key, record_no=f"R-{key}", phone=f"1380013{i:04d}")
            for i, key in enumerate(keys)
        ]
    }
    first = push(api_a, body, django_capture_on_commit_callbacks).json()
    assert (first["created"], first["rejected"]) == (len(keys), 0)
    again = push(api_a, body, django_capture_on_commit_callbacks).json()
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, len(keys))
    later = dict(ROW, external_id="G8", record_no='R-A"1', occurred_at="2026-11-21")
    assert push(api_a, {"rows": [later]}, django_capture_on_commit_callbacks).json()["created"] == 1
    with in_tenant(tenant_a):
        assert sorted(Encounter.objects.values_list("external_id", flat=True)) == sorted(
            [*keys, "G8"]
        )
        assert Contact.objects.count() == len(keys)
        assert Contact.objects.get(record_no='R-A"1').encounters.count() == 2


def test_the_garbage_collector_runs_again_after_a_bulk_call(
    api_a, django_capture_on_commit_callbacks
):
    assert gc.isenabled()
    assert push(api_a, {"rows": rows(2)}, django_capture_on_commit_callbacks).status_code == 200
    assert gc.isenabled()
    # Also when the work inside fails.
    with pytest.raises(ValueError), gc_paused():
        assert not gc.isenabled()
        raise ValueError
    assert gc.isenabled()


def test_a_full_batch_larger_than_djangos_form_limit_is_taken(api_a, tenant_a, in_tenant):
    from django.conf import settings

    rows = [
        {
            "external_id": f"BIG-{n}",
            "name": f"病人{n}",
            "occurred_at": "2026-11-20 10:00",
            "diagnosis": "股骨颈骨折术后，" * 20,
        }
        for n in range(5_000)
    ]
    body = json.dumps({"rows": rows}, ensure_ascii=False).encode()
    assert len(body) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE  # what pages may send

    response = api_a.client.post(
        "/api/v1/encounters/bulk", body, content_type="application/json", headers=api_a.headers
    )

    assert response.status_code == 200, response.content[:300]
    assert response.json()["created"] == 5_000


def test_a_body_over_the_apis_limit_is_a_json_413_and_writes_nothing(
    api_a, tenant_a, in_tenant, settings
):
    settings.API_MAX_BODY_BYTES = 1024 * 1024
    body = json.dumps({"rows": [{"external_id": "x" * 90}] * 12_000}).encode()

    response = api_a.client.post(
        "/api/v1/encounters/bulk", body, content_type="application/json", headers=api_a.headers
    )

    assert response.status_code == 413
    assert response.json() == {
        "code": "body_too_large",
        "message": "The request body is larger than 1 MB.",
    }
    with in_tenant(tenant_a):
        assert not Encounter.objects.exists()


def test_a_booked_return_visit_is_accepted_with_its_future_date_and_plans_nothing(
    api_a, tenant_a, in_tenant, django_capture_on_commit_callbacks
):
    booked = {
        **ROW,
        "external_id": "YY-1",
        "kind": "appointment",
        "occurred_at": "2026-12-01 09:00",
    }
    ahead = {**ROW, "external_id": "ZY-2", "occurred_at": "2026-12-01 09:00"}

    response = push(
        api_a, {"source": "his", "rows": [booked, ahead]}, django_capture_on_commit_callbacks
    )

    body = response.json()
    assert (body["created"], body["rejected"]) == (1, 1)
    assert [(e["index"], e["code"]) for e in body["errors"]] == [(1, "future_date")]
    with in_tenant(tenant_a):
        encounter = Encounter.objects.get()
        assert (encounter.external_id, encounter.kind) == ("YY-1", "appointment")
        assert not FollowUpTask.objects.filter(encounter=encounter).exists()


def test_the_responsible_nurse_is_matched_to_staff_and_an_unknown_one_rejects_the_row(
    api_a, tenant_a, in_tenant, django_capture_on_commit_callbacks
):
    from tests.factories import StaffFactory

    with in_tenant(tenant_a):
        nurse = StaffFactory(role="clinician", email="wang.fang@alpha.test")
    body = {
        "rows": [
            {**ROW, "responsible_nurse": "wang.fang@alpha.test"},
            {**ROW, "external_id": "ZY-1002", "record_no": "ZY002", "responsible_nurse": "某护士"},
        ]
    }
    response = push(api_a, body, django_capture_on_commit_callbacks)
    assert response.status_code == 200
    result = response.json()
    assert (result["created"], result["rejected"]) == (1, 1)
    assert [(e["index"], e["field"], e["code"]) for e in result["errors"]] == [
        (1, "responsible_nurse", "unknown_staff")
    ]
    with in_tenant(tenant_a):
        encounter = Encounter.objects.get()
        assert (encounter.external_id, encounter.responsible_nurse) == ("ZY-1001", nurse)

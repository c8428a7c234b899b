"""Encryption at rest (crm/crypto.py, crm/fields.py): patient fields are ciphertext in the
database, plain text to the product; each clinic has its own keys; searches go through
blind indexes; keys rotate."""

import base64
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import override_settings

from crm import crypto
from crm.fields import EncryptedLookupError
from crm.models import (
    Contact,
    ContactPhone,
    DataKey,
    Encounter,
    FollowUpRule,
    FollowUpTask,
    InboundMessage,
)
from crm.selectors import WorklistFilters, contact_search, worklist
from crm.services.encounter_rows import encounters_intake
from crm.services.planning import encounters_plan
from crm.services.sms_replies import sms_received
from saas import clock
from tenants import schemas
from tests.api.conftest import ApiClient, make_key
from tests.factories import ContactFactory, EncounterFactory, RuleFactory, StaffFactory

NUMBER = "+8613912345678"
OCCURRED = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _keys_forgotten(tenant_a, tenant_b):
    """A test that rotates keys does so in its transaction: no process memory of them may
    outlive it."""
    yield
    for tenant in (tenant_a, tenant_b):
        crypto.ring_forget(tenant.schema_name)


def raw(sql: str, params=()) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description else []


def patient(**values) -> Contact:
    contact = ContactFactory(name=values.pop("name", "张 伟"), phone=values.pop("phone", NUMBER))
    EncounterFactory(contact=contact, diagnosis="股骨颈骨折", procedure="髋关节置换")
    return contact


def test_the_database_holds_ciphertext_and_the_product_reads_plain_text(tenant_a, in_tenant):
    with in_tenant(tenant_a):
        contact = patient(name="王小明")

        [(number, number_index, tail_index)] = raw(
            "SELECT number, number_index, tail_index FROM crm_contactphone WHERE contact_id = %s",
            [contact.pk],
        )
        [(name,)] = raw("SELECT name FROM crm_contact WHERE id = %s", [contact.pk])
        [(diagnosis, procedure)] = raw(
            "SELECT diagnosis, procedure FROM crm_encounter WHERE contact_id = %s", [contact.pk]
        )
        for stored in (number, name, diagnosis, procedure):
            assert stored.startswith("ef1:1:")
        # Neither the digits nor their bytes: the body is nonce and sealed text, not an encoding.
        body = base64.b64decode(number.split(":", 2)[2])
        assert NUMBER.lstrip("+") not in number and NUMBER[-8:].encode() not in body
        assert "12345678" not in number and "5678" not in number_index + tail_index
        assert "王小明" not in name and "骨折" not in diagnosis
        # Randomised: the same number twice is two different ciphertexts, one index.
        other = ContactFactory(phone=NUMBER)
        [(again, again_index)] = raw(
            "SELECT number, number_index FROM crm_contactphone WHERE contact_id = %s", [other.pk]
        )
        assert (again != number, again_index) == (True, number_index)

        fresh = Contact.objects.get(pk=contact.pk)
        assert fresh.name == "王小明"
        assert [p.number for p in fresh.phones.all()] == [NUMBER]
        assert Encounter.objects.get(contact=contact).diagnosis == "股骨颈骨折"
        assert Contact.objects.filter(pk=contact.pk).values_list("name", flat=True)[0] == "王小明"


def test_a_lookup_on_an_encrypted_field_is_refused(tenant_a, in_tenant):
    with in_tenant(tenant_a):
        for search in (
            lambda: Contact.objects.filter(name="王小明"),
            lambda: Contact.objects.filter(name__icontains="小明"),
            lambda: ContactPhone.objects.filter(number__endswith="5678"),
            lambda: Encounter.objects.exclude(diagnosis="骨折"),
            lambda: FollowUpTask.objects.filter(contact__name="王小明"),
        ):
            with pytest.raises(EncryptedLookupError, match="encrypted at rest"):
                search()
        assert Contact.objects.filter(notes__isnull=True).count() == 0  # isnull is fine


def test_search_by_last_digits_record_number_and_exact_name(tenant_a, in_tenant):
    with in_tenant(tenant_a):
        wang = patient(name="王小明", phone="+8613800005678")
        ContactFactory(name="李四", phone="+8613800001234", record_no="ZY-77")
        ContactFactory(name="王小明明", phone="+8613800009999")

        def found(q):
            return sorted(c.name for c in contact_search(q))

        assert found("5678") == ["王小明"]
        assert found("0005678") == ["王小明"]
        assert found("138 0000 5678") == ["王小明"]
        assert found("1115678") == []  # the last four match, the rest does not
        assert found("ZY-77") == ["李四"]
        assert found(" 王小明 ") == ["王小明"]
        assert found("小明") == []  # a part of a name is not searchable
        assert found("") == ["李四", "王小明", "王小明明"]

        FollowUpRule.objects.update(active=False)
        RuleFactory(steps=[{"offset_days": 0, "due_days": 2}])
        encounter = EncounterFactory(contact=wang, occurred_at=clock.now() - timedelta(days=1))
        encounters_plan([encounter.pk])
        task = FollowUpTask.objects.get(encounter=encounter)
        admin = StaffFactory(role="admin")
        for q in ("5678", "王小明"):
            filters = WorklistFilters(scope="all", when="due", q=q)
            assert list(worklist(admin, filters, now=clock.now())) == [task]
        assert not worklist(admin, WorklistFilters(scope="all", q="1234"), now=clock.now())


def test_a_search_in_another_clinic_finds_nothing_of_the_first(tenant_a, tenant_b, in_tenant):
    with in_tenant(tenant_a):
        patient(name="王小明", phone="+8613800005678")
        [(index_a,)] = raw("SELECT number_index FROM crm_contactphone")
    with in_tenant(tenant_b):
        ContactFactory(name="王小明", phone="+8613800005678")
        [(index_b,)] = raw("SELECT number_index FROM crm_contactphone")
        assert index_a != index_b  # each clinic's own index key
        assert [c.name for c in contact_search("5678")] == ["王小明"]
        assert contact_search("5678").get().phones.get().number == "+8613800005678"


def test_an_sms_reply_still_finds_its_contact(tenant_a, in_tenant):
    with in_tenant(tenant_a):
        contact = patient(phone=NUMBER)

        inbound = sms_received(provider_id="SM1", from_number=NUMBER, body="hello")

        assert inbound.contact == contact
        assert InboundMessage.objects.get().from_number == NUMBER
        [(stored,)] = raw("SELECT from_number FROM crm_inboundmessage")
        assert stored.startswith("ef1:")


def _row(**values) -> dict:
    row = {
        "key": "",
        "name": "赵六",
        "sex": "M",
        "birth_date": None,
        "record_no": "",
        "email": "",
        "address": "北京市海淀区",
        "phones": [NUMBER],
        "kind": "discharge",
        "department_id": None,
        "attending_id": None,
        "attending_name": "",
        "occurred_at": OCCURRED,
        "admitted_at": None,
        "serial_no": "",
        "age": None,
        "diagnosis_code": "",
        "diagnosis": "肺炎",
        "procedure_code": "",
        "procedure": "",
        "treatment_course": "",
        "discharge_outcome": "",
        "length_of_stay": None,
        "bed": "",
        "tags": [],
        "notes": "",
    }
    return row | values


def test_intake_matches_contacts_by_phone_and_name_and_counts_a_resend_unchanged(
    tenant_a, in_tenant
):
    with in_tenant(tenant_a):
        first = encounters_intake(source="his", rows=[(0, _row(key="E1", name="Zhao Liu"))])
        # Another stay of the same person, the name typed with other spacing and case.
        second = encounters_intake(
            source="his",
            rows=[(0, _row(key="E2", name=" zhao  LIU")), (1, _row(key="E1", name="Zhao Liu"))],
        )
        again = encounters_intake(source="his", rows=[(0, _row(key="E1", name="Zhao Liu"))])

        assert (first.created, second.created, second.unchanged) == (1, 1, 1)
        assert (again.unchanged, again.updated) == (1, 0)
        contact = Contact.objects.get()
        assert contact.encounters.count() == 2
        assert (contact.name, contact.address) == ("Zhao Liu", "北京市海淀区")
        assert [p.number for p in contact.phones.all()] == [NUMBER]
        [(name, address, number)] = raw(
            "SELECT c.name, c.address, p.number FROM crm_contact c"
            " JOIN crm_contactphone p ON p.contact_id = c.id"
        )
        assert all(v.startswith("ef1:") for v in (name, address, number))
        assert {e.diagnosis for e in Encounter.objects.all()} == {"肺炎"}


def test_the_api_shows_the_number_and_finds_the_call_by_it(tenant_a, in_tenant):
    contact = None
    with in_tenant(tenant_a):
        contact = patient(name="王小明")
    _key, secret = make_key(tenant_a, in_tenant, scopes=("read",))

    body = ApiClient(tenant_a, secret).get(f"/contacts/{contact.pk}").json()

    assert body["name"] == "王小明"
    assert [p["number"] for p in body["phones"]] == [NUMBER]


def test_another_clinics_ciphertext_does_not_decrypt(tenant_a, tenant_b, in_tenant):
    with in_tenant(tenant_a):
        patient(name="王小明")
        [(stolen,)] = raw("SELECT name FROM crm_contact")
    with in_tenant(tenant_b):
        victim = ContactFactory(name="someone")
        raw("UPDATE crm_contact SET name = %s WHERE id = %s", [stolen, victim.pk])

        with pytest.raises(crypto.FieldKeyError, match="does not decrypt"):
            Contact.objects.get(pk=victim.pk)


def test_each_clinic_has_its_own_keys_and_the_template_none(tenant_a, tenant_b, in_tenant):
    keys = {}
    for tenant in (tenant_a, tenant_b):
        with in_tenant(tenant):
            stored = {(k.purpose, k.version): k.wrapped_key for k in DataKey.objects.all()}
            assert set(stored) == {("data", 1), ("index", 1)}
            keys[tenant] = {crypto.key_unwrap(w, f"{p}:{v}") for (p, v), w in stored.items()}
    assert len(keys[tenant_a] | keys[tenant_b]) == 4
    if schemas.template_is_current():
        name = schemas.quote(schemas.template_name())
        assert raw(f"SELECT count(*) FROM {name}.crm_datakey") == [(0,)]  # noqa: S608


def test_rotation_reencrypts_and_old_values_read_meanwhile(tenant_a, in_tenant):
    with in_tenant(tenant_a):
        contact = patient(name="王小明")
        version = crypto.data_key_add()
        # Written before: still under version 1, still readable.
        assert raw("SELECT left(name, 6) FROM crm_contact") == [("ef1:1:",)]
        assert Contact.objects.get(pk=contact.pk).name == "王小明"
        newer = ContactFactory(name="新患者", phone="")
        assert raw("SELECT left(name, 6) FROM crm_contact WHERE id = %s", [newer.pk]) == [
            (f"ef1:{version}:",)
        ]

        call_command("rotate_field_keys", "--schema", tenant_a.schema_name, "--resume")

        assert {v for (v,) in raw("SELECT left(name, 6) FROM crm_contact")} == {"ef1:2:"}
        assert {v for (v,) in raw("SELECT left(number, 6) FROM crm_contactphone")} == {"ef1:2:"}
        assert Contact.objects.get(pk=contact.pk).name == "王小明"
        assert Encounter.objects.get(contact=contact).diagnosis == "股骨颈骨折"
        assert contact_search("5678").get() == contact  # the index key does not rotate


def test_a_new_master_key_rewraps_and_the_old_one_can_go(tenant_a, in_tenant, settings):
    new = base64.urlsafe_b64encode(b"n" * 32).decode()
    old = settings.FIELD_ENCRYPTION_KEYS
    with in_tenant(tenant_a):
        contact = patient(name="王小明")
        with override_settings(FIELD_ENCRYPTION_KEYS=[new, *old]):
            call_command("rotate_field_keys", "--schema", tenant_a.schema_name, "--rewrap-only")
        assert raw("SELECT max(version) FROM crm_datakey WHERE purpose = 'data'") == [(1,)]
        crypto.ring_forget()
        with override_settings(FIELD_ENCRYPTION_KEYS=[new]):
            assert Contact.objects.get(pk=contact.pk).name == "王小明"
        crypto.ring_forget()
        with pytest.raises(crypto.FieldKeyError, match="not in FIELD_ENCRYPTION_KEYS"):
            Contact.objects.get(pk=contact.pk)

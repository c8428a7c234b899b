"""Contacts and encounters entered by staff through the pages."""

from datetime import timedelta

import pytest
from django.utils import timezone, translation

from crm.models import AuditEntry, Contact, ContactPhone, Encounter, FollowUpTask
from tests.crm.conftest import in_english
from tests.factories import ContactFactory, EncounterFactory

Status = FollowUpTask.Status

CONTACT = {
    "name": "张三",
    "sex": "M",
    "record_no": "ZY2026001",
    "phones": "138 0013 8000\n+86 139-0013-9000\n13800138000",
    "email": "",
    "address": "",
    "language": "",
    "do_not_contact_reason": "",
    "notes": "",
}


def test_agent_creates_a_contact_with_normalised_phones(agent_client_a, tenant_a, in_tenant):
    response = agent_client_a.post("/contacts/new/", CONTACT)
    assert response.status_code == 302
    with in_tenant(tenant_a):
        contact = Contact.objects.get(record_no="ZY2026001")
        assert list(contact.phones.values_list("number", flat=True)) == [
            "+8613800138000",
            "+8613900139000",
        ]


def test_a_bad_phone_number_is_refused_and_nothing_is_saved(agent_client_a, tenant_a, in_tenant):
    with translation.override("en"):
        response = in_english(agent_client_a).post(
            "/contacts/new/", {**CONTACT, "phones": "13800138000\n12345"}
        )
    assert response.status_code == 200
    assert "“12345” is not a valid phone number." in response.content.decode()
    with in_tenant(tenant_a):
        assert not Contact.objects.filter(record_no="ZY2026001").exists()
        assert not ContactPhone.objects.numbered("+8613800138000").exists()


def test_a_duplicate_record_number_is_refused(agent_client_a, tenant_a, in_tenant):
    with in_tenant(tenant_a):
        ContactFactory(record_no="ZY2026001")
    response = agent_client_a.post("/contacts/new/", CONTACT)
    assert response.status_code == 200
    assert response.context["form"].errors
    with in_tenant(tenant_a):
        assert Contact.objects.filter(record_no="ZY2026001").count() == 1


def test_reading_a_contact_is_audit_logged_and_phones_are_masked(
    agent_client_a, agent_a, tenant_a, in_tenant
):
    with in_tenant(tenant_a):
        contact = ContactFactory(phone="+8613812345678")
    page = agent_client_a.get(f"/contacts/{contact.pk}/").content.decode()
    assert "+86 ••• 5678" in page and "12345678" not in page
    with in_tenant(tenant_a):
        entry = AuditEntry.objects.get(action="contact_viewed")
        assert (entry.actor_id, entry.contact_id) == (agent_a.pk, contact.pk)


def test_contact_search_by_name_record_or_phone_digits(agent_client_a, tenant_a, in_tenant):
    with in_tenant(tenant_a):
        ContactFactory(name="李四", record_no="R1", phone="+8613812345678")
        ContactFactory(name="王五", record_no="R2")
    for q in ("李四", "R1", "5678"):
        response = agent_client_a.post("/contacts/", {"q": q}, follow=True)
        assert response.redirect_chain == [("/contacts/", 302)]  # the term stays out of URLs
        names = [c.name for c, _phones in response.context["rows"]]
        assert names == ["李四"], q


def test_saving_an_encounter_plans_its_follow_ups(
    agent_client_a, tenant_a, in_tenant, django_capture_on_commit_callbacks
):
    with in_tenant(tenant_a):
        contact = ContactFactory()
    occurred = timezone.localtime() - timedelta(days=1)
    with django_capture_on_commit_callbacks(execute=True):
        response = agent_client_a.post(
            f"/contacts/{contact.pk}/encounters/new/",
            {
                "kind": "discharge",
                "occurred_at": occurred.strftime("%Y-%m-%dT%H:%M"),
                "discharge_outcome": "improved",
                "tags": "chronic, vip",
            },
        )
    assert response.status_code == 302
    with in_tenant(tenant_a):
        encounter = Encounter.objects.get(contact=contact)
        assert encounter.tags == ["chronic", "vip"]
        names = set(encounter.tasks.values_list("rule__name", flat=True))
        assert names == {"出院回访（好转/转院）", "慢病随访"}


def test_marking_a_contact_deceased_cancels_their_open_tasks(agent_client_a, tenant_a, in_tenant):
    with in_tenant(tenant_a):
        encounter = EncounterFactory()
        from crm.services.planning import encounters_plan

        encounters_plan([encounter.pk])
        contact = encounter.contact
        assert encounter.tasks.filter(status=Status.PENDING).exists()
    agent_client_a.post(
        f"/contacts/{contact.pk}/edit/",
        {**CONTACT, "record_no": contact.record_no, "phones": "", "deceased": "on"},
    )
    with in_tenant(tenant_a):
        contact.refresh_from_db()
        assert contact.deceased and contact.deceased_at
        assert set(encounter.tasks.values_list("status", "reason")) == {
            (Status.CANCELLED, FollowUpTask.Reason.DECEASED)
        }


def test_viewer_reads_but_cannot_edit(client_a, tenant_a, in_tenant):
    from tests.conftest import login
    from tests.factories import StaffFactory

    with in_tenant(tenant_a):
        StaffFactory(email="viewer@alpha.test", role="viewer")
        contact = ContactFactory()
    login(client_a, "viewer@alpha.test")
    assert client_a.get(f"/contacts/{contact.pk}/").status_code == 200
    assert client_a.post(f"/contacts/{contact.pk}/edit/", CONTACT).status_code == 403
    assert client_a.post("/contacts/new/", CONTACT).status_code == 403


@pytest.mark.parametrize("path", ["/contacts/{id}/", "/contacts/{id}/edit/"])
def test_another_tenant_cannot_read_or_change_contacts(admin_client_b, tenant_a, in_tenant, path):
    with in_tenant(tenant_a):
        contact = ContactFactory(name="Alpha 的病人")
    response = admin_client_b.get(path.format(id=contact.pk))
    assert "Alpha 的病人" not in response.content.decode()
    found = admin_client_b.post("/contacts/", {"q": "Alpha"}, follow=True).content.decode()
    assert "Alpha 的病人" not in found
    admin_client_b.post(path.format(id=contact.pk), {**CONTACT, "name": "changed"})
    with in_tenant(tenant_a):
        contact.refresh_from_db()
        assert contact.name == "Alpha 的病人"


def test_another_tenant_cannot_correct_an_encounter(admin_client_b, tenant_a, in_tenant):
    with in_tenant(tenant_a):
        encounter = EncounterFactory(diagnosis="股骨颈骨折")
    response = admin_client_b.get(f"/encounters/{encounter.pk}/edit/")
    assert "股骨颈骨折" not in response.content.decode()
    admin_client_b.post(
        f"/encounters/{encounter.pk}/edit/",
        {"kind": "surgery", "occurred_at": "2026-11-20T10:00", "diagnosis": "changed"},
    )
    with in_tenant(tenant_a):
        encounter.refresh_from_db()
        assert (encounter.kind, encounter.diagnosis) == ("discharge", "股骨颈骨折")


def test_another_tenant_cannot_set_staff_departments(admin_client_b, tenant_a, in_tenant):
    from crm.models import Department, StaffProfile
    from tests.factories import StaffFactory

    with in_tenant(tenant_a):
        nurse = StaffFactory(email="nurse-iso@alpha.test", role="clinician")
        ortho = Department.objects.get(code="orthopaedics")
    admin_client_b.post(f"/staff/{nurse.pk}/departments/", {"departments": [ortho.pk]})
    with in_tenant(tenant_a):
        assert not StaffProfile.objects.filter(user=nurse).exists()


def test_the_edit_page_never_prints_a_number_and_edits_them_one_by_one(
    agent_client_a, client_b, tenant_a, in_tenant
):
    with in_tenant(tenant_a):
        contact = ContactFactory(phone="+8613800138000")
        contact.phones.create(number="+8613900139000", label="family")
        first, second = contact.phones.order_by("pk")

    page = agent_client_a.get(f"/contacts/{contact.pk}/edit/").content.decode()

    for digits in ("13800138000", "13900139000", "0013"):
        assert digits not in page
    with translation.override("zh-hans"):
        family = str(ContactPhone.Label.FAMILY.label)
    assert "+86 ••• 8000" in page and f"+86 ••• 9000 · {family}" in page
    edited = agent_client_a.post(
        f"/contacts/{contact.pk}/edit/",
        {
            **CONTACT,
            "record_no": contact.record_no,
            "phones_remove": [first.pk],
            "phones": "137 0013 7000",
        },
    )
    assert edited.status_code == 302
    with in_tenant(tenant_a):
        assert list(contact.phones.order_by("pk").values_list("number", "label")) == [
            ("+8613900139000", "family"),
            ("+8613700137000", "mobile"),
        ]
    # Another clinic's staff cannot reach the form at all.
    assert client_b.get(f"/contacts/{contact.pk}/edit/").status_code in (302, 404)


def test_a_bad_new_number_is_refused_and_the_numbers_on_file_stay(
    agent_client_a, tenant_a, in_tenant
):
    with in_tenant(tenant_a):
        contact = ContactFactory(phone="+8613800138000")
        [kept] = contact.phones.all()

    refused = agent_client_a.post(
        f"/contacts/{contact.pk}/edit/",
        {**CONTACT, "record_no": contact.record_no, "phones_remove": [kept.pk], "phones": "12345"},
    )

    assert refused.status_code == 200
    assert "12345" in refused.content.decode()  # the error names what was typed
    with in_tenant(tenant_a):
        assert list(contact.phones.values_list("number", flat=True)) == ["+8613800138000"]

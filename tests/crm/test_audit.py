"""The clinic's audit trail (issue 18, item 10; DESIGN.md §9): what is audited, that rows
are append-only (ORM and database trigger), the administrators' page with its filters and
audited CSV download, and that one clinic never sees another's trail."""

import json

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.utils import InternalError
from django.utils import translation

from crm.models import AuditEntry, Contact, Message
from crm.services import feedback
from crm.services.audit import audit_record, login_digest
from saas.appendonly import AppendOnlyError
from surveys.models import SurveyTemplate
from tests.clock import at
from tests.conftest import login
from tests.crm.conftest import in_english
from tests.factories import PASSWORD, ContactFactory, StaffFactory
from tests.tenants.test_settings import VALID as SETTINGS

Action = AuditEntry.Action

CONTACT_FORM = {
    "name": "李四",
    "sex": "F",
    "birth_date": "",
    "record_no": "AUD-001",
    "phones": "",
    "email": "",
    "address": "",
    "language": "",
    "do_not_contact_reason": "",
    "notes": "",
}


def entries(action: str) -> list[AuditEntry]:
    """This test's entries of ``action``: the browser tests' accounts (e2e-…) commit theirs."""
    return list(AuditEntry.objects.filter(action=action).exclude(actor__email__startswith="e2e-"))


def personal_free(entry: AuditEntry, *values: str) -> bool:
    text = json.dumps(entry.detail, ensure_ascii=False) + entry.object_id
    return not any(value in text for value in values)


@pytest.fixture
def contact_a(tenant_a, in_tenant):
    with in_tenant(tenant_a):
        return ContactFactory(name="王五", record_no="AUD-001", phone="+8613812345678")


# What is audited ----------------------------------------------------------------------------


def test_opening_a_contacts_edit_page_is_audited(
    admin_client_a, admin_a, contact_a, tenant_a, in_tenant
):
    assert admin_client_a.get(f"/contacts/{contact_a.pk}/edit/").status_code == 200

    with in_tenant(tenant_a):
        [entry] = entries(Action.CONTACT_EDIT_VIEWED)
        assert (entry.actor_id, entry.contact_id, entry.detail) == (admin_a.pk, contact_a.pk, {})


def test_changing_a_contact_records_the_changed_field_names_not_their_values(
    admin_client_a, admin_a, contact_a, tenant_a, in_tenant
):
    response = admin_client_a.post(
        f"/contacts/{contact_a.pk}/edit/",
        {**CONTACT_FORM, "phones": "13900139000", "phones_remove": []},
    )

    assert response.status_code == 302
    with in_tenant(tenant_a):
        [entry] = entries(Action.CONTACT_CHANGED)
        assert (entry.actor_id, entry.contact_id) == (admin_a.pk, contact_a.pk)
        assert sorted(entry.detail["fields"]) == ["name", "phones", "sex"]  # not record_no
        assert personal_free(entry, "李四", "王五", "13900139000", "12345678")
        assert not entries(Action.CONTACT_EDIT_VIEWED)  # a POST is the change, not a read


def test_viewing_a_complaint_and_the_complaint_list_is_audited(
    admin_client_a, admin_a, contact_a, tenant_a, in_tenant
):
    with in_tenant(tenant_a):
        complaint = feedback.complaint_open(
            summary="态度不好", source="call", category="attitude", contact=contact_a
        )

    assert admin_client_a.get(f"/complaints/{complaint.pk}/").status_code == 200
    assert admin_client_a.get("/complaints/?list=all").status_code == 200

    with in_tenant(tenant_a):
        [viewed] = entries(Action.COMPLAINT_VIEWED)
        assert (viewed.actor_id, viewed.contact_id, viewed.object_id) == (
            admin_a.pk,
            contact_a.pk,
            str(complaint.pk),
        )
        [listed] = entries(Action.COMPLAINT_LIST_VIEWED)
        assert (listed.actor_id, listed.detail) == (admin_a.pk, {"list": "all", "page": 1})


def test_viewing_a_surveys_responses_is_audited(admin_client_a, admin_a, tenant_a, in_tenant):
    with in_tenant(tenant_a):
        template = SurveyTemplate.objects.create(name="审计调查")

    assert admin_client_a.get(f"/surveys/{template.pk}/responses/").status_code == 200

    with in_tenant(tenant_a):
        [entry] = entries(Action.RESPONSE_LIST_VIEWED)
        assert (entry.actor_id, entry.object_id, entry.detail) == (
            admin_a.pk,
            str(template.pk),
            {"page": 1},
        )


def test_viewing_the_outbox_is_audited(admin_client_a, admin_a, tenant_a, in_tenant):
    assert admin_client_a.get("/outbox/?status=failed").status_code == 200

    with in_tenant(tenant_a):
        [entry] = entries(Action.OUTBOX_VIEWED)
        assert (entry.actor_id, entry.detail) == (
            admin_a.pk,
            {"status": Message.Status.FAILED, "page": 1},
        )


def test_role_change_deactivation_and_reactivation_are_audited(
    admin_client_a, admin_a, tenant_a, in_tenant
):
    with in_tenant(tenant_a):
        nurse = StaffFactory(email="nurse-audit@alpha.test", role="agent")

    admin_client_a.post(f"/staff/{nurse.pk}/role/", {"role": "supervisor"})
    admin_client_a.post(f"/staff/{nurse.pk}/deactivate/")
    admin_client_a.post(f"/staff/{nurse.pk}/reactivate/")

    with in_tenant(tenant_a):
        [role] = entries(Action.ROLE_CHANGED)
        assert (role.actor_id, role.object_id, role.detail) == (
            admin_a.pk,
            str(nurse.pk),
            {"from": "agent", "to": "supervisor"},
        )
        for action in (Action.STAFF_DEACTIVATED, Action.STAFF_REACTIVATED):
            [entry] = entries(action)
            assert (entry.actor_id, entry.object_id) == (admin_a.pk, str(nurse.pk))


def test_inviting_a_staff_member_records_the_account_and_role(
    admin_client_a, admin_a, tenant_a, in_tenant
):
    admin_client_a.post(
        "/staff/invite/",
        {"email": "new-audit@alpha.test", "full_name": "新 同事", "role": "viewer"},
    )

    with in_tenant(tenant_a):
        # (The clinic's first administrator was invited when the tenant was provisioned.)
        entry = AuditEntry.objects.get(action=Action.STAFF_INVITED, actor=admin_a)
        new = get_user_model().objects.get(email="new-audit@alpha.test")
        assert (entry.actor_id, entry.object_id, entry.detail) == (
            admin_a.pk,
            str(new.pk),
            {"role": "viewer"},
        )
        assert personal_free(entry, "new-audit@alpha.test", "新 同事")


def test_api_keys_made_and_revoked_are_audited(admin_client_a, admin_a, tenant_a, in_tenant):
    admin_client_a.post("/settings/api-keys/", {"name": "HIS", "scopes": ["read"]})
    with in_tenant(tenant_a):
        [created] = entries(Action.API_KEY_CREATED)
    admin_client_a.post(f"/settings/api-keys/{created.object_id}/revoke/")
    admin_client_a.post(f"/settings/api-keys/{created.object_id}/revoke/")  # no second entry

    with in_tenant(tenant_a):
        assert (created.actor_id, created.detail) == (admin_a.pk, {"scopes": ["read"]})
        [revoked] = entries(Action.API_KEY_REVOKED)
        assert (revoked.actor_id, revoked.object_id) == (admin_a.pk, created.object_id)


def test_changing_the_clinic_settings_records_which_settings(
    admin_client_a, admin_a, tenant_a, in_tenant
):
    response = admin_client_a.post("/settings/", SETTINGS)

    assert response.status_code == 302
    with in_tenant(tenant_a):
        [entry] = entries(Action.SETTINGS_CHANGED)
        assert entry.actor_id == admin_a.pk
        assert {"name", "locale", "timezone"} <= set(entry.detail["fields"])
        assert personal_free(entry, "Alpha 第一人民医院", "Asia/Urumqi")


def test_sign_in_sign_out_and_a_failed_sign_in_are_audited_with_the_address(
    client_a, admin_a, tenant_a, in_tenant
):
    client_a.post("/accounts/login/", {"username": "admin@alpha.test", "password": "wrong"})
    login(client_a, "admin@alpha.test")
    client_a.post("/accounts/logout/")

    with in_tenant(tenant_a):
        [failed] = entries(Action.SIGN_IN_FAILED)
        assert (failed.actor_id, failed.detail, failed.client_address) == (
            admin_a.pk,
            {"account": "known"},
            "127.0.0.1",
        )
        [signed_in] = entries(Action.SIGNED_IN)
        [signed_out] = entries(Action.SIGNED_OUT)
        assert (signed_in.actor_id, signed_in.client_address) == (admin_a.pk, "127.0.0.1")
        assert signed_out.actor_id == admin_a.pk


def test_a_failed_sign_in_for_an_unknown_address_keeps_only_a_keyed_digest(
    client_a, tenant_a, in_tenant
):
    client_a.post(
        "/accounts/login/", {"username": "Nobody.Here@Example.test", "password": PASSWORD}
    )

    with in_tenant(tenant_a):
        [entry] = entries(Action.SIGN_IN_FAILED)
        assert entry.actor_id is None
        assert entry.detail == {
            "account": "unknown",
            "login_digest": login_digest("nobody.here@example.test"),
        }
        assert personal_free(entry, "nobody", "Nobody", "example.test")


# Append-only --------------------------------------------------------------------------------


def test_the_orm_refuses_to_change_or_delete_audit_rows(admin_a, tenant_a, in_tenant):
    with in_tenant(tenant_a):
        entry = audit_record(admin_a, Action.OUTBOX_VIEWED)
        for attempt in (
            lambda: AuditEntry.objects.filter(pk=entry.pk).update(action="contact_viewed"),
            lambda: AuditEntry.objects.filter(pk=entry.pk).delete(),
            entry.delete,
            entry.save,
        ):
            with pytest.raises(AppendOnlyError, match="append-only"):
                attempt()
        assert AuditEntry.objects.get(pk=entry.pk).action == Action.OUTBOX_VIEWED


@pytest.mark.parametrize(
    ("statement", "operation"),
    [
        ("UPDATE crm_auditentry SET action = 'contact_viewed' WHERE id = %s", "UPDATE"),
        ("DELETE FROM crm_auditentry WHERE id = %s", "DELETE"),
    ],
)
def test_the_database_refuses_to_change_or_delete_audit_rows(
    statement, operation, admin_a, tenant_a, in_tenant
):
    with in_tenant(tenant_a):
        entry = audit_record(admin_a, Action.OUTBOX_VIEWED)
        with pytest.raises(InternalError) as refused, transaction.atomic():
            connection.cursor().execute(statement, [entry.pk])
        assert f"Audit rows are append-only: {operation} of crm_auditentry refused." in str(
            refused.value
        )
        assert AuditEntry.objects.get(pk=entry.pk).action == Action.OUTBOX_VIEWED


def test_a_contact_can_still_be_deleted_and_its_entries_keep_its_id(
    admin_a, contact_a, tenant_a, in_tenant
):
    with in_tenant(tenant_a):
        entry = audit_record(admin_a, Action.CONTACT_VIEWED, contact=contact_a)
        Contact.objects.filter(pk=contact_a.pk).delete()

        kept = AuditEntry.objects.select_related("contact").get(pk=entry.pk)
        assert (kept.contact_id, kept.contact) == (contact_a.pk, None)


# The page -----------------------------------------------------------------------------------


@pytest.fixture
def trail_a(admin_a, contact_a, tenant_a, in_tenant, clock):
    """Three entries on three days (Shanghai): a read of the contact, a role change, an
    outbox view by someone else."""
    with in_tenant(tenant_a):
        other = StaffFactory(email="sup-audit@alpha.test", role="supervisor")
        clock.move_to(at("2026-03-01 10:00"))
        audit_record(admin_a, Action.CONTACT_VIEWED, contact=contact_a)
        clock.move_to(at("2026-03-02 10:00"))
        audit_record(
            admin_a, Action.ROLE_CHANGED, obj=other, detail={"from": "agent", "to": "admin"}
        )
        clock.move_to(at("2026-03-03 23:30"))
        audit_record(other, Action.OUTBOX_VIEWED, obj="marker-a")
        clock.move_to(at("2026-03-04 09:00"))
    return other


def _shown(response) -> list[str]:
    """The actions listed, but the sign-ins of the test's own clients."""
    return [entry.action for entry in response.context["page"] if entry.action != "signed_in"]


def test_the_admin_sees_the_trail_newest_first_and_filters_it(admin_client_a, admin_a, trail_a):
    assert _shown(admin_client_a.get("/audit/?since=2026-03-01&until=2026-03-31")) == [
        "outbox_viewed",
        "role_changed",
        "contact_viewed",
    ]
    assert _shown(admin_client_a.get(f"/audit/?actor={trail_a.pk}")) == ["outbox_viewed"]
    assert _shown(admin_client_a.get(f"/audit/?actor={admin_a.pk}&until=2026-03-31")) == [
        "role_changed",
        "contact_viewed",
    ]
    assert _shown(admin_client_a.get("/audit/?action=role_changed")) == ["role_changed"]
    assert _shown(admin_client_a.get("/audit/?since=2026-03-02&until=2026-03-03")) == [
        "outbox_viewed",
        "role_changed",
    ]


def test_the_contact_filter_is_posted_and_kept_out_of_the_url(admin_client_a, trail_a):
    response = admin_client_a.post("/audit/?action=contact_viewed", {"q": "AUD-001"})

    assert response.status_code == 302
    assert "AUD-001" not in response["Location"]
    page = admin_client_a.get(response["Location"])
    assert _shown(page) == ["contact_viewed"]
    assert "王五" in page.content.decode()


def test_bad_dates_are_a_clear_error(admin_client_a, trail_a):
    with translation.override("en"):
        client = in_english(admin_client_a)
        backwards = client.get("/audit/?since=2026-03-03&until=2026-03-01")
        garbled = client.get("/audit/?since=2026-13-45")

    assert backwards.status_code == garbled.status_code == 400
    assert "The end date must be on or after the start date." in backwards.content.decode()
    assert "Enter a valid date." in garbled.content.decode()


def test_the_csv_download_holds_the_filtered_rows_and_is_itself_audited(
    admin_client_a, admin_a, trail_a, tenant_a, in_tenant
):
    with translation.override("en"):
        response = in_english(admin_client_a).get("/audit/export.csv?action=role_changed")

    assert response.status_code == 200
    lines = response.content.decode("utf-8-sig").strip().splitlines()
    assert lines[0] == "When,Who,Action,Record number,Object,Detail,Client address"
    assert len(lines) == 2
    assert lines[1].startswith("2026-03-02 10:00:00,admin@alpha.test,")
    assert f",{trail_a.pk},Agent → Administrator," in lines[1]
    with in_tenant(tenant_a):
        [exported] = entries(Action.AUDIT_EXPORTED)
        assert exported.actor_id == admin_a.pk
        assert exported.detail["rows"] == 1 and exported.detail["action"] == "role_changed"


def test_staff_without_the_audit_permission_cannot_see_or_download_it(
    agent_client_a, trail_a, tenant_a, in_tenant
):
    assert agent_client_a.get("/audit/").status_code == 403
    assert agent_client_a.get("/audit/export.csv").status_code == 403
    with in_tenant(tenant_a):
        assert not entries(Action.AUDIT_EXPORTED)


def test_another_clinics_admin_never_sees_this_clinics_trail(admin_client_b, trail_a):
    page = admin_client_b.get("/audit/")
    export = admin_client_b.get("/audit/export.csv")

    assert page.status_code == export.status_code == 200
    assert "marker-a" not in page.content.decode()
    assert "王五" not in page.content.decode()
    assert "marker-a" not in export.content.decode()
    assert "admin@alpha.test" not in export.content.decode()

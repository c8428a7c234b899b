"""The vendor's audit trails (issue 18, item 10): console sign-ins recorded in public, the
console's audit page merging console and billing entries, and both tables append-only."""

import json

import pytest
from django.db import connection, transaction
from django.db.utils import InternalError

from billing.models import BillingAuditEntry
from crm.services.audit import login_digest
from saas.appendonly import AppendOnlyError
from tenants.models import ConsoleAuditEntry
from tenants.services import tenant_suspend
from tests.conftest import login
from tests.factories import PASSWORD, VendorStaffFactory

Action = ConsoleAuditEntry.Action


def test_console_sign_in_sign_out_and_failures_are_in_the_console_trail(
    public_client, vendor_staff
):
    public_client.post("/accounts/login/", {"username": "ops@carebridge.test", "password": "x"})
    public_client.post("/accounts/login/", {"username": "ghost@nowhere.test", "password": PASSWORD})
    login(public_client, "ops@carebridge.test")
    public_client.post("/accounts/logout/")

    failed = list(ConsoleAuditEntry.objects.filter(action=Action.SIGN_IN_FAILED).order_by("id"))
    assert [(e.actor_id, e.detail) for e in failed] == [
        (vendor_staff.pk, {"account": "known"}),
        (None, {"account": "unknown", "login_digest": login_digest("ghost@nowhere.test")}),
    ]
    assert "ghost" not in json.dumps(failed[1].detail)
    [signed_in] = ConsoleAuditEntry.objects.filter(action=Action.SIGNED_IN)
    [signed_out] = ConsoleAuditEntry.objects.filter(action=Action.SIGNED_OUT)
    assert (signed_in.actor_id, signed_in.client_address) == (vendor_staff.pk, "127.0.0.1")
    assert signed_out.actor_id == vendor_staff.pk


def test_a_clinic_sign_in_is_not_in_the_console_trail(client_a, admin_a):
    login(client_a, "admin@alpha.test")

    assert not ConsoleAuditEntry.objects.filter(action=Action.SIGNED_IN).exists()


@pytest.fixture
def vendor_trail(vendor_staff, tenant_a, tenant_b):
    tenant_suspend(tenant=tenant_a, actor=vendor_staff, reason="unpaid")
    tenant_suspend(tenant=tenant_b, actor=vendor_staff, reason="unpaid")
    BillingAuditEntry.objects.create(
        actor=vendor_staff, tenant=tenant_a, action=BillingAuditEntry.Action.TRIAL_EXTENDED
    )


def _rows(response) -> list[tuple[str, str]]:
    return [
        (row.action_label, row.tenant_name)
        for row in response.context["page"]
        if row.action_label != "Signed in"
    ]


def test_vendor_staff_see_console_and_billing_entries_merged_and_filtered(
    public_client, vendor_staff, vendor_trail, tenant_a
):
    login(public_client, "ops@carebridge.test")
    public_client.cookies["django_language"] = "en"

    everything = public_client.get("/console/audit/")
    of_alpha = public_client.get(f"/console/audit/?tenant={tenant_a.pk}")
    trials = public_client.get("/console/audit/?action=billing:trial_extended")

    assert everything.status_code == 200
    assert _rows(everything) == [
        ("Trial extended", tenant_a.name),
        ("Status changed", "Beta Dental"),
        ("Status changed", tenant_a.name),
    ]
    assert _rows(of_alpha) == [
        ("Trial extended", tenant_a.name),
        ("Status changed", tenant_a.name),
    ]
    assert _rows(trials) == [("Trial extended", tenant_a.name)]


def test_an_unknown_action_filter_is_a_clear_error(public_client, vendor_staff):
    login(public_client, "ops@carebridge.test")
    public_client.cookies["django_language"] = "en"

    response = public_client.get("/console/audit/?action=console:nonsense")

    assert response.status_code == 400
    assert "Select a valid choice." in response.content.decode()


def test_the_console_audit_page_is_for_vendor_staff_only(public_client, client_a, admin_a):
    assert public_client.get("/console/audit/")["Location"].startswith("/accounts/login/")
    VendorStaffFactory(email="visitor@carebridge.test", is_staff=False)
    login(public_client, "visitor@carebridge.test")
    assert public_client.get("/console/audit/").status_code == 403
    login(client_a, "admin@alpha.test")
    assert client_a.get("/console/audit/").status_code == 404


@pytest.mark.parametrize(
    ("model", "table"),
    [
        (ConsoleAuditEntry, "tenants_consoleauditentry"),
        (BillingAuditEntry, "billing_billingauditentry"),
    ],
)
@pytest.mark.parametrize("operation", ["UPDATE", "DELETE"])
def test_the_vendor_trails_refuse_change_and_deletion(model, table, operation, vendor_staff):
    entry = model.objects.create(actor=vendor_staff, action="status_changed")
    statement = {
        "UPDATE": f"UPDATE {table} SET action = 'x' WHERE id = %s",
        "DELETE": f"DELETE FROM {table} WHERE id = %s",
    }[operation]

    with pytest.raises(InternalError) as refused, transaction.atomic():
        connection.cursor().execute(statement, [entry.pk])
    with pytest.raises(AppendOnlyError):
        model.objects.filter(pk=entry.pk).delete()

    assert f"Audit rows are append-only: {operation} of {table} refused." in str(refused.value)
    assert model.objects.get(pk=entry.pk).action == "status_changed"

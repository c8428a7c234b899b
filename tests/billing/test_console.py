"""The vendor console's billing pages: tenants with plan, status, MRR, usage and trial end;
extend trial, comp, suspend/reactivate, open the Stripe customer; plans; all audit-logged and
for vendor staff only."""

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from billing.entitlements import usage_record
from billing.models import BillingAccount, BillingAuditEntry, Plan
from billing.services import PlanValues, plan_save
from tenants.models import Tenant
from tests.conftest import login


def test_console_billing_is_for_vendor_staff_only(public_client, client_a, admin_a):
    assert public_client.get("/console/billing/")["Location"].startswith("/accounts/login/")
    login(client_a, "admin@alpha.test")
    assert client_a.get("/console/billing/").status_code == 404


def test_console_refuses_non_staff_users(public_client, tenant_a):
    from tests.factories import VendorStaffFactory

    VendorStaffFactory(email="visitor@carebridge.test", is_staff=False)
    login(public_client, "visitor@carebridge.test")

    assert public_client.get("/console/billing/").status_code == 403
    assert public_client.post(f"/console/billing/tenants/{tenant_a.pk}/comp/").status_code == 403


def test_console_lists_plan_status_mrr_usage_and_trial_end(
    public_client, vendor_staff, tenant_a, tenant_b, account_a, account_b, plans
):
    Tenant.objects.filter(pk=tenant_a.pk).update(status="active")
    BillingAccount.objects.filter(pk=account_b.pk).update(
        plan=plans["professional"],
        interval="year",
        trial_ends_at=timezone.now() + timedelta(days=3),
    )
    usage_record(tenant_a, "sms", 42)
    login(public_client, "ops@carebridge.test")

    response = public_client.get("/console/billing/")

    rows = {row.tenant.schema_name: row for row in response.context["rows"]}
    assert rows["alpha"].mrr == Decimal("299.00")
    assert rows["beta"].mrr == Decimal("0.00")  # in trial
    assert response.context["mrr_total"] == Decimal("299.00")
    assert {a.key: a.used for a in rows["alpha"].usage}["sms"] == 42
    assert rows["beta"].plan.code == "professional"
    trial_end = timezone.localtime(timezone.now() + timedelta(days=3))  # the console's zone
    assert trial_end.strftime("%Y-%m-%d") in response.content.decode()


def test_yearly_plans_count_a_twelfth_and_comped_plans_nothing(
    public_client, vendor_staff, tenant_a, tenant_b, account_a, account_b, plans
):
    Tenant.objects.filter(pk__in=[tenant_a.pk, tenant_b.pk]).update(status="active")
    BillingAccount.objects.filter(pk=account_a.pk).update(
        plan=plans["professional"], interval="year"
    )
    BillingAccount.objects.filter(pk=account_b.pk).update(comped=True)
    login(public_client, "ops@carebridge.test")

    response = public_client.get("/console/billing/")

    rows = {row.tenant.schema_name: row for row in response.context["rows"]}
    assert (rows["alpha"].mrr, rows["beta"].mrr) == (Decimal("832.50"), Decimal("0.00"))


def test_extend_trial_is_audited(public_client, vendor_staff, tenant_a, account_a):
    login(public_client, "ops@carebridge.test")
    before = timezone.now()

    response = public_client.post(f"/console/billing/tenants/{tenant_a.pk}/trial/", {"days": "10"})

    assert response.status_code == 302
    account = BillingAccount.objects.get(pk=account_a.pk)
    assert account.trial_ends_at >= before + timedelta(days=10)
    entry = BillingAuditEntry.objects.get()
    assert (entry.actor, entry.tenant, entry.action, entry.detail["days"]) == (
        vendor_staff,
        tenant_a,
        "trial_extended",
        10,
    )


def test_extend_trial_refuses_bad_days_and_active_tenants(
    public_client, vendor_staff, tenant_a, account_a
):
    login(public_client, "ops@carebridge.test")

    bad = public_client.post(
        f"/console/billing/tenants/{tenant_a.pk}/trial/", {"days": "900"}, follow=True
    )
    assert [str(m) for m in bad.context["messages"]] == ["试用期只能延长 1 到 90 天。"]
    Tenant.objects.filter(pk=tenant_a.pk).update(status="active")
    active = public_client.post(
        f"/console/billing/tenants/{tenant_a.pk}/trial/", {"days": "5"}, follow=True
    )
    assert len(list(active.context["messages"])) == 1
    assert not BillingAuditEntry.objects.exists()
    assert BillingAccount.objects.get(pk=account_a.pk).trial_ends_at is None


def test_extending_a_trial_that_ran_out_brings_the_tenant_back(
    public_client, vendor_staff, tenant_a, account_a
):
    from billing.services import billing_tick

    BillingAccount.objects.filter(pk=account_a.pk).update(
        trial_ends_at=timezone.now() - timedelta(days=1)
    )
    billing_tick()
    login(public_client, "ops@carebridge.test")

    public_client.post(f"/console/billing/tenants/{tenant_a.pk}/trial/", {"days": "7"})

    assert Tenant.objects.get(pk=tenant_a.pk).status == "trial"


def test_comp_a_plan_makes_the_tenant_active_and_stripe_cannot_move_it(
    public_client, vendor_staff, tenant_a, account_a, plans, deliver
):
    from tests.billing import stripe_events as se

    login(public_client, "ops@carebridge.test")

    public_client.post(
        f"/console/billing/tenants/{tenant_a.pk}/comp/",
        {"plan": plans["enterprise"].pk, "note": "pilot hospital"},
    )

    account = BillingAccount.objects.get(pk=account_a.pk)
    assert (account.plan.code, account.comped) == ("enterprise", True)
    assert Tenant.objects.get(pk=tenant_a.pk).status == "active"
    entry = BillingAuditEntry.objects.get()
    assert (entry.action, entry.detail["plan"], entry.detail["note"]) == (
        "plan_comped",
        "enterprise",
        "pilot hospital",
    )
    deliver(
        se.event(
            "invoice.payment_failed",
            se.invoice(customer="cus_alpha", subscription="sub_x", status="open"),
        )
    )
    assert Tenant.objects.get(pk=tenant_a.pk).status == "active"

    public_client.post(f"/console/billing/tenants/{tenant_a.pk}/comp/end/")
    assert Tenant.objects.get(pk=tenant_a.pk).status == "trial"
    assert BillingAuditEntry.objects.first().action == "comp_ended"


def test_suspend_and_reactivate_from_the_billing_console_are_audited(
    public_client, vendor_staff, tenant_a, account_a
):
    login(public_client, "ops@carebridge.test")

    public_client.post(f"/console/billing/tenants/{tenant_a.pk}/suspend/", {"reason": "fraud"})
    assert Tenant.objects.get(pk=tenant_a.pk).status == "suspended"
    public_client.post(f"/console/billing/tenants/{tenant_a.pk}/reactivate/")
    assert Tenant.objects.get(pk=tenant_a.pk).status == "active"

    assert list(BillingAuditEntry.objects.values_list("action", flat=True)) == [
        "reactivated", "suspended",
    ]  # fmt: skip


def test_open_stripe_customer_links_to_the_dashboard_and_is_audited(
    public_client, vendor_staff, tenant_a, tenant_b, account_a
):
    login(public_client, "ops@carebridge.test")

    response = public_client.post(f"/console/billing/tenants/{tenant_a.pk}/stripe/")

    assert response["Location"] == "https://dashboard.stripe.com/test/customers/cus_alpha"
    assert BillingAuditEntry.objects.get().action == "stripe_opened"
    none = public_client.post(f"/console/billing/tenants/{tenant_b.pk}/stripe/", follow=True)
    assert [str(m) for m in none.context["messages"]] == ["该租户还没有 Stripe 客户。"]


def test_tenant_detail_shows_subscription_events_and_actions(
    public_client, vendor_staff, tenant_a, account_a
):
    login(public_client, "ops@carebridge.test")

    response = public_client.get(f"/console/billing/tenants/{tenant_a.pk}/")

    assert response.status_code == 200
    assert response.context["account"] == account_a
    assert response.context["storage_mb"] > 0
    assert public_client.get("/console/billing/tenants/999999/").status_code == 404


def test_vendor_staff_edit_a_plan_and_bad_price_ids_are_refused(public_client, vendor_staff, plans):
    login(public_client, "ops@carebridge.test")
    starter = plans["starter"]
    form = {
        "code": "starter", "name": "Starter", "description": "", "currency": "cny",
        "monthly_price": "399", "yearly_price": "3990", "stripe_price_monthly": "prod_wrong",
        "stripe_price_yearly": "", "staff_seats": "8", "encounters_per_month": "800",
        "sms_per_month": "", "storage_gb": "5", "public": "on", "position": "1",
    }  # fmt: skip

    bad = public_client.post(f"/console/billing/plans/{starter.pk}/", form)
    assert bad.context["form"].errors["stripe_price_monthly"] == ["Stripe 价格 ID 以 price_ 开头。"]
    assert Plan.objects.get(pk=starter.pk).monthly_price == Decimal("299.00")

    form["stripe_price_monthly"] = "price_starter_v2"
    good = public_client.post(f"/console/billing/plans/{starter.pk}/", form)

    assert good.status_code == 302
    plan = Plan.objects.get(pk=starter.pk)
    assert (plan.monthly_price, plan.staff_seats, plan.sms_per_month) == (Decimal("399"), 8, None)
    assert BillingAuditEntry.objects.get().action == "plan_saved"


def test_one_trial_plan_at_a_time(public_client, vendor_staff, plans):
    login(public_client, "ops@carebridge.test")
    form = {
        "code": "clinic-lite", "name": "Clinic Lite", "currency": "cny", "monthly_price": "99",
        "yearly_price": "990", "staff_seats": "2", "position": "0", "is_default": "on",
    }  # fmt: skip

    public_client.post("/console/billing/plans/new/", form)

    assert list(Plan.objects.filter(is_default=True).values_list("code", flat=True)) == [
        "clinic-lite"
    ]


def test_plan_save_takes_plain_values(vendor_staff, plans):
    """The service behind the plan form, called without a form: a new trial plan, then a
    change of its price; the earlier trial plan is no longer the trial plan."""
    values = PlanValues(
        code="clinic-lite", name="Clinic Lite", monthly_price=Decimal("99"),
        yearly_price=Decimal("990"), staff_seats=2, is_default=True,
    )  # fmt: skip

    created = plan_save(plan_id=None, values=values, actor=vendor_staff)
    changed = plan_save(
        plan_id=created.pk,
        values=replace(values, monthly_price=Decimal("109")),
        actor=vendor_staff,
    )

    plan = Plan.objects.get(code="clinic-lite")
    assert (changed.pk, plan.monthly_price, plan.staff_seats) == (created.pk, Decimal("109"), 2)
    assert list(Plan.objects.filter(is_default=True).values_list("code", flat=True)) == [
        "clinic-lite"
    ]
    assert list(BillingAuditEntry.objects.values_list("action", "detail")) == [
        ("plan_saved", {"plan": "clinic-lite"}),
        ("plan_saved", {"plan": "clinic-lite"}),
    ]


def test_extending_the_trial_of_a_tenant_without_account_counts_from_now(
    public_client, vendor_staff, tenant_b
):
    login(public_client, "ops@carebridge.test")

    public_client.post(f"/console/billing/tenants/{tenant_b.pk}/trial/", {"days": "7"})

    ends = BillingAccount.objects.get(tenant=tenant_b).trial_ends_at
    assert timedelta(days=6, hours=23) < ends - timezone.now() <= timedelta(days=7)

"""The subscription path in a real browser: pricing → sign-up → trial tenant → Stripe Checkout
(the fake Stripe's hosted page, which sends the signed webhooks Stripe would) → active; the
SMS allowance runs out and the banner says so; vendor staff see the tenant with its MRR."""

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import connection
from django_tenants.utils import tenant_context

from billing.entitlements import usage_record
from billing.models import BillingAccount, BillingAuditEntry, Plan, WebhookEvent
from tenants.models import ConsoleAuditEntry, Tenant
from tests.billing.fake_stripe import FakeStripe
from tests.conftest import audit_rows_purge, committed
from tests.e2e.test_shell import menu_go, sign_in, two_step_enrol
from tests.factories import PASSWORD, VendorStaffFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db]

SLUG = "e2e-smile"


@pytest.fixture
def fake_stripe(live_port, settings):
    fake = FakeStripe().start()
    fake.prices = {"price_e2e_starter_month": "month"}
    fake.webhook_url = f"http://localhost:{live_port}/billing/stripe/webhook/"
    settings.STRIPE_API_BASE = fake.url
    # The hosted checkout is the fake's, so the policy's form-action names it as a deployment
    # names Stripe's (STRIPE_REDIRECT_ORIGINS).
    form_action = [*settings.SECURE_CSP["form-action"], fake.url]
    settings.SECURE_CSP = {**settings.SECURE_CSP, "form-action": form_action}

    def prepare():
        Plan.objects.filter(code="starter").update(stripe_price_monthly="price_e2e_starter_month")
        VendorStaffFactory(email="e2e-vendor@carebridge.test")

    committed(prepare)
    cache.clear()  # the sign-up limit per address
    yield fake
    fake.stop()

    def clean():
        connection.set_schema_to_public()
        Plan.objects.filter(code="starter").update(stripe_price_monthly="")
        # Not through the ORM: its cascade would look for tenant-only tables (staff profiles)
        # in the public schema.
        vendor = get_user_model().objects.filter(username="e2e-vendor@carebridge.test").first()
        if vendor is not None:  # its console sign-ins, kept for later tests to count else
            audit_rows_purge(ConsoleAuditEntry, actor_id=vendor.pk)
        with connection.cursor() as cursor:
            cursor.execute(
                "DELETE FROM otp_totp_totpdevice WHERE user_id IN"
                " (SELECT id FROM auth_user WHERE username = %s)",
                ["e2e-vendor@carebridge.test"],
            )
            cursor.execute(
                "DELETE FROM auth_user WHERE username = %s", ["e2e-vendor@carebridge.test"]
            )
        tenant = Tenant.objects.filter(schema_name=SLUG).first()
        if tenant is not None:
            WebhookEvent.objects.filter(account__tenant=tenant).delete()
            audit_rows_purge(ConsoleAuditEntry, tenant_id=tenant.pk)
            audit_rows_purge(BillingAuditEntry, tenant_id=tenant.pk)
            tenant.delete(force_drop=True)

    committed(clean)


def test_a_clinic_signs_up_pays_hits_its_sms_limit_and_shows_in_the_console(
    page, live_port, tenant_url, fake_stripe, screenshot
):
    public = f"http://localhost:{live_port}"
    page.goto(f"{public}/pricing/")
    page.click("[data-plan=starter] >> text=Start free trial")
    page.fill("input[name=name]", "Smile Dental")
    page.fill("input[name=slug]", SLUG)
    page.select_option("select[name=kind]", "dental")
    page.select_option("select[name=locale]", "en")
    page.fill("input[name=admin_email]", "owner@smile.test")
    page.click("form button[type=submit]:not([name=language])")
    assert "Smile Dental" in page.locator("main").inner_text()
    screenshot(page, "billing-signup-done")

    def trial_state():
        tenant = Tenant.objects.get(schema_name=SLUG)
        with tenant_context(tenant):
            admin = get_user_model().objects.get(email="owner@smile.test")
            admin.set_password(PASSWORD)  # what the emailed set-password link does
            admin.save()
        return tenant.status, BillingAccount.objects.get(tenant=tenant).plan.code

    assert committed(trial_state) == ("trial", "starter")

    sign_in(page, tenant_url(SLUG, "/accounts/login/"), "owner@smile.test")
    # A clinic's administrator sets up two-step sign-in at the first sign-in.
    assert page.url.startswith(tenant_url(SLUG, "/accounts/two-step/setup/"))
    two_step_enrol(page)
    assert "Trial until" in page.locator(".banner").first.inner_text()
    menu_go(page, "Billing")
    assert page.locator("#tenant-status").inner_text() == "Trial"

    page.click("[data-plan=starter] >> text=Subscribe monthly")
    assert page.url.startswith(fake_stripe.url + "/pay/cs_test_")
    screenshot(page, "billing-fake-checkout")
    page.click("#pay")

    assert page.url == tenant_url(SLUG, "/billing/?checkout=success")
    assert page.locator("#tenant-status").inner_text() == "Active"
    assert page.locator(".banner").count() == 0
    screenshot(page, "billing-active")

    committed(lambda: usage_record(Tenant.objects.get(schema_name=SLUG), "sms", 500))
    page.reload()
    assert "This month's 500 SMS are used up" in page.locator(".banner").inner_text()
    assert page.locator("[data-usage=sms] td").nth(3).inner_text() == "0"
    screenshot(page, "billing-sms-limit")

    vendor = page.context.browser.new_context().new_page()
    sign_in(
        vendor, f"{public}/accounts/login/?next=/console/billing/", "e2e-vendor@carebridge.test"
    )
    row = vendor.locator(f"tr[data-tenant={SLUG}]")
    assert row.locator(".mrr").inner_text() == "299.00"
    assert "SMS 500/500" in row.inner_text()
    screenshot(vendor, "billing-console")
    vendor.context.close()

"""The tenant's Billing page: Stripe Checkout and the customer portal through the real SDK
against the fake Stripe API; administrators only; one tenant never sees another's."""

from billing.models import BillingAccount
from tenants.models import Tenant
from tests.conftest import login


def test_the_billing_page_shows_plan_status_and_usage_to_the_admin(client_a, admin_a, account_a):
    login(client_a, "admin@alpha.test")

    response = client_a.get("/billing/")

    assert response.status_code == 200
    assert response.context["plan"].code == "starter"
    usage = {a.key: (a.used, a.limit) for a in response.context["usage"]}
    assert usage["encounters"] == (0, 500)
    assert usage["sms"] == (0, 500)
    assert usage["seats"][1] == 5
    assert usage["storage"][0] > 0  # the schema's tables and indexes
    assert usage["storage"][1] == 5 * 1024


def test_an_agent_cannot_open_billing_nor_start_a_checkout(client_a, agent_a, fake_stripe, plans):
    login(client_a, "agent@alpha.test")

    assert client_a.get("/billing/").status_code == 403
    assert client_a.post("/billing/checkout/", {"plan": "starter"}).status_code == 403
    assert client_a.post("/billing/portal/").status_code == 403
    assert fake_stripe.requests == []


def test_the_billing_page_is_not_on_the_public_site(public_client):
    assert public_client.get("/billing/").status_code == 404


def test_checkout_creates_the_customer_once_and_redirects_to_stripe(
    client_a, admin_a, tenant_a, fake_stripe, plans
):
    login(client_a, "admin@alpha.test")

    response = client_a.post("/billing/checkout/", {"plan": "professional", "interval": "year"})

    account = BillingAccount.objects.get(tenant=tenant_a)
    session = next(iter(fake_stripe.sessions.values()))
    assert response.status_code == 302
    assert response["Location"] == session["url"]
    assert response["Location"].startswith(fake_stripe.url + "/pay/cs_test_")
    assert session["customer"] == account.stripe_customer_id
    assert session["client_reference_id"] == str(tenant_a.pk)
    assert session["line_items"] == [{"price": "price_pro_year", "quantity": "1"}]
    assert session["success_url"] == "http://alpha.localhost/billing/?checkout=success"
    assert fake_stripe.customers[account.stripe_customer_id]["email"] == "admin@alpha.test"

    client_a.post("/billing/checkout/", {"plan": "starter", "interval": "month"})

    assert len(fake_stripe.customers) == 1
    assert len(fake_stripe.sessions) == 2
    assert Tenant.objects.get(pk=tenant_a.pk).status == "trial"  # active only on payment


def test_a_plan_without_a_stripe_price_cannot_be_bought(client_a, admin_a, fake_stripe, plans):
    login(client_a, "admin@alpha.test")

    response = client_a.post(
        "/billing/checkout/", {"plan": "enterprise", "interval": "month"}, follow=True
    )

    assert [str(m) for m in response.context["messages"]] == [
        "Enterprise 套餐不能在线购买，请联系 CareBridge。"
    ]
    assert fake_stripe.requests == []


def test_an_unknown_plan_or_interval_is_refused(client_a, admin_a, fake_stripe, plans):
    login(client_a, "admin@alpha.test")

    assert client_a.post("/billing/checkout/", {"plan": "platinum"}).status_code == 404
    response = client_a.post(
        "/billing/checkout/", {"plan": "starter", "interval": "weekly"}, follow=True
    )
    assert [str(m) for m in response.context["messages"]] == ["请选择按月或按年付费。"]
    assert fake_stripe.requests == []


def test_stripe_down_gives_a_clear_message_and_changes_nothing(
    client_a, admin_a, tenant_a, fake_stripe, plans
):
    login(client_a, "admin@alpha.test")
    fake_stripe.fail_next = 400  # not retried by the SDK

    response = client_a.post(
        "/billing/checkout/", {"plan": "starter", "interval": "month"}, follow=True
    )

    assert [str(m) for m in response.context["messages"]] == [
        "暂时无法连接支付服务。没有发生任何扣费，请几分钟后再试。"
    ]
    assert BillingAccount.objects.get(tenant=tenant_a).stripe_customer_id is None
    assert fake_stripe.sessions == {}


def test_the_portal_opens_for_a_customer(client_a, admin_a, tenant_a, fake_stripe, plans):
    login(client_a, "admin@alpha.test")
    client_a.post("/billing/checkout/", {"plan": "starter", "interval": "month"})
    customer = BillingAccount.objects.get(tenant=tenant_a).stripe_customer_id

    response = client_a.post("/billing/portal/")

    assert response["Location"] == f"{fake_stripe.url}/portal/{customer}"
    assert fake_stripe.requests[-1] == (
        "POST",
        "/v1/billing_portal/sessions",
        {"customer": customer, "return_url": "http://alpha.localhost/billing/"},
    )


def test_the_portal_without_a_subscription_says_to_choose_a_plan(
    client_a, admin_a, fake_stripe, plans
):
    login(client_a, "admin@alpha.test")

    response = client_a.post("/billing/portal/", follow=True)

    assert [str(m) for m in response.context["messages"]] == ["还没有可管理的订阅，请先选择套餐。"]
    assert fake_stripe.requests == []


def test_a_suspended_tenant_can_still_subscribe(client_a, admin_a, tenant_a, fake_stripe, plans):
    from tenants.services import tenant_suspend

    tenant_suspend(tenant=tenant_a)
    login(client_a, "admin@alpha.test")

    response = client_a.post("/billing/checkout/", {"plan": "starter", "interval": "month"})

    assert response.status_code == 302
    assert response["Location"].startswith(fake_stripe.url)
    assert client_a.post("/settings/", {}).status_code == 403  # the rest stays read-only


def test_admin_of_b_sees_only_b_billing(client_b, admin_b, account_a, account_b, tenant_a):
    from billing.entitlements import usage_record

    usage_record(tenant_a, "sms", 321)
    login(client_b, "admin@beta.test")

    response = client_b.get("/billing/")

    assert response.context["account"] == account_b
    assert {a.key: a.used for a in response.context["usage"]}["sms"] == 0
    assert b"cus_alpha" not in response.content


def test_checkout_of_b_uses_b_customer_only(client_b, admin_b, account_a, account_b,
                                            fake_stripe):  # fmt: skip
    fake_stripe.customers["cus_beta"] = {"id": "cus_beta"}
    login(client_b, "admin@beta.test")

    client_b.post("/billing/checkout/", {"plan": "starter", "interval": "month"})

    session = next(iter(fake_stripe.sessions.values()))
    assert session["customer"] == "cus_beta"
    assert session["client_reference_id"] == str(account_b.tenant_id)


def test_a_second_checkout_while_subscribed_is_refused(
    client_a, admin_a, account_a, fake_stripe, deliver
):
    from tests.billing import stripe_events as se

    deliver(
        se.event(
            "customer.subscription.created",
            se.subscription(customer="cus_alpha", price="price_starter_month"),
        )
    )
    login(client_a, "admin@alpha.test")

    response = client_a.post(
        "/billing/checkout/", {"plan": "professional", "interval": "month"}, follow=True
    )

    assert [str(m) for m in response.context["messages"]] == [
        "您已有订阅。请通过付款和发票按钮变更套餐。"
    ]
    assert fake_stripe.requests == []


def test_a_comped_tenant_has_nothing_to_pay(client_a, admin_a, account_a, fake_stripe):
    BillingAccount.objects.filter(pk=account_a.pk).update(comped=True)
    login(client_a, "admin@alpha.test")

    response = client_a.post(
        "/billing/checkout/", {"plan": "starter", "interval": "month"}, follow=True
    )

    assert [str(m) for m in response.context["messages"]] == [
        "您的套餐由 CareBridge 免费提供，无需付款。"
    ]
    assert fake_stripe.requests == []


def test_the_portal_of_b_opens_b_customer_only(client_b, admin_b, account_a, account_b,
                                               fake_stripe):  # fmt: skip
    fake_stripe.customers["cus_beta"] = {"id": "cus_beta"}
    login(client_b, "admin@beta.test")

    response = client_b.post("/billing/portal/")

    assert response["Location"] == f"{fake_stripe.url}/portal/cus_beta"
    assert [r[2]["customer"] for r in fake_stripe.requests] == ["cus_beta"]


def test_a_subscribed_tenant_is_sent_to_the_portal_not_to_a_new_checkout(
    client_a, admin_a, account_a, deliver
):
    from tests.billing import stripe_events as se

    login(client_a, "admin@alpha.test")
    before = client_a.get("/billing/").content.decode()
    deliver(
        se.event(
            "customer.subscription.created",
            se.subscription(customer="cus_alpha", price="price_starter_month"),
        )
    )

    after = client_a.get("/billing/").content.decode()

    assert "/billing/checkout/" in before
    assert "/billing/checkout/" not in after
    assert "/billing/portal/" in after

"""The public site: pricing page and self-service sign-up into a trial."""

from datetime import timedelta

from django.core import mail
from django.utils import timezone
from django_tenants.utils import schema_exists

from billing.models import BillingAccount, Plan
from tenants.models import Tenant

SIGNUP = {
    "name": "Gamma 口腔",
    "slug": "gamma",
    "kind": "dental",
    "locale": "en",
    "admin_email": "Owner@Gamma.test",
    "plan": "",
}


def test_pricing_lists_the_public_plans_with_limits(public_client, plans):
    Plan.objects.filter(code="enterprise").update(public=False)

    response = public_client.get("/pricing/")

    assert [p.code for p in response.context["plans"]] == ["starter", "professional"]
    assert "/signup/?plan=starter" in response.content.decode()


def test_pricing_is_not_served_on_a_tenant_host(client_a):
    assert client_a.get("/pricing/").status_code == 404


def test_signup_makes_a_trial_tenant_with_its_admin_invited(
    public_client, plans, django_capture_on_commit_callbacks
):
    plan = plans["starter"]
    with django_capture_on_commit_callbacks(execute=True):
        response = public_client.post("/signup/", {**SIGNUP, "plan": plan.pk})

    assert response["Location"] == "/signup/done/"
    tenant = Tenant.objects.get(schema_name="gamma")
    assert (tenant.status, tenant.kind, tenant.locale) == ("trial", "dental", "en")
    assert schema_exists("gamma")
    account = BillingAccount.objects.get(tenant=tenant)
    assert account.plan == plan
    assert abs(account.trial_ends_at - (timezone.now() + timedelta(days=14))) < timedelta(minutes=1)
    assert [m.to for m in mail.outbox] == [["owner@gamma.test"]]

    done = public_client.get("/signup/done/")
    assert "http" in done.context["tenant_url"] and "gamma.localhost" in done.context["tenant_url"]


def test_signup_without_a_plan_tries_the_trial_plan(public_client, plans):
    public_client.post("/signup/", SIGNUP)

    assert BillingAccount.objects.get(tenant__schema_name="gamma").plan.code == "professional"


def test_signup_with_a_taken_slug_says_so_and_creates_nothing(public_client, tenant_a, plans):
    before = (Tenant.objects.count(), BillingAccount.objects.count())

    response = public_client.post("/signup/", {**SIGNUP, "slug": "alpha"})

    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == ["“alpha”已被占用，请换一个。"]
    assert (Tenant.objects.count(), BillingAccount.objects.count()) == before


def test_signup_with_bad_fields_keeps_what_was_typed(public_client, plans):
    response = public_client.post(
        "/signup/", {**SIGNUP, "slug": "Bad Slug!", "admin_email": "not-an-email"}
    )

    form = response.context["form"]
    assert "admin_email" in form.errors
    assert form["name"].value() == "Gamma 口腔"
    assert not Tenant.objects.filter(name="Gamma 口腔").exists()


def test_signup_refuses_a_plan_that_is_not_on_sale(public_client, plans):
    hidden = plans["enterprise"]
    Plan.objects.filter(pk=hidden.pk).update(public=False)

    response = public_client.post("/signup/", {**SIGNUP, "plan": hidden.pk})

    assert "plan" in response.context["form"].errors
    assert not Tenant.objects.filter(schema_name="gamma").exists()


def test_signup_done_without_a_signup_goes_back_to_the_form(public_client):
    assert public_client.get("/signup/done/")["Location"] == "/signup/"


def test_signups_from_one_address_are_limited(public_client, plans, settings):
    settings.BILLING_SIGNUPS_PER_HOUR = 2
    public_client.post("/signup/", {**SIGNUP, "slug": "Bad Slug!"})
    public_client.post("/signup/", {**SIGNUP, "slug": "Bad Slug!"})

    response = public_client.post("/signup/", SIGNUP)

    assert response.status_code == 429
    assert response.context["form"].non_field_errors() == [
        "来自您所在网络的注册过多，请一小时后再试。"
    ]
    assert response.context["form"]["name"].value() == "Gamma 口腔"
    assert not Tenant.objects.filter(schema_name="gamma").exists()

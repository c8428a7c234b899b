"""The vendor console on BASE_DOMAIN."""

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import translation
from django_tenants.utils import schema_exists, tenant_context

from tenants.models import ConsoleAuditEntry, Domain, Tenant
from tenants.services import domain_add
from tests.conftest import login


def active_staff(tenant) -> int:
    with tenant_context(tenant):
        return get_user_model().objects.filter(is_active=True).count()


def test_console_requires_vendor_staff(public_client, tenant_a):
    assert public_client.get("/console/")["Location"].startswith("/accounts/login/")


def test_console_refuses_public_users_who_are_not_staff(public_client):
    from tests.factories import VendorStaffFactory

    VendorStaffFactory(email="visitor@carebridge.test", is_staff=False)
    login(public_client, "visitor@carebridge.test")

    assert public_client.get("/console/").status_code == 403


def test_console_is_not_served_on_a_tenant_host(client_a, admin_a):
    login(client_a, "admin@alpha.test")

    assert client_a.get("/console/").status_code == 404


def test_console_lists_tenants_with_status_and_user_count(public_client, vendor_staff, admin_a):
    login(public_client, "ops@carebridge.test")

    response = public_client.get("/console/")

    rows = {t.schema_name: t for t in response.context["tenants"]}
    assert set(rows) == {"alpha", "beta"}
    assert rows["alpha"].user_count == active_staff(rows["alpha"])
    assert rows["beta"].user_count == active_staff(rows["beta"]) == 1


def test_console_creates_a_tenant(public_client, vendor_staff):
    login(public_client, "ops@carebridge.test")

    response = public_client.post(
        "/console/tenants/new/",
        {
            "name": "Epsilon Dental",
            "slug": "epsilon",
            "kind": "dental",
            "locale": "en",
            "admin_email": "owner@epsilon.test",
        },
    )

    assert response.status_code == 302
    tenant = Tenant.objects.get(schema_name="epsilon")
    assert tenant.kind == "dental"
    assert schema_exists("epsilon")
    assert ConsoleAuditEntry.objects.filter(tenant=tenant, action="tenant_created").exists()
    assert Client(HTTP_HOST="epsilon.localhost").get("/accounts/login/").status_code == 200


def test_console_shows_a_clear_error_for_a_taken_slug(public_client, vendor_staff):
    login(public_client, "ops@carebridge.test")
    before = Tenant.objects.count()

    response = public_client.post(
        "/console/tenants/new/",
        {
            "name": "Dup",
            "slug": "alpha",
            "kind": "dental",
            "locale": "en",
            "admin_email": "a@b.test",
        },
        HTTP_ACCEPT_LANGUAGE="en",
    )

    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == [
        "“alpha” is already taken. Please choose another name."
    ]
    assert Tenant.objects.count() == before


def test_console_suspends_and_reactivates(public_client, vendor_staff, tenant_a):
    login(public_client, "ops@carebridge.test")

    public_client.post(f"/console/tenants/{tenant_a.pk}/suspend/")
    tenant_a.refresh_from_db()
    assert tenant_a.status == Tenant.Status.SUSPENDED
    page = public_client.get("/console/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "ops@carebridge.test · Status changed · Alpha 人民医院 → Suspended" in page

    public_client.post(f"/console/tenants/{tenant_a.pk}/reactivate/")
    tenant_a.refresh_from_db()
    assert tenant_a.status == Tenant.Status.ACTIVE
    assert ConsoleAuditEntry.objects.filter(tenant=tenant_a, actor=vendor_staff).count() == 2


def test_console_cannot_suspend_the_public_tenant(public_client, vendor_staff):
    login(public_client, "ops@carebridge.test")
    public = Tenant.objects.get(schema_name="public")

    response = public_client.post(f"/console/tenants/{public.pk}/suspend/")

    assert response.status_code == 404
    public.refresh_from_db()
    assert public.status == Tenant.Status.ACTIVE


def test_console_adds_a_custom_domain_that_routes_to_the_tenant(
    public_client, vendor_staff, tenant_a
):
    login(public_client, "ops@carebridge.test")

    public_client.post(
        f"/console/tenants/{tenant_a.pk}/domains/", {"domain": " FollowUp.Renai-Hospital.cn. "}
    )

    domain = tenant_a.domains.get(domain="followup.renai-hospital.cn")
    assert domain.is_primary is False
    assert tenant_a.domains.get(is_primary=True).domain == "alpha.localhost"
    page = Client(HTTP_HOST="followup.renai-hospital.cn").get("/accounts/login/")
    assert page.status_code == 200
    assert "Alpha 人民医院" in page.content.decode()
    assert ConsoleAuditEntry.objects.filter(
        tenant=tenant_a, action="domain_added", detail={"domain": "followup.renai-hospital.cn"}
    ).exists()


@pytest.mark.parametrize(
    ("domain", "message"),
    [
        ("not a domain", "Enter a host name such as followup.example-hospital.cn."),
        ("localhost", "Enter a host name such as followup.example-hospital.cn."),
        (
            "beta.localhost",
            "Addresses under localhost come with the tenant's name and cannot be added.",
        ),
        ("care.example.cn/path", "Enter a host name such as followup.example-hospital.cn."),
    ],
)
def test_console_refuses_bad_custom_domains_and_adds_nothing(
    public_client, vendor_staff, tenant_a, domain, message
):
    login(public_client, "ops@carebridge.test")
    before = Domain.objects.count()

    response = public_client.post(
        f"/console/tenants/{tenant_a.pk}/domains/",
        {"domain": domain},
        HTTP_ACCEPT_LANGUAGE="en",
        follow=True,
    )

    assert [str(m) for m in response.context["messages"]] == [message]
    assert Domain.objects.count() == before


def test_a_domain_under_base_domain_or_in_use_is_refused(tenant_a, tenant_b):
    domain_add(tenant=tenant_b, domain="care.beta-dental.cn")

    with translation.override("en"):
        with pytest.raises(ValidationError) as taken:
            domain_add(tenant=tenant_a, domain="care.beta-dental.cn")
        with pytest.raises(ValidationError) as ours:
            domain_add(tenant=tenant_a, domain="www.alpha.localhost")

        assert taken.value.messages == ["care.beta-dental.cn is already in use."]
        assert ours.value.messages == [
            "Addresses under localhost come with the tenant's name and cannot be added."
        ]
    assert tenant_b.domains.filter(domain="care.beta-dental.cn").exists()
    assert not tenant_a.domains.filter(domain__in=["care.beta-dental.cn", "www.alpha.localhost"])


def test_console_removes_a_custom_domain_but_not_the_main_address(
    public_client, vendor_staff, tenant_a
):
    custom = domain_add(tenant=tenant_a, domain="care.alpha-hospital.cn")
    primary = tenant_a.domains.get(is_primary=True)
    login(public_client, "ops@carebridge.test")

    public_client.post(f"/console/domains/{custom.pk}/remove/")
    public_client.post(f"/console/domains/{primary.pk}/remove/")

    assert list(tenant_a.domains.values_list("domain", flat=True)) == ["alpha.localhost"]
    assert Client(HTTP_HOST="care.alpha-hospital.cn").get("/").status_code == 404

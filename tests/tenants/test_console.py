"""The vendor console on BASE_DOMAIN."""

from django.contrib.auth import get_user_model
from django.test import Client
from django_tenants.utils import schema_exists, tenant_context

from tenants.models import ConsoleAuditEntry, Tenant
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

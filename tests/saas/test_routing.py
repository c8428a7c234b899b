"""Host routing, tenant isolation over HTTP, suspension, lockout and language."""

from django.contrib.auth import get_user_model
from django.test import Client

from tenants.services import tenant_reactivate, tenant_suspend
from tests.conftest import login


def test_unknown_host_gets_a_clear_404_page(db):
    response = Client(HTTP_HOST="nobody.localhost").get("/")

    assert response.status_code == 404
    assert (
        "No clinic at this address" in response.content.decode()
        or "此地址" in response.content.decode()
    )


def test_template_schema_is_not_reachable_by_host(db):
    response = Client(HTTP_HOST="_template.localhost").get("/")

    assert response.status_code in (400, 404)


def test_public_site_on_base_domain(public_client):
    response = public_client.get("/", HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 200
    assert "Follow up with every patient" in response.content.decode()


def test_tenant_home_requires_login(client_a):
    response = client_a.get("/")

    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/"


def test_staff_of_a_can_log_in_on_a(client_a, admin_a):
    response = login(client_a, "admin@alpha.test")

    assert response.status_code == 302
    assert client_a.get("/").status_code == 200


def test_staff_of_a_cannot_log_in_on_b(client_b, admin_a):
    response = login(client_b, "admin@alpha.test")

    assert response.status_code == 200
    assert response.wsgi_request.user.is_anonymous
    assert "_auth_user_id" not in client_b.session


def test_session_cookie_of_a_is_useless_on_b(client_a, admin_a, tenant_b):
    login(client_a, "admin@alpha.test")
    stolen = client_a.cookies["sessionid"].value
    other = Client(HTTP_HOST=tenant_b.primary_host)
    other.cookies["sessionid"] = stolen

    response = other.get("/")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_pages_of_a_are_not_served_under_b(
    client_a, client_b, admin_a, admin_b, in_tenant, tenant_a
):
    login(client_b, "admin@beta.test")

    page = client_b.get("/staff/").content.decode()

    assert "admin@beta.test" in page
    assert "admin@alpha.test" not in page
    with in_tenant(tenant_a):
        assert get_user_model().objects.filter(email="admin@beta.test").count() == 0


def test_suspended_tenant_shows_the_suspended_page_and_refuses_changes(
    client_a, admin_a, tenant_a, in_tenant
):
    tenant_suspend(tenant=tenant_a)
    login(client_a, "admin@alpha.test")

    home = client_a.get("/", HTTP_ACCEPT_LANGUAGE="en")
    refused = client_a.post("/staff/invite/", {"email": "new@alpha.test", "role": "agent"})

    assert home.status_code == 200
    assert "账户已停用" in home.content.decode()
    assert refused.status_code == 403
    assert "账户已停用" in refused.content.decode()
    with in_tenant(tenant_a):
        assert not get_user_model().objects.filter(email="new@alpha.test").exists()


def test_reactivated_tenant_accepts_changes_again(client_a, admin_a, tenant_a):
    tenant_suspend(tenant=tenant_a)
    tenant_reactivate(tenant=tenant_a)
    login(client_a, "admin@alpha.test")

    response = client_a.post("/staff/invite/", {"email": "new@alpha.test", "role": "agent"})

    assert response.status_code == 302


def test_login_locks_after_five_failures_even_with_the_right_password(client_a, admin_a):
    for _ in range(5):
        login(client_a, "admin@alpha.test", "wrong password")

    response = login(client_a, "admin@alpha.test")

    assert response.status_code == 429
    assert "账户" in response.content.decode() or "locked" in response.content.decode()
    assert client_a.get("/").status_code == 302


def test_lockout_on_a_does_not_lock_the_same_address_on_b(client_a, client_b, tenant_b, in_tenant):
    with in_tenant(tenant_b):
        from tests.factories import StaffFactory

        StaffFactory(email="same@clinic.test", role="agent")
    for _ in range(5):
        login(client_a, "same@clinic.test", "wrong password")

    response = login(client_b, "same@clinic.test")

    assert response.status_code == 302


def test_tenant_language_is_the_default_and_the_switch_overrides_it(client_a, client_b):
    assert "<h1>登录</h1>" in client_a.get("/accounts/login/").content.decode()
    assert "<h1>Sign in</h1>" in client_b.get("/accounts/login/").content.decode()

    client_a.post("/i18n/setlang/", {"language": "en", "next": "/accounts/login/"})

    assert "<h1>Sign in</h1>" in client_a.get("/accounts/login/").content.decode()

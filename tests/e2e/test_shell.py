"""A person signs in on a tenant's domain, switches language, finds what their role allows."""

import pytest

from tests.factories import PASSWORD

# django_db: makes pytest-django set up the test database; the pages are served by other
# threads, on their own connections (tests/e2e/conftest.py).
pytestmark = [pytest.mark.e2e, pytest.mark.django_db]


def sign_in(page, url, email):
    page.goto(url)
    page.fill("input[name=username]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("form button[type=submit]:not([name=language])")
    # The click returns once the next page starts; its stylesheet may not be applied yet.
    page.wait_for_load_state("load")


def test_admin_signs_in_in_chinese_switches_to_english_and_opens_staff(
    page, tenant_url, screenshot
):
    sign_in(page, tenant_url("alpha", "/accounts/login/"), "e2e-admin@alpha.test")
    assert page.locator("h1").first.inner_text().startswith("欢迎")
    screenshot(page, "home-zh")

    page.click("button[name=language][value=en]")
    assert page.locator("h1").first.inner_text().startswith("Welcome")

    page.click("nav >> text=Staff")
    assert page.locator("h1").first.inner_text() == "Staff"
    assert page.locator("td", has_text="e2e-agent@alpha.test").count() == 1
    screenshot(page, "staff-en")


def test_agent_sees_no_staff_link_and_is_refused_the_page(page, tenant_url):
    sign_in(page, tenant_url("alpha", "/accounts/login/"), "e2e-agent@alpha.test")

    assert page.locator("nav a", has_text="员工").count() == 0
    response = page.goto(tenant_url("alpha", "/staff/"))
    assert response.status == 403


def test_the_shell_works_on_a_phone(phone_page, tenant_url, screenshot):
    page = phone_page
    sign_in(page, tenant_url("alpha", "/accounts/login/"), "e2e-admin@alpha.test")

    assert not page.locator("nav.nav").is_visible()
    page.click("label.nav-toggle-label")
    assert page.locator("nav.nav").is_visible()
    screenshot(page, "home-phone-menu")


def test_unknown_tenant_host_shows_the_not_found_page(page, tenant_url):
    response = page.goto(tenant_url("no-such-clinic"))

    assert response.status == 404
    assert "no-such-clinic.localhost" in page.content()

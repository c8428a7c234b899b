"""A person signs in on a tenant's domain, switches language, finds what their role allows."""

from base64 import b32decode
from urllib.parse import urlsplit

import pytest
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_tenants.utils import tenant_context

from tests.conftest import committed, tenant_of_host
from tests.factories import PASSWORD, totp_code

# django_db: makes pytest-django set up the test database; the pages are served by other
# threads, on their own connections (tests/e2e/conftest.py).
pytestmark = [pytest.mark.e2e, pytest.mark.django_db]


TWO_STEP_SUBMIT = "main form button[type=submit].button"


def sign_in(page, url, email, password=PASSWORD):
    """The password, then, when the page asks for it, the code of the user's authenticator."""
    page.goto(url)
    page.fill("input[name=username]", email)
    page.fill("input[name=password]", password)
    page.click("form button[type=submit]:not([name=language])")
    # The click returns once the next page starts; its stylesheet may not be applied yet.
    page.wait_for_load_state("load")
    if "/accounts/two-step/verify/" in page.url:
        page.fill("input[name=code]", committed(phone_code, urlsplit(page.url).netloc, email))
        page.click(TWO_STEP_SUBMIT)
        page.wait_for_load_state("load")


def menu_go(page, label: str) -> None:
    """Follow the menu entry ``label``, opening its drop-down group first when it has one."""
    # Links in a closed drop-down are hidden, which roles leave out unless asked.
    entry = page.get_by_role("link", name=label, exact=True, include_hidden=True)
    link = page.locator("#main-nav").get_by_role("link", name=label, exact=True)
    group = page.locator("#main-nav details.nav-menu", has=entry)
    if group.count() and not group.evaluate("details => details.open"):
        group.locator("summary").click()
    link.click()
    page.wait_for_load_state("load")


def phone_code(host: str, email: str) -> str:
    """What the user's authenticator app shows now. Every test starts at the suite's instant
    and these accounts are committed, so an earlier test's sign-in may have taken this time
    step's code, and the next one's: the device is told that was a step ago, as it was in
    real time."""
    with tenant_context(tenant_of_host(host)):
        device = TOTPDevice.objects.get(user__username=email, confirmed=True)
        now_step = TOTP(device.bin_key, device.step, device.t0).t()
        if device.last_t >= now_step:
            TOTPDevice.objects.filter(pk=device.pk).update(last_t=now_step - 1)
            device.last_t = now_step - 1
        return totp_code(device)


def two_step_enrol(page):
    """On the enrolment page: the phone reads the key shown beside the QR code; its code
    confirms it; the recovery codes are acknowledged."""
    secret = page.inner_text("#two-step-secret").replace(" ", "")
    code = TOTP(b32decode(secret)).token()
    page.fill("input[name=code]", f"{code:06d}")
    page.click(TWO_STEP_SUBMIT)
    assert page.locator("#recovery-codes li").count() == 10
    page.click("main a.button")
    page.wait_for_load_state("load")


def test_admin_signs_in_in_chinese_switches_to_english_and_opens_staff(
    page, tenant_url, screenshot
):
    sign_in(page, tenant_url("alpha", "/accounts/login/"), "e2e-admin@alpha.test")
    assert page.locator("h1").first.inner_text().startswith("欢迎")
    screenshot(page, "home-zh")

    page.click("button[name=language][value=en]")
    assert page.locator("h1").first.inner_text().startswith("Welcome")

    menu_go(page, "Staff")
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
    page.click("button.nav-toggle")
    assert page.locator("nav.nav").is_visible()
    assert page.locator("button.nav-toggle").get_attribute("aria-expanded") == "true"
    screenshot(page, "home-phone-menu")


def test_unknown_tenant_host_shows_the_not_found_page(page, tenant_url):
    response = page.goto(tenant_url("no-such-clinic"))

    assert response.status == 404
    assert "no-such-clinic.localhost" in page.content()

"""A clinic administrator signs in with a password and then the code of their authenticator
app, computed here from the device's secret as the phone does, and reaches the home page."""

import pytest
from django.contrib.auth import get_user_model
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_tenants.utils import tenant_context

from tests.conftest import committed, tenant_of_host
from tests.e2e.test_shell import TWO_STEP_SUBMIT
from tests.factories import PASSWORD, StaffFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db]

EMAIL = "e2e-two-step@alpha.test"


@pytest.fixture
def administrator(live_port):
    """A committed administrator with an authenticator app; the secret is what the phone
    holds after scanning the enrolment page's QR code."""

    def create():
        with tenant_context(tenant_of_host("alpha.localhost")):
            TOTPDevice.objects.filter(user__username=EMAIL).delete()
            user = get_user_model().objects.filter(username=EMAIL).first()
            user = user or StaffFactory(email=EMAIL, role="admin", two_step=False)
            return TOTPDevice.objects.create(user=user, name="authenticator").bin_key

    return committed(create)


def test_an_administrator_signs_in_with_a_password_and_a_phone_code(
    page, tenant_url, administrator, screenshot
):
    page.goto(tenant_url("alpha", "/accounts/login/"))
    page.fill("input[name=username]", EMAIL)
    page.fill("input[name=password]", PASSWORD)
    page.click("form button[type=submit]:not([name=language])")
    page.wait_for_load_state("load")

    assert page.url.startswith(tenant_url("alpha", "/accounts/two-step/verify/"))
    screenshot(page, "two-step-code")
    assert page.goto(tenant_url("alpha", "/worklist/")).url.startswith(
        tenant_url("alpha", "/accounts/two-step/verify/")
    )
    page.fill("input[name=code]", f"{TOTP(administrator).token():06d}")
    page.click(TWO_STEP_SUBMIT)
    page.wait_for_load_state("load")

    assert page.url == tenant_url("alpha", "/worklist/")
    page.goto(tenant_url("alpha", "/"))
    assert page.locator("h1").first.inner_text().startswith("欢迎")

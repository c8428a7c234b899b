"""Two-step sign-in (issue 18, item 9): who must use it, enrolment, the second step with an
authenticator code or a one-time recovery code, turning it off, and that a device of one
clinic means nothing at another."""

from base64 import b32decode
from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from crm.models import AuditEntry
from saas import two_step
from tenants.models import Tenant
from tests.api.conftest import ApiClient, make_key
from tests.conftest import login
from tests.factories import PASSWORD, StaffFactory, VendorStaffFactory, totp_code

User = get_user_model()
SETUP = "/accounts/two-step/setup/"
VERIFY = "/accounts/two-step/verify/"


def english(client: Client) -> Client:
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def password_only(client: Client, email: str):
    return client.post("/accounts/login/", {"username": email, "password": PASSWORD})


def enrolling_code(tenant, in_tenant, email: str) -> str:
    """What the phone shows after scanning the enrolment page's QR code."""
    with in_tenant(tenant):
        return totp_code(TOTPDevice.objects.get(user__username=email, confirmed=False))


def device_of(tenant, in_tenant, email: str) -> TOTPDevice:
    with in_tenant(tenant):
        return TOTPDevice.objects.get(user__username=email, confirmed=True)


# --- Who must use it --------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["admin", "supervisor"])
def test_a_required_role_without_a_device_can_do_nothing_but_enrol_or_sign_out(
    client_a, tenant_a, in_tenant, role
):
    with in_tenant(tenant_a):
        StaffFactory(email="new@alpha.test", role=role, two_step=False)

    signed = password_only(client_a, "new@alpha.test")
    home = client_a.get("/")
    staff = client_a.get("/worklist/?when=overdue")
    invite = client_a.post("/staff/invite/", {"email": "x@alpha.test", "role": "agent"})
    api_keys = client_a.get("/settings/api-keys/")

    assert signed.status_code == 302
    assert home.status_code == 302
    assert home["Location"] == f"{SETUP}?next=%2F"
    assert staff["Location"] == f"{SETUP}?next=%2Fworklist%2F%3Fwhen%3Doverdue"
    assert invite.status_code == 302 and invite["Location"].startswith(SETUP)
    assert api_keys["Location"].startswith(SETUP)
    with in_tenant(tenant_a):
        assert not User.objects.filter(email="x@alpha.test").exists()
    assert client_a.get(SETUP).status_code == 200
    assert client_a.post("/accounts/logout/").status_code == 302
    assert client_a.get("/")["Location"] == "/accounts/login/?next=/"


def test_an_agent_is_not_asked_for_a_second_step_by_default(client_a, agent_a):
    response = login(client_a, "agent@alpha.test")

    assert response["Location"] == "/"
    home = client_a.get("/")
    assert home.status_code == 200
    # Fully signed in: the menu and the role are shown.
    assert "worklist" in [item["name"] for item in home.context["nav_items"]]
    assert home.context["user_role"] is not None


def test_the_clinic_policy_extends_two_step_sign_in_to_agents(client_a, tenant_a, agent_a, admin_a):
    agent = Client(HTTP_HOST=tenant_a.primary_host)
    login(agent, "agent@alpha.test")
    assert agent.get("/").status_code == 200
    login(client_a, "admin@alpha.test")
    form = client_a.get("/settings/").context["form"]

    saved = client_a.post("/settings/", {**form.initial, "require_two_step": "on"})

    assert saved.status_code == 302
    tenant_a.refresh_from_db()
    assert tenant_a.require_two_step is True
    assert agent.get("/")["Location"] == f"{SETUP}?next=%2F"
    assert agent.get("/worklist/")["Location"].startswith(SETUP)


def test_the_policy_is_off_by_default_and_on_the_settings_page(client_a, tenant_a, admin_a):
    login(english(client_a), "admin@alpha.test")

    page = client_a.get("/settings/").content.decode()

    assert tenant_a.require_two_step is False
    assert 'name="require_two_step"' in page
    assert "Require two-step sign-in for all staff" in page


# --- Enrolment --------------------------------------------------------------------------------


def test_enrolment_shows_a_qr_code_drawn_here_and_the_key(client_a, tenant_a, in_tenant):
    with in_tenant(tenant_a):
        StaffFactory(email="new@alpha.test", role="admin", two_step=False)
    password_only(english(client_a), "new@alpha.test")

    page = client_a.get(SETUP).content.decode()

    with in_tenant(tenant_a):
        device = TOTPDevice.objects.get(user__username="new@alpha.test")
    assert device.confirmed is False
    assert '<figure class="qr" id="two-step-qr"><svg' in page
    assert "<img" not in page.split('id="two-step-qr"')[1].split("</figure>")[0]
    shown_key = page.split('id="two-step-secret">')[1].split("<")[0]
    assert b32decode(shown_key.replace(" ", "")) == device.bin_key
    assert shown_key in client_a.get(SETUP).content.decode()  # a reload shows the same key
    with in_tenant(tenant_a):
        assert TOTPDevice.objects.filter(user__username="new@alpha.test").count() == 1


def test_enrolment_with_a_wrong_code_is_refused_and_changes_nothing(client_a, tenant_a, in_tenant):
    with in_tenant(tenant_a):
        StaffFactory(email="new@alpha.test", role="admin", two_step=False)
    password_only(english(client_a), "new@alpha.test")
    client_a.get(SETUP)
    right = enrolling_code(tenant_a, in_tenant, "new@alpha.test")
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"

    response = client_a.post(SETUP, {"code": wrong})

    assert response.status_code == 200
    assert "That code is not right" in response.content.decode()
    with in_tenant(tenant_a):
        assert not TOTPDevice.objects.filter(confirmed=True, user__username="new@alpha.test")
        assert not StaticToken.objects.filter(device__user__username="new@alpha.test").exists()
    assert client_a.get("/")["Location"].startswith(SETUP)


def test_enrolment_confirmed_by_a_code_shows_ten_recovery_codes_once(client_a, tenant_a, in_tenant):
    with in_tenant(tenant_a):
        StaffFactory(email="new@alpha.test", role="admin", two_step=False)
    password_only(client_a, "new@alpha.test")
    client_a.get(SETUP)

    response = client_a.post(
        f"{SETUP}?next=/staff/", {"code": enrolling_code(tenant_a, in_tenant, "new@alpha.test")}
    )

    codes = response.context["codes"]
    assert response.status_code == 200
    assert len(codes) == 10 and len(set(codes)) == 10
    assert all(code in response.content.decode() for code in codes)
    assert 'href="/staff/"' in response.content.decode()
    with in_tenant(tenant_a):
        assert TOTPDevice.objects.get(user__username="new@alpha.test").confirmed is True
        stored = StaticToken.objects.filter(device__user__username="new@alpha.test")
        assert sorted(stored.values_list("token", flat=True)) == sorted(codes)
    assert client_a.get("/staff/").status_code == 200
    assert client_a.get(SETUP)["Location"] == "/accounts/two-step/"
    manage = client_a.get("/accounts/two-step/").content.decode()
    assert not any(code in manage for code in codes)
    with in_tenant(tenant_a):  # in the clinic's audit trail, without the codes
        [enrolled] = AuditEntry.objects.filter(action="two_step_enrolled")
        assert (enrolled.actor.username, enrolled.detail) == ("new@alpha.test", {})


# --- The second step --------------------------------------------------------------------------


def test_sign_in_asks_for_the_code_before_any_page(client_a, tenant_a, in_tenant, admin_a):
    signed = client_a.post(
        "/accounts/login/?next=/staff/", {"username": "admin@alpha.test", "password": PASSWORD}
    )

    assert signed["Location"] == f"{VERIFY}?next=%2Fstaff%2F"
    assert client_a.get("/staff/")["Location"] == f"{VERIFY}?next=%2Fstaff%2F"
    assert client_a.get("/")["Location"].startswith(VERIFY)
    assert client_a.get(SETUP)["Location"] == "/accounts/two-step/"
    assert client_a.get("/accounts/two-step/")["Location"].startswith(VERIFY)
    code = totp_code(device_of(tenant_a, in_tenant, "admin@alpha.test"))

    verified = client_a.post(signed["Location"], {"code": code})

    assert verified["Location"] == "/staff/"
    assert client_a.get("/staff/").status_code == 200


@pytest.mark.now("2026-11-20 10:00", tick=False)
def test_a_wrong_code_is_refused_and_the_next_try_waits(
    client_a, tenant_a, in_tenant, admin_a, clock
):
    password_only(english(client_a), "admin@alpha.test")
    device = device_of(tenant_a, in_tenant, "admin@alpha.test")
    right = totp_code(device)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"

    refused = client_a.post(VERIFY, {"code": wrong})
    too_soon = client_a.post(VERIFY, {"code": right})
    clock.shift(timedelta(seconds=2))
    accepted = client_a.post(VERIFY, {"code": right})

    assert refused.status_code == 200
    assert "That code is not right" in refused.content.decode()
    assert too_soon.status_code == 200
    assert "Too many wrong codes" in too_soon.content.decode()
    assert accepted.status_code == 302
    assert client_a.get("/").status_code == 200


def test_a_code_is_taken_once(client_a, tenant_a, in_tenant, admin_a):
    other = Client(HTTP_HOST=tenant_a.primary_host)
    password_only(client_a, "admin@alpha.test")
    password_only(other, "admin@alpha.test")
    device = device_of(tenant_a, in_tenant, "admin@alpha.test")
    code = totp_code(device)

    first = client_a.post(VERIFY, {"code": code})
    again = other.post(VERIFY, {"code": code})

    assert first.status_code == 302
    assert again.status_code == 200
    assert other.get("/")["Location"].startswith(VERIFY)


def test_a_recovery_code_signs_in_once(client_a, tenant_a, in_tenant, admin_a):
    with in_tenant(tenant_a):
        device = TOTPDevice.objects.get(user=admin_a)
        codes = two_step.recovery_codes_regenerate(user=admin_a, code=totp_code(device))
    password_only(client_a, "admin@alpha.test")

    used = client_a.post(VERIFY, {"code": codes[0].upper()[:4] + "-" + codes[0][4:]})
    client_a.post("/accounts/logout/")
    password_only(english(client_a), "admin@alpha.test")
    again = client_a.post(VERIFY, {"code": codes[0]})

    assert used["Location"] == "/"
    assert again.status_code == 200
    assert "That code is not right" in again.content.decode()
    with in_tenant(tenant_a):
        assert StaticToken.objects.filter(device__user=admin_a).count() == 9


def test_new_recovery_codes_replace_the_old_after_a_code(
    client_a, tenant_a, in_tenant, admin_a, clock
):
    with in_tenant(tenant_a):
        old = two_step.recovery_codes_regenerate(
            user=admin_a, code=totp_code(TOTPDevice.objects.get(user=admin_a))
        )
    login(client_a, "admin@alpha.test")

    refused = client_a.post("/accounts/two-step/recovery-codes/", {"code": "000000"})
    with in_tenant(tenant_a):
        assert sorted(
            StaticToken.objects.filter(device__user=admin_a).values_list("token", flat=True)
        ) == sorted(old)
    # Past the wait a wrong code earns, and into a new 30 s step: this step's code and the
    # next one's were taken above (the old codes, the sign-in).
    clock.shift(timedelta(seconds=60))
    made = client_a.post(
        "/accounts/two-step/recovery-codes/",
        {"code": totp_code(device_of(tenant_a, in_tenant, "admin@alpha.test"))},
    )

    assert refused["Location"] == "/accounts/two-step/"
    new = made.context["codes"]
    assert len(new) == 10 and not set(new) & set(old)
    with in_tenant(tenant_a):
        stored = StaticToken.objects.filter(device__user=admin_a).values_list("token", flat=True)
        assert sorted(stored) == sorted(new)
        renewed = AuditEntry.objects.filter(action="two_step_codes_renewed", actor=admin_a)
        assert renewed.count() == 2  # the first set above, then the page's


# --- Turning it off ---------------------------------------------------------------------------


def test_an_agent_turns_it_off_with_a_code_an_admin_cannot(
    client_a, tenant_a, in_tenant, admin_a, clock
):
    with in_tenant(tenant_a):
        StaffFactory(email="careful@alpha.test", role="agent", two_step=True)
    agent = english(Client(HTTP_HOST=tenant_a.primary_host))
    login(agent, "careful@alpha.test")
    login(english(client_a), "admin@alpha.test")
    assert "Turn off two-step sign-in" in agent.get("/accounts/two-step/").content.decode()
    assert "Turn off two-step sign-in" not in client_a.get("/accounts/two-step/").content.decode()

    wrong = agent.post("/accounts/two-step/off/", {"code": "000000"})
    with in_tenant(tenant_a):
        assert TOTPDevice.objects.filter(user__username="careful@alpha.test").exists()
    clock.shift(timedelta(seconds=2))  # a wrong code makes the next one wait a second
    off = agent.post(
        "/accounts/two-step/off/",
        {"code": totp_code(device_of(tenant_a, in_tenant, "careful@alpha.test"))},
    )
    refused = client_a.post(
        "/accounts/two-step/off/",
        {"code": totp_code(device_of(tenant_a, in_tenant, "admin@alpha.test"))},
    )

    assert wrong["Location"] == off["Location"] == refused["Location"] == "/accounts/two-step/"
    with in_tenant(tenant_a):
        assert not TOTPDevice.objects.filter(user__username="careful@alpha.test").exists()
        assert TOTPDevice.objects.filter(user=admin_a, confirmed=True).exists()
        [turned_off] = AuditEntry.objects.filter(action="two_step_turned_off")
        assert turned_off.actor.username == "careful@alpha.test"
    assert agent.get("/").status_code == 200
    assert "cannot be turned off" in client_a.get("/accounts/two-step/").content.decode()


# --- Tenant isolation, the console, what is not affected --------------------------------------


def test_a_device_and_recovery_codes_of_a_mean_nothing_on_b(
    client_b, tenant_a, tenant_b, in_tenant
):
    with in_tenant(tenant_a):
        on_a = StaffFactory(email="same@clinic.test", role="admin")
        codes_a = two_step.recovery_codes_regenerate(
            user=on_a, code=totp_code(TOTPDevice.objects.get(user=on_a))
        )
        device_a = TOTPDevice.objects.get(user=on_a)
    with in_tenant(tenant_b):
        StaffFactory(email="same@clinic.test", role="admin")
    password_only(client_b, "same@clinic.test")

    with_app_code = client_b.post(VERIFY, {"code": totp_code(device_a)})
    with_recovery_code = client_b.post(VERIFY, {"code": codes_a[0]})

    assert with_app_code.status_code == with_recovery_code.status_code == 200
    assert client_b.get("/")["Location"].startswith(VERIFY)
    with in_tenant(tenant_a):
        assert StaticToken.objects.filter(device__user=on_a).count() == 10


def test_a_device_on_a_does_not_stop_a_staff_member_without_one_on_b(
    client_b, tenant_a, tenant_b, in_tenant
):
    with in_tenant(tenant_a):
        StaffFactory(email="same@clinic.test", role="agent", two_step=True)
    with in_tenant(tenant_b):
        StaffFactory(email="same@clinic.test", role="agent")

    response = login(client_b, "same@clinic.test")

    assert response["Location"] == "/"
    assert client_b.get("/").status_code == 200


def test_the_vendor_console_requires_two_step_sign_in(public_client):
    VendorStaffFactory(email="new-ops@carebridge.test", two_step=False)
    VendorStaffFactory(email="ops@carebridge.test")
    newcomer = Client(HTTP_HOST="localhost")

    password_only(newcomer, "new-ops@carebridge.test")
    signed = login(public_client, "ops@carebridge.test")

    assert newcomer.get("/console/")["Location"] == f"{SETUP}?next=%2Fconsole%2F"
    assert newcomer.get("/console/billing/")["Location"].startswith(SETUP)
    assert newcomer.get(SETUP).status_code == 200
    assert signed["Location"] == "/"
    assert public_client.get("/console/").status_code == 200


def test_a_half_signed_in_session_still_reaches_what_needs_no_sign_in(
    client_a, tenant_a, in_tenant, admin_a
):
    Tenant.objects.filter(pk=tenant_a.pk).update(require_two_step=True)
    _api_key, key = make_key(tenant_a, in_tenant)
    password_only(client_a, "admin@alpha.test")

    health = client_a.get("/health/")
    survey_link = client_a.get("/s/not-a-real-token/")
    api = ApiClient(tenant_a, key).get("/encounters")

    assert not health.get("Location", "").startswith(VERIFY)
    assert survey_link.status_code == 404
    assert api.status_code == 200
    assert client_a.get("/healthz").status_code == 200

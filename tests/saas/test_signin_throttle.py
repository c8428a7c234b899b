"""Per-account sign-in throttling that an attacker cannot turn against the real user, and
password-reset mails limited per account and address (issue 18, item 9)."""

import logging
from datetime import timedelta

import pytest
from django.conf import settings
from django.core import mail
from django.core.cache import cache
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from saas import signin_throttle
from tests.conftest import login
from tests.factories import PASSWORD, StaffFactory, totp_code

SPRAY = [f"203.0.113.{n}" for n in range(1, 40)]


def browser(tenant, address: str, language: str = "en") -> Client:
    client = Client(HTTP_HOST=tenant.primary_host, REMOTE_ADDR=address)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    return client


def attempt(tenant, address: str, password: str, email: str = "agent@alpha.test", **kwargs):
    return browser(tenant, address, **kwargs).post(
        "/accounts/login/", {"username": email, "password": password}
    )


def sprayed(tenant, failures: int, email: str = "agent@alpha.test", clock=None) -> None:
    """Wrong passwords from as many addresses: axes locks none of them (one failure each).
    With ``clock``, each waits out the account's throttle first, so every one is a failure."""
    for address in SPRAY[:failures]:
        if clock is not None:
            clock.shift(timedelta(minutes=16))
        assert attempt(tenant, address, "wrong password", email).status_code == 200


@pytest.mark.now("2026-11-20 10:00", tick=False)
def test_a_spray_from_many_addresses_slows_the_account_but_not_the_users_own_browser(
    tenant_a, agent_a, clock
):
    own = browser(tenant_a, "198.51.100.7")
    assert login(own, "agent@alpha.test").status_code == 302
    own.post("/accounts/logout/")
    sprayed(tenant_a, 5)

    held = attempt(tenant_a, SPRAY[10], PASSWORD)
    at_home = login(own, "agent@alpha.test")

    assert held.status_code == 200
    assert "Too many attempts for this account; try again in 2 seconds." in held.content.decode()
    assert "_auth_user_id" not in held.wsgi_request.session
    assert at_home.status_code == 302
    assert own.get("/").status_code == 200


@pytest.mark.now("2026-11-20 10:00", tick=False)
def test_each_further_failure_doubles_the_wait_of_unknown_browsers(tenant_a, agent_a, clock):
    sprayed(tenant_a, 5)
    clock.shift(timedelta(seconds=2))

    tried = attempt(tenant_a, SPRAY[20], "wrong again")
    next_one = attempt(tenant_a, SPRAY[21], PASSWORD)
    clock.shift(timedelta(seconds=4))
    after_the_wait = attempt(tenant_a, SPRAY[22], PASSWORD)

    assert tried.context["form"].errors.as_data()["__all__"][0].code == "invalid_login"
    assert "try again in 4 seconds" in next_one.content.decode()
    assert after_the_wait.status_code == 302


@pytest.mark.now("2026-11-20 10:00", tick=False)
def test_the_wait_grows_to_fifteen_minutes_at_most_and_says_so_in_chinese(tenant_a, agent_a, clock):
    sprayed(tenant_a, 20, clock=clock)

    held = attempt(tenant_a, SPRAY[30], PASSWORD, language="zh-hans")

    assert held.status_code == 200
    assert "该账户尝试次数过多，请 15 分钟后再试。" in held.content.decode()


@pytest.mark.now("2026-11-20 10:00", tick=False)
def test_a_burst_past_the_free_failures_lets_one_attempt_through(db, clock):
    for _ in range(6):
        signin_throttle.failure_record("someone@alpha.test", known=False)
    clock.shift(timedelta(seconds=5))

    waits = [signin_throttle.attempt_wait("someone@alpha.test", known=False) for _ in range(3)]

    assert waits == [0, 4, 4]
    assert signin_throttle.attempt_wait("someone@alpha.test", known=True) == 0


@pytest.mark.now("2026-11-20 10:00", tick=False)
def test_wrong_second_step_codes_count_toward_the_account(tenant_a, in_tenant, admin_a, clock):
    with in_tenant(tenant_a):
        device = TOTPDevice.objects.get(user=admin_a)
    wrong = f"{(int(totp_code(device)) + 1) % 1_000_000:06d}"
    for address in SPRAY[:5]:
        clock.shift(timedelta(seconds=20))  # past the device's own wait after a wrong code
        thief = browser(tenant_a, address)
        thief.post("/accounts/login/", {"username": "admin@alpha.test", "password": PASSWORD})
        assert thief.post("/accounts/two-step/verify/", {"code": wrong}).status_code == 200

    held = attempt(tenant_a, SPRAY[6], PASSWORD, email="admin@alpha.test")

    assert "Too many attempts for this account" in held.content.decode()


def test_a_spray_on_a_does_not_slow_the_same_address_on_b(tenant_a, tenant_b, in_tenant, clock):
    with in_tenant(tenant_a):
        StaffFactory(email="same@clinic.test", role="agent")
    with in_tenant(tenant_b):
        StaffFactory(email="same@clinic.test", role="agent")
    sprayed(tenant_a, 8, email="same@clinic.test")

    on_a = attempt(tenant_a, SPRAY[30], PASSWORD, email="same@clinic.test")
    on_b = attempt(tenant_b, SPRAY[30], PASSWORD, email="same@clinic.test")

    assert "Too many attempts" in on_a.content.decode()
    assert on_b.status_code == 302


def test_a_known_browser_cookie_of_a_vouches_for_nothing_on_b(tenant_a, tenant_b, in_tenant, clock):
    with in_tenant(tenant_a):
        StaffFactory(email="same@clinic.test", role="agent")
    with in_tenant(tenant_b):
        StaffFactory(email="same@clinic.test", role="agent")
    own_a = browser(tenant_a, "198.51.100.7")
    login(own_a, "same@clinic.test")
    sprayed(tenant_b, 5, email="same@clinic.test")
    copied = browser(tenant_b, "198.51.100.7")
    copied.cookies[signin_throttle.KNOWN_DEVICE_COOKIE] = own_a.cookies[
        signin_throttle.KNOWN_DEVICE_COOKIE
    ].value

    held = copied.post("/accounts/login/", {"username": "same@clinic.test", "password": PASSWORD})

    assert "Too many attempts" in held.content.decode()


def test_no_email_address_in_logs_or_cache_keys(tenant_a, agent_a, caplog):
    caplog.set_level(logging.DEBUG)

    sprayed(tenant_a, 7)
    attempt(tenant_a, SPRAY[30], PASSWORD)

    assert "agent@alpha.test" not in caplog.text
    assert not any("agent@alpha.test" in str(key) for key in cache._cache)


# --- Password-reset mails ---------------------------------------------------------------------


def test_eleven_reset_requests_in_one_second_send_three_mails(tenant_a, agent_a):
    mail.outbox = []
    client = browser(tenant_a, "198.51.100.9")

    answers = [
        client.post("/accounts/password_reset/", {"email": "agent@alpha.test"}) for _ in range(11)
    ]

    assert [answer["Location"] for answer in answers] == ["/accounts/password_reset/done/"] * 11
    assert len(mail.outbox) == 3
    assert {tuple(message.to) for message in mail.outbox} == {("agent@alpha.test",)}


def test_the_reset_page_answers_alike_for_an_unknown_address(tenant_a, agent_a):
    mail.outbox = []
    client = browser(tenant_a, "198.51.100.9")

    known = client.post("/accounts/password_reset/", {"email": "agent@alpha.test"})
    unknown = client.post("/accounts/password_reset/", {"email": "nobody@alpha.test"})

    assert known.status_code == unknown.status_code == 302
    assert known["Location"] == unknown["Location"]
    assert len(mail.outbox) == 1


def test_one_address_asks_for_ten_resets_an_hour_whatever_the_accounts(tenant_a, in_tenant, clock):
    with in_tenant(tenant_a):
        emails = [StaffFactory(role="agent").email for _ in range(12)]
    mail.outbox = []
    client = browser(tenant_a, "198.51.100.9")

    for email in emails:
        client.post("/accounts/password_reset/", {"email": email})
    from_elsewhere = browser(tenant_a, "198.51.100.10")
    from_elsewhere.post("/accounts/password_reset/", {"email": emails[-1]})
    clock.shift(timedelta(hours=1, seconds=1))
    client.post("/accounts/password_reset/", {"email": emails[-1]})

    assert len(mail.outbox) == 10 + 1 + 1


def test_a_bad_reset_request_gets_a_clear_error(tenant_a):
    response = browser(tenant_a, "198.51.100.9").post(
        "/accounts/password_reset/", {"email": "not an address"}
    )

    assert response.status_code == 200
    assert "Enter a valid email address." in response.content.decode()

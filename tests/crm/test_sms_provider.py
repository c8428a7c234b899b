"""The clinic's own SMS provider account: the Settings page (secrets never shown again), "send
a test", the per-clinic gateway the outbox uses, and the callback addresses of template
providers (whose secret belongs to one clinic)."""

import pytest
from django.urls import reverse

from crm.models import AuditEntry, SmsAccount
from crm.services import sms_accounts
from tests.fake_sms import FakeSms


@pytest.fixture
def clinic_twilio(settings):
    """A Twilio-compatible API on 127.0.0.1 for one clinic's own account; the platform's
    provider stays unset."""
    fake = FakeSms(account_sid="ACclinic", auth_token="clinic-token")
    settings.SMS_API_BASE = ""
    settings.SMS_ENDPOINTS = {**settings.SMS_ENDPOINTS, "twilio": fake.base}
    yield fake
    fake.close()


def _save_twilio(client, **overrides):
    data = {
        "provider": "twilio",
        "key_id": "ACclinic",
        "key_secret": "clinic-token",
        "app_id": "+8610690001",
        "sign_name": "",
        "region": "",
    } | overrides
    return client.post(reverse("sms_provider"), data)


def test_an_administrator_sets_the_clinics_own_provider_and_the_secret_is_never_shown(
    admin_client_a, tenant_a, in_tenant, clinic_twilio
):
    response = _save_twilio(admin_client_a)
    assert response.status_code == 302

    page = admin_client_a.get(reverse("sms_provider")).content.decode()
    assert "ACclinic" in page
    assert "clinic-token" not in page
    with in_tenant(tenant_a):
        account = SmsAccount.objects.get()
        assert (account.provider, account.key_secret) == ("twilio", "clinic-token")
        entry = AuditEntry.objects.get(action=AuditEntry.Action.SMS_PROVIDER_CHANGED)
        assert "key_secret" in entry.detail["fields"]
        assert "clinic-token" not in str(entry.detail)

    # Saving again with the secret left empty keeps it.
    assert _save_twilio(admin_client_a, key_secret="", app_id="+8610690002").status_code == 302
    with in_tenant(tenant_a):
        account = SmsAccount.objects.get()
        assert (account.key_secret, account.app_id) == ("clinic-token", "+8610690002")


def test_a_new_account_without_its_secret_is_refused_and_nothing_is_saved(
    admin_client_a, tenant_a, in_tenant
):
    response = _save_twilio(admin_client_a, key_secret="")
    assert response.status_code == 400
    assert "请输入密钥。" in response.content.decode()  # "Enter the secret.", zh-Hans
    with in_tenant(tenant_a):
        assert not SmsAccount.objects.exists()


def test_agents_cannot_open_the_sms_provider_page(agent_client_a):
    assert agent_client_a.get(reverse("sms_provider")).status_code == 403
    assert (
        agent_client_a.post(reverse("sms_provider_test"), {"to": "13800138000"}).status_code == 403
    )


def test_send_a_test_goes_through_the_clinics_account_and_says_what_happened(
    admin_client_a, tenant_a, in_tenant, clinic_twilio
):
    _save_twilio(admin_client_a)
    response = admin_client_a.post(
        reverse("sms_provider_test"), {"to": "138 0013 8000"}, follow=True
    )
    assert len(clinic_twilio.sent) == 1
    assert clinic_twilio.sent[0]["To"] == "+8613800138000"
    assert clinic_twilio.sent[0]["From"] == "+8610690001"
    assert clinic_twilio.sent[0]["sid"] in response.content.decode()
    with in_tenant(tenant_a):
        assert SmsAccount.objects.get().tested_at is not None
        assert AuditEntry.objects.filter(action=AuditEntry.Action.SMS_TEST_SENT).count() == 1


def test_wrong_credentials_are_a_clear_message_at_send_a_test(
    admin_client_a, tenant_a, in_tenant, clinic_twilio
):
    _save_twilio(admin_client_a, key_secret="not-the-token")
    page = admin_client_a.post(
        reverse("sms_provider_test"), {"to": "13800138000"}, follow=True
    ).content.decode()
    assert "HTTP 401" in page
    assert clinic_twilio.sent == []
    with in_tenant(tenant_a):
        assert "HTTP 401" in SmsAccount.objects.get().test_result


def test_a_malformed_test_number_is_refused_before_anything_is_sent(admin_client_a, clinic_twilio):
    _save_twilio(admin_client_a)
    page = admin_client_a.post(
        reverse("sms_provider_test"), {"to": "12ab"}, follow=True
    ).content.decode()
    assert clinic_twilio.sent == []
    assert "“12ab”不是" in page  # the clinic works in zh-Hans


def test_each_clinic_sends_through_its_own_account(
    tenant_a, tenant_b, in_tenant, admin_client_a, clinic_twilio, settings
):
    _save_twilio(admin_client_a)
    with in_tenant(tenant_a):
        assert sms_accounts.sms_gateway().name == "twilio"
    with in_tenant(tenant_b):
        assert sms_accounts.sms_account() is None
        assert sms_accounts.sms_gateway().name == "local"  # no platform provider either


def test_a_callback_address_of_no_clinics_template_provider_is_refused(client_a, client_b):
    url = reverse("sms_provider_callback", args=["aliyun", "guessed-secret", "inbound"])
    assert client_a.post(url, b"[]", content_type="application/json").status_code == 403
    assert client_b.post(url, b"[]", content_type="application/json").status_code == 403

"""A clinic administrator edits the clinic's own settings on its own host."""

import pytest
from django.contrib.auth.models import Group, Permission

from tenants.models import Tenant
from tenants.release import release_run
from tests.conftest import login

VALID = {
    "name": "Alpha 第一人民医院",
    "locale": "en",
    "timezone": "Asia/Urumqi",
    "calling_hours": "08:30-11:30, 14:00 – 17:00",
    "phone_region": "cn",
    "spot_check_percent": "20",
    "message_hours": "09:00-20:00",
    "complaint_ack_days": "2",
    "complaint_reply_days": "5",
    "sms_per_number_day": "2",
    "sms_per_number_month": "8",
    "channel_order": "sms,wechat,email",
    "survey_interval_days": "60",
    "survey_reminder_days": "0",
}


@pytest.fixture
def as_admin_a(client_a, admin_a):
    login(client_a, "admin@alpha.test")
    return client_a


def test_admin_saves_the_clinic_settings(as_admin_a, tenant_a):
    response = as_admin_a.post("/settings/", VALID)

    assert response.status_code == 302
    tenant_a.refresh_from_db()
    assert (tenant_a.name, tenant_a.locale, tenant_a.timezone) == (
        "Alpha 第一人民医院",
        "en",
        "Asia/Urumqi",
    )
    assert tenant_a.calling_hours == [["08:30", "11:30"], ["14:00", "17:00"]]
    assert (tenant_a.phone_region, tenant_a.spot_check_percent) == ("CN", 20)
    assert (tenant_a.message_hours, tenant_a.complaint_reply_days) == ([["09:00", "20:00"]], 5)
    assert tenant_a.complaint_ack_days == 2
    assert (tenant_a.sms_per_number_day, tenant_a.sms_per_number_month) == (2, 8)
    assert tenant_a.channel_order == "sms,wechat,email"
    assert (tenant_a.survey_interval_days, tenant_a.survey_reminder_days) == (60, 0)
    assert "Alpha 第一人民医院" in as_admin_a.get("/").content.decode()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("calling_hours", "8-12"),
        ("calling_hours", "12:00-08:00"),
        ("calling_hours", "08:00"),
        ("timezone", "Mars/Olympus"),
        ("locale", "fr"),
        ("name", ""),
        ("phone_region", "XX"),
        ("spot_check_percent", "101"),
        ("sms_per_number_day", "0"),
        ("sms_per_number_day", "9"),  # more than the 30 days' 8
        ("sms_per_number_month", "101"),
        ("channel_order", "email,wechat"),
        ("survey_interval_days", "0"),
        ("survey_interval_days", "-90"),
        ("survey_interval_days", "731"),
        ("survey_reminder_days", "-1"),
        ("survey_reminder_days", "31"),
        ("complaint_ack_days", "0"),
        ("complaint_ack_days", "11"),
    ],
)
def test_bad_settings_show_an_error_and_change_nothing(as_admin_a, tenant_a, field, value):
    before = Tenant.objects.filter(pk=tenant_a.pk).values().get()

    response = as_admin_a.post("/settings/", {**VALID, field: value})

    assert response.status_code == 200
    assert response.context["form"].errors
    assert Tenant.objects.filter(pk=tenant_a.pk).values().get() == before


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("survey_interval_days", "0", "请至少填写 1 天"),
        ("survey_interval_days", "-5", "请至少填写 1 天"),
        ("survey_reminder_days", "-3", "填 0 表示不提醒；不能为负数"),
    ],
)
def test_survey_days_of_zero_or_less_are_refused_with_a_message(
    as_admin_a, tenant_a, field, value, message
):
    before = Tenant.objects.filter(pk=tenant_a.pk).values().get()

    response = as_admin_a.post("/settings/", {**VALID, "locale": "zh-hans", field: value})

    assert response.status_code == 200
    assert message in response.content.decode()  # the clinic's language, beside the field
    assert list(response.context["form"].errors) == [field]
    assert Tenant.objects.filter(pk=tenant_a.pk).values().get() == before


def test_the_survey_settings_have_their_defaults(tenant_a):
    assert (tenant_a.survey_interval_days, tenant_a.survey_reminder_days) == (90, 3)


def test_agent_cannot_open_or_change_the_settings(client_a, agent_a, tenant_a):
    login(client_a, "agent@alpha.test")

    assert client_a.get("/settings/").status_code == 403
    assert client_a.post("/settings/", VALID).status_code == 403
    tenant_a.refresh_from_db()
    assert tenant_a.name == "Alpha 人民医院"


def test_admin_of_b_changes_only_b(client_b, admin_b, tenant_a, tenant_b):
    login(client_b, "admin@beta.test")

    client_b.post("/settings/", {**VALID, "name": "Beta Dental Care"})

    tenant_a.refresh_from_db()
    tenant_b.refresh_from_db()
    assert (tenant_a.name, tenant_b.name) == ("Alpha 人民医院", "Beta Dental Care")


def test_suspended_clinic_cannot_change_its_settings(as_admin_a, tenant_a):
    Tenant.objects.filter(pk=tenant_a.pk).update(status=Tenant.Status.SUSPENDED)

    response = as_admin_a.post("/settings/", VALID)

    assert response.status_code == 403
    tenant_a.refresh_from_db()
    assert tenant_a.name == "Alpha 人民医院"


def test_a_release_restores_a_role_permission_of_a_clinic_given_older_grants(tenant_a, in_tenant):
    with in_tenant(tenant_a):
        Group.objects.get(name="admin").permissions.remove(
            Permission.objects.get(codename="change_tenant")
        )
    tenant_a.sync_fingerprint = "older"  # as after a release that changed ROLE_PERMISSIONS
    tenant_a.save()

    assert release_run(processes=1).synced == [tenant_a.schema_name]

    with in_tenant(tenant_a):
        assert Group.objects.get(name="admin").permissions.filter(codename="change_tenant").exists()

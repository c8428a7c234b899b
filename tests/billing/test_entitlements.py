"""Entitlements: seats, monthly encounter and SMS allowances, features and banners, all
answered by billing.entitlements and enforced where the work happens."""

from datetime import UTC, datetime

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError

from billing import entitlements
from billing.models import Plan, UsageMeter
from crm.models import Encounter, ImportJob
from crm.services.records import encounter_save
from tests.conftest import login
from tests.crm.test_imports import GOOD, csv_bytes, run_import
from tests.factories import ContactFactory, EncounterFactory, StaffFactory


def limit_plan(plan: Plan, **limits) -> None:
    Plan.objects.filter(pk=plan.pk).update(**limits)


def test_inviting_past_the_seat_limit_is_refused_with_a_clear_message(
    client_a, admin_a, tenant_a, in_tenant, account_a, plans
):
    with in_tenant(tenant_a):
        seats = get_user_model().objects.filter(is_active=True).count()
    limit_plan(plans["starter"], staff_seats=seats)
    login(client_a, "admin@alpha.test")

    response = client_a.post("/staff/invite/", {"email": "extra@alpha.test", "role": "agent"})

    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == [
        f"您的套餐 Starter 包含 {seats} 个员工席位，已全部使用。"
        "请停用一名员工，或在“计费”页面升级套餐。"
    ]
    with in_tenant(tenant_a):
        assert not get_user_model().objects.filter(email="extra@alpha.test").exists()


def test_inviting_within_the_seat_limit_works(client_a, admin_a, tenant_a, in_tenant, account_a,
                                              plans):  # fmt: skip
    with in_tenant(tenant_a):
        seats = get_user_model().objects.filter(is_active=True).count()
    limit_plan(plans["starter"], staff_seats=seats + 1)
    login(client_a, "admin@alpha.test")

    response = client_a.post("/staff/invite/", {"email": "extra@alpha.test", "role": "agent"})

    assert response.status_code == 302


def test_reactivating_past_the_seat_limit_is_refused(tenant_a, in_tenant, account_a, plans):
    from crm.services.staff import staff_reactivate

    with in_tenant(tenant_a):
        gone = StaffFactory(email="gone@alpha.test", is_active=False)
        seats = get_user_model().objects.filter(is_active=True).count()
        limit_plan(plans["starter"], staff_seats=seats)
        with pytest.raises(ValidationError) as refused:
            staff_reactivate(user=gone)
        gone.refresh_from_db()
    assert refused.value.code == "seat_limit"
    assert gone.is_active is False


def test_a_new_encounter_over_the_monthly_limit_is_refused_and_a_correction_is_not(
    tenant_a, in_tenant, account_a, plans
):
    limit_plan(plans["starter"], encounters_per_month=1)
    with in_tenant(tenant_a):
        first = encounter_save(EncounterFactory.build(contact=ContactFactory()))
        with pytest.raises(ValidationError) as refused:
            encounter_save(EncounterFactory.build(contact=ContactFactory()))
        first.diagnosis = "corrected"
        encounter_save(first)
        count = Encounter.objects.count()
    assert refused.value.code == "encounter_limit"
    assert count == 1
    assert entitlements.usage_used(tenant_a, "encounters") == 1


@pytest.mark.now("2026-11-24 09:00")  # the register is of 20 November 2026
def test_an_import_over_the_limit_commits_what_fits_and_rejects_the_rest_by_row(
    client_a, admin_a, tenant_a, in_tenant, account_a, plans, django_capture_on_commit_callbacks
):
    limit_plan(plans["starter"], encounters_per_month=2)
    login(client_a, "admin@alpha.test")

    pk = run_import(client_a, csv_bytes(GOOD), django_capture_on_commit_callbacks)

    with in_tenant(tenant_a):
        job = ImportJob.objects.get(pk=pk)
        assert (job.status, job.created_count, Encounter.objects.count()) == ("done", 2, 2)
        rejected = [(e["row"], e["message"][:15]) for e in job.errors]
        assert rejected == [(4, "本月新增就诊记录额度为 2 条")]
    assert entitlements.usage_used(tenant_a, "encounters") == 2

    # Next month (or after an upgrade) the same file brings in the missing row, once.
    limit_plan(plans["starter"], encounters_per_month=3)
    pk = run_import(client_a, csv_bytes(GOOD), django_capture_on_commit_callbacks)
    with in_tenant(tenant_a):
        job = ImportJob.objects.get(pk=pk)
        assert (job.created_count, job.unchanged_count, job.errors) == (1, 2, [])
    assert entitlements.usage_used(tenant_a, "encounters") == 3


def test_sms_allowance_counts_down_and_is_per_tenant(tenant_a, tenant_b, account_a, account_b,
                                                     plans):  # fmt: skip
    limit_plan(plans["starter"], sms_per_month=10)

    assert entitlements.sms_allowance(tenant_a) == 10
    assert entitlements.usage_record(tenant_a, "sms", 7) == 7
    assert entitlements.sms_allowance(tenant_a) == 3
    assert entitlements.usage_reserve(tenant_a, "sms", 5) == 3
    assert entitlements.sms_allowance(tenant_a) == 0
    assert entitlements.sms_allowance(tenant_b) == 10


def test_meters_are_per_calendar_month(tenant_a, account_a, plans):
    november = datetime(2026, 11, 30, 23, 0, tzinfo=UTC)
    december = datetime(2026, 12, 1, 0, 30, tzinfo=UTC)
    limit_plan(plans["starter"], sms_per_month=10)

    entitlements.usage_record(tenant_a, "sms", 10, now=november)

    assert entitlements.sms_allowance(tenant_a, now=november) == 0
    assert entitlements.sms_allowance(tenant_a, now=december) == 10
    assert UsageMeter.objects.filter(tenant=tenant_a).count() == 1


def test_unlimited_plans_grant_everything(tenant_a, account_a, plans):
    from billing.models import BillingAccount

    BillingAccount.objects.filter(pk=account_a.pk).update(plan=plans["enterprise"])

    assert entitlements.usage_reserve(tenant_a, "encounters", 10_000) == 10_000
    assert entitlements.usage_left(tenant_a, "encounters") is None
    entitlements.seats_check(tenant_a, active_seats=10_000)


def test_features_follow_the_plan(tenant_a, account_a, plans):
    assert entitlements.feature_allowed(tenant_a, "api_access") is False
    from billing.models import BillingAccount

    BillingAccount.objects.filter(pk=account_a.pk).update(plan=plans["professional"])
    assert entitlements.feature_allowed(tenant_a, "api_access") is True
    assert entitlements.feature_allowed(tenant_a, "custom_domain") is False
    with pytest.raises(ValueError):
        entitlements.feature_allowed(tenant_a, "teleportation")


def test_sms_limit_reached_shows_a_banner_on_every_page(client_a, admin_a, tenant_a, account_a,
                                                        plans):  # fmt: skip
    limit_plan(plans["starter"], sms_per_month=5)
    entitlements.usage_record(tenant_a, "sms", 5)
    login(client_a, "admin@alpha.test")

    page = client_a.get("/").content.decode()

    assert "本月 5 条短信额度已用完" in page


def test_past_due_tenant_keeps_working_with_a_banner(client_a, admin_a, tenant_a, account_a):
    from tenants.services import tenant_set_status

    tenant_set_status(tenant=tenant_a, status="past_due")
    login(client_a, "admin@alpha.test")

    page = client_a.get("/")
    assert "最近一次 CareBridge 付款失败" in page.content.decode()
    response = client_a.post("/staff/invite/", {"email": "new@alpha.test", "role": "agent"})
    assert response.status_code == 302


def test_banners_of_a_stay_on_a(client_b, admin_b, tenant_a, account_a, account_b, plans):
    limit_plan(plans["starter"], sms_per_month=5)
    Plan.objects.filter(pk=plans["professional"].pk)
    from billing.models import BillingAccount

    BillingAccount.objects.filter(pk=account_b.pk).update(plan=plans["professional"])
    entitlements.usage_record(tenant_a, "sms", 5)
    login(client_b, "admin@beta.test")

    page = client_b.get("/").content.decode()

    assert "SMS are used up" not in page
    assert "短信额度已用完" not in page


def test_the_encounter_form_over_the_limit_says_why_and_keeps_the_input(
    client_a, agent_a, tenant_a, in_tenant, account_a, plans
):
    limit_plan(plans["starter"], encounters_per_month=0)
    with in_tenant(tenant_a):
        contact = ContactFactory()
    login(client_a, "agent@alpha.test")

    response = client_a.post(
        f"/contacts/{contact.pk}/encounters/new/",
        {"kind": "discharge", "occurred_at": "2026-11-20T09:30", "diagnosis": "股骨颈骨折"},
    )

    assert response.status_code == 200
    assert (
        response.context["form"]
        .non_field_errors()[0]
        .startswith("本月新增就诊记录额度为 0 条（Starter 套餐），已经用完。")
    )
    assert response.context["form"]["diagnosis"].value() == "股骨颈骨折"
    assert "暂停录入新就诊记录" in response.content.decode()  # the banner
    with in_tenant(tenant_a):
        assert not Encounter.objects.filter(contact=contact).exists()


def test_the_trial_banner_is_for_those_who_can_subscribe(client_a, admin_a, agent_a, account_a):
    from datetime import timedelta

    from django.utils import timezone

    from billing.models import BillingAccount

    BillingAccount.objects.filter(pk=account_a.pk).update(
        trial_ends_at=timezone.now() + timedelta(days=5)
    )
    login(client_a, "admin@alpha.test")
    assert "试用至" in client_a.get("/").content.decode()

    client_a.logout()
    login(client_a, "agent@alpha.test")
    assert "试用至" not in client_a.get("/").content.decode()


def test_tier_3_spot_checks_need_a_plan_with_the_audit(tenant_a, in_tenant, account_a, plans):
    from crm.models import FollowUpRule, FollowUpTask
    from tests.crm.test_attempts import log, new_task

    assert plans["starter"].audit_tier3 is False
    with in_tenant(tenant_a):
        FollowUpRule.objects.update(active=False)
        tenant_a.spot_check_percent = 100
        agent = StaffFactory(role="agent")
        task = new_task()
        log(task, agent, "reached")
        drawn_on_starter = FollowUpTask.objects.filter(spot_check_of=task).exists()

        from billing.models import BillingAccount

        BillingAccount.objects.filter(pk=account_a.pk).update(plan=plans["professional"])
        other = new_task()
        log(other, agent, "reached")
        drawn_on_professional = FollowUpTask.objects.filter(spot_check_of=other).exists()

    assert (drawn_on_starter, drawn_on_professional) == (False, True)

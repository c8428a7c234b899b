"""The demo tenants (tenants/management/commands/demo_setup.py): the car dealer
`demo-service` (issue 19 §2) made once, with a past of sales and services, calls, surveys and
lapsed customers for its reports and worklists, and the hospital's discharges named to the
responsible nurse and attending doctor the preset routes them to."""

import io
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db.models import Exists
from django_tenants.utils import tenant_context

import crm.tasks  # noqa: F401  (registers the tasks services enqueue by name)
from crm.models import CallAttempt, Encounter, FollowUpRule, FollowUpTask
from crm.reporting.figures.followup import NO_CONTACT, follow_up_figures
from crm.reporting.figures.satisfaction import satisfaction_figures
from crm.reporting.period import Period
from crm.services.followup import followup_tick
from crm.services.planning import later_encounters
from saas import clock
from surveys.models import SurveyResponse
from tenants.models import Tenant

pytestmark = pytest.mark.now("2026-11-24 09:00")


def demo_setup(*slugs) -> str:
    out = io.StringIO()
    call_command("demo_setup", *slugs, stdout=out)
    return out.getvalue()


def counts() -> tuple:
    return (
        Encounter.objects.count(),
        FollowUpTask.objects.count(),
        CallAttempt.objects.count(),
        get_user_model().objects.count(),
        FollowUpRule.objects.count(),
    )


def test_the_car_dealer_demo_is_made_once_with_sales_services_and_lapsed_customers(db):
    printed = demo_setup("demo-service")
    dealer = Tenant.objects.get(schema_name="demo-service")
    assert (dealer.name, dealer.kind, dealer.locale) == ("示范汽车销售服务店", "service", "zh-hans")
    assert "agent: agent@demo-service.example / carebridge-demo" in printed
    assert "nurse@demo-service" not in printed  # a dealer has no responsible nurse
    # Only the tenant asked for.
    assert not Tenant.objects.filter(schema_name="demo-hospital").exists()

    with tenant_context(dealer):
        encounters = Encounter.objects.all()
        assert set(encounters.values_list("kind", flat=True)) == {"sale", "maintenance"}
        assert not encounters.exclude(discharge_outcome="").exists()
        assert all(e.notes.startswith("车型：") and not e.diagnosis for e in encounters)
        # Sales belong to the sales department, services to after-sales.
        assert set(encounters.values_list("kind", "department__code").distinct()) == {
            ("sale", "sales"),
            ("maintenance", "after-sales"),
        }
        # The calls the preset routes to the customer service centre and to after-sales.
        assert set(FollowUpTask.objects.values_list("department__code", flat=True)) >= {
            "customer-service",
            "after-sales",
        }
        lapsed = FollowUpTask.objects.filter(rule__trigger="lapsed")
        assert lapsed.exists() and lapsed.filter(attempts_count__gt=0).exists()
        # Nobody who came back is called as lapsed; some did come back.
        assert not lapsed.filter(Exists(later_encounters("encounter__"))).exists()
        lapse_rule = FollowUpRule.objects.get(trigger="lapsed")
        old = encounters.filter(
            occurred_at__lt=clock.now() - timedelta(days=lapse_rule.lapse_days - 10)
        )
        assert old.filter(Exists(later_encounters())).exists()

        today = clock.today()
        period = Period(today - timedelta(days=90), today)
        figures = follow_up_figures(period)
        assert figures.eligible > 0 and 50 < figures.follow_up_rate < 100
        assert figures.unreachable[NO_CONTACT] > 0  # customers without a phone on file
        assert satisfaction_figures(period).satisfaction_rate is not None
        assert SurveyResponse.objects.exists()
        before = counts()
        planned_before = lapsed.count()

    again = demo_setup("demo-service")
    assert "demo-service" in again
    with tenant_context(dealer):
        assert counts() == before  # idempotent: no second past, no second logins or rules
        # As the days go on, the tick plans the calls of the customers who lapse meanwhile.
        result = followup_tick(now=clock.now() + timedelta(days=11))
        assert result.lapsed_planned > 0
        assert FollowUpTask.objects.filter(rule__trigger="lapsed").count() > planned_before


def test_the_demo_hospitals_discharges_go_to_its_nurse_and_doctor(db):
    demo_setup("demo-hospital")
    hospital = Tenant.objects.get(schema_name="demo-hospital")
    with tenant_context(hospital):
        nurse = get_user_model().objects.get(username="nurse@demo-hospital.example")
        doctor = get_user_model().objects.get(username="clinician@demo-hospital.example")
        assert list(nurse.groups.values_list("name", flat=True)) == ["clinician"]
        discharges = Encounter.objects.filter(kind="discharge")
        assert not discharges.exclude(responsible_nurse=nurse).exists()
        tasks = FollowUpTask.objects.filter(escalated_at__isnull=True)
        assert tasks.filter(rule__name="出院回访（治愈）", assignee=nurse).exists()
        assert tasks.filter(rule__name="出院回访（好转/转院）", assignee=doctor).exists()
        assert tasks.filter(rule__name="出院回访", assignee=None, tier=2).exists()
        # The nurse made her calls herself.
        assert CallAttempt.objects.filter(agent=nurse).exists()


def test_an_unknown_demo_tenant_is_refused_and_nothing_is_made(db):
    with pytest.raises(CommandError, match="demo-garage"):
        demo_setup("demo-service", "demo-garage")
    assert not Tenant.objects.filter(schema_name="demo-service").exists()

"""The demo clinic's recent past (crm.services.demo): made through the real services, so the
reports of a fresh `./dev run` show believable, exact figures."""

from datetime import timedelta

from django.utils import timezone

from crm.models import CallAttempt, Complaint, Encounter
from crm.reporting import summary as kpi_summary
from crm.reporting.figures.followup import NO_CONTACT, follow_up_figures
from crm.reporting.figures.satisfaction import satisfaction_figures
from crm.reporting.period import Period
from crm.services.demo import demo_history_seed
from surveys.models import SurveyResponse
from tests.factories import StaffFactory


def test_a_demo_clinic_gets_calls_surveys_and_complaints_behind_its_reports(
    tenant_a, tenant_b, in_tenant
):
    with in_tenant(tenant_a):
        StaffFactory(email="demo-agent@alpha.test", role="agent")
        StaffFactory(email="demo-sup@alpha.test", role="supervisor")
        made = demo_history_seed(days=30, per_day=4)
        today = timezone.localdate()
        period = Period(today - timedelta(days=30), today)
        figures = follow_up_figures(period)
        satisfaction = satisfaction_figures(period)
        attempts = CallAttempt.objects.count()
        responses = SurveyResponse.objects.count()
        complaints = Complaint.objects.count()
        summary = kpi_summary.verify()
        again = demo_history_seed(days=30, per_day=4)
        encounters = Encounter.objects.count()

    assert made == encounters > 60
    assert figures.eligible > 0 and 50 < figures.follow_up_rate < 100
    assert figures.unreachable  # some were not reached, and why is known
    # Every 40th patient has no number: eligible, not followed up, with that reason.
    assert figures.unreachable[NO_CONTACT] == made // 40
    assert attempts > figures.eligible and responses > 0 and complaints > 0
    assert satisfaction.satisfaction_rate is not None
    assert summary["missing"] == summary["extra"] == 0
    assert again == 0  # a clinic that has encounters gets no made-up past
    with in_tenant(tenant_b):
        assert not Encounter.objects.exists()

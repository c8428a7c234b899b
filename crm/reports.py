"""The follow-up report of a period, assembled from the KPIs of crm.kpi (DESIGN.md §7) with
the targets they are held to. The report page, the dashboard and the exports all show this
one assembly, so a figure reads the same wherever it is downloaded."""

from dataclasses import dataclass
from datetime import date, timedelta

from django.utils.translation import gettext as _

from . import kpi
from .models import Department, KpiTarget, OutcomeCategory


def month_period(first: date) -> kpi.Period:
    """The calendar month starting at `first`."""
    following = (first + timedelta(days=32)).replace(day=1)
    return kpi.Period(first, following - timedelta(days=1))


def targets_check(values: dict, *, department=None) -> dict:
    """Each target (the department's where it has one, else the clinic's) with whether the
    figure missed it; a figure that is None (nothing counted) has not missed."""
    targets = {target.metric: target.target for target in KpiTarget.objects.filter(department=None)}
    if department is not None:
        targets |= {
            target.metric: target.target
            for target in KpiTarget.objects.filter(department=department)
        }
    return {
        metric: {
            "target": target,
            "missed": values.get(metric) is not None and values[metric] < target,
        }
        for metric, target in targets.items()
    }


@dataclass
class Report:
    period: kpi.Period
    figures: kpi.FollowUpFigures
    unreachable: list  # (label, encounters), most first
    satisfaction: kpi.SatisfactionFigures
    complaints: kpi.ComplaintFigures
    spot_checks: dict
    departments: list  # {"pk", "name", "figures"}, lowest follow-up rate first
    targets: dict

    def headline(self) -> dict:
        """The figures that have targets, by KpiTarget metric."""
        return {
            KpiTarget.Metric.FOLLOW_UP_RATE: self.figures.follow_up_rate,
            KpiTarget.Metric.TIMELINESS: self.figures.timeliness,
            KpiTarget.Metric.SATISFACTION_RATE: self.satisfaction.satisfaction_rate,
            KpiTarget.Metric.NPS: self.satisfaction.nps,
            KpiTarget.Metric.COMPLAINTS_ON_TIME: self.complaints.on_time_rate,
            KpiTarget.Metric.SPOT_CHECK_AGREEMENT: self.spot_checks["rate"],
        }


def report_build(period: kpi.Period) -> Report:
    names = dict(Department.objects.values_list("pk", "name"))
    departments = sorted(
        (
            {"pk": pk, "name": names.get(pk, "—"), "figures": figures}
            for pk, figures in kpi.follow_up_by_department(period).items()
        ),
        # Lowest follow-up rate first: where to look.
        key=lambda row: (row["figures"].follow_up_rate is None, row["figures"].follow_up_rate),
    )
    categories = dict(OutcomeCategory.choices) | {kpi.NEVER_ATTEMPTED: _("Never attempted")}
    figures = kpi.follow_up_figures(period)
    report = Report(
        period=period,
        figures=figures,
        unreachable=sorted(
            ((categories.get(key), count) for key, count in figures.unreachable.items()),
            key=lambda item: -item[1],
        ),
        satisfaction=kpi.satisfaction_figures(period),
        complaints=kpi.complaint_figures(period),
        spot_checks=kpi.spot_check_figures(period),
        departments=departments,
        targets={},
    )
    report.targets = targets_check(report.headline())
    return report

"""The KPI dashboard (issue 5): the month's report (crm.reporting.report, the one assembly of
a period's figures) for the headline, twelve months of trends and the departments side by side
for the charts. A bounded number of grouped reads, however many months or departments."""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.urls import reverse
from django.utils.translation import gettext as _

from ..models import Complaint, Department, KpiTarget
from .drills import overdue_complaints_count
from .figures.feedback import ComplaintFigures, complaint_by
from .figures.followup import FollowUpFigures, follow_up_by
from .figures.satisfaction import SatisfactionFigures, satisfaction_by
from .period import Period, month_period
from .report import Report, report_build
from .targets import targets_all, targets_check

TREND_MONTHS = 12
Metric = KpiTarget.Metric
# The targets the trend charts draw as a line.
CHARTED_TARGETS = (Metric.FOLLOW_UP_RATE, Metric.SATISFACTION_RATE, Metric.COMPLAINTS_ON_TIME)


def months_back(first: date, count: int) -> list[date]:
    """The first days of the `count` months ending with the month of `first`, oldest first."""
    months = [first]
    while len(months) < count:
        months.insert(0, (months[0] - timedelta(days=1)).replace(day=1))
    return months


def _number(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _labelled(counts: dict, labels: dict) -> list:
    return sorted(
        ((key, labels.get(key, key), count) for key, count in counts.items()),
        key=lambda item: -item[2],
    )


@dataclass
class Dashboard:
    report: Report
    months: list  # first days, oldest first
    departments: list  # {"pk", "name", "figures", "satisfaction", "complaints", "targets"}
    least_reached: dict | None  # the department with the lowest follow-up rate
    overdue_complaints: int
    not_followed_up: int
    unreachable: list  # (category, label, encounters), most first
    complaint_categories: list  # (category, label, complaints), most first
    charts: dict  # what the browser draws (json_script)


def dashboard_build(first: date) -> Dashboard:
    period = month_period(first)
    report = report_build(period)
    months = months_back(first, TREND_MONTHS)
    span = Period(months[0], period.end)
    follow_up = follow_up_by(span, "month")
    satisfaction = satisfaction_by(span, "month", dimensions=False)
    complaints = complaint_by(span, "month")

    targets = targets_all()
    department_complaints = {
        pk: figures.received for pk, figures in complaint_by(period, "department").items()
    }
    # The report's departments carry their satisfaction and targets already; departments with
    # responses but no eligible encounter this month are compared too.
    rows = [dict(row) for row in report.departments]
    listed = {row["pk"] for row in rows}
    unlisted = [
        pk for pk in report.satisfaction_by_department if pk is not None and pk not in listed
    ]
    names = dict(Department.objects.filter(pk__in=unlisted).values_list("pk", "name"))
    for pk in unlisted:
        responses = report.satisfaction_by_department[pk]
        rated = {Metric.SATISFACTION_RATE: responses.satisfaction_rate}
        held = targets_check(rated, department=pk, targets=targets)
        rows.append(
            {
                "pk": pk,
                "name": names.get(pk, "—"),
                "figures": FollowUpFigures(),
                "satisfaction": responses,
                "targets": {"satisfaction_rate": held.get(Metric.SATISFACTION_RATE)},
            }
        )
    for row in rows:
        row["complaints"] = department_complaints.get(row["pk"], 0)
        row["not_followed_up"] = row["figures"].eligible - row["figures"].followed_up
    # Lowest rate first (the report's order); encounters without a department are no department.
    least = next(
        (r for r in rows if r["pk"] is not None and r["figures"].follow_up_rate is not None), None
    )

    empty_follow_up, empty_satisfaction = FollowUpFigures(), SatisfactionFigures()
    empty_complaints = ComplaintFigures()
    compared = [row for row in rows if row["pk"] is not None]
    charts = {
        "month": first.strftime("%Y-%m"),
        "list_url": reverse("report_list"),
        "months": [month.strftime("%Y-%m") for month in months],
        "trends": {
            "follow_up_rate": [
                _number(follow_up.get(m, empty_follow_up).follow_up_rate) for m in months
            ],
            "satisfaction_rate": [
                _number(satisfaction.get(m, empty_satisfaction).satisfaction_rate) for m in months
            ],
            "complaints_received": [complaints.get(m, empty_complaints).received for m in months],
            "complaints_on_time_rate": [
                _number(complaints.get(m, empty_complaints).on_time_rate) for m in months
            ],
        },
        "targets": {
            metric: _number(value)
            for (metric, department, kind), value in targets.items()
            if department is None and not kind and metric in CHARTED_TARGETS
        },
        "departments": {
            "pks": [row["pk"] for row in compared],
            "names": [row["name"] for row in compared],
            "follow_up_rate": [_number(row["figures"].follow_up_rate) for row in compared],
            "satisfaction_rate": [
                _number(row["satisfaction"].satisfaction_rate) for row in compared
            ],
        },
        "labels": {
            "follow_up_rate": _("Follow-up rate (%)"),
            "satisfaction_rate": _("Satisfaction rate (%)"),
            "complaints_received": _("Complaints received"),
            "complaints_on_time_rate": _("Replied on time (%)"),
            "target": _("Target"),
        },
    }
    return Dashboard(
        report=report,
        months=months,
        departments=rows,
        least_reached=least,
        overdue_complaints=overdue_complaints_count(),
        not_followed_up=report.figures.eligible - report.figures.followed_up,
        unreachable=report.unreachable,
        complaint_categories=_labelled(
            report.complaints.by_category, dict(Complaint.Category.choices)
        ),
        charts=charts,
    )

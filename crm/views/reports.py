"""The monthly follow-up report (DESIGN.md §7): the clinic's figures and its departments'."""

from datetime import date, timedelta

from django.contrib.auth.decorators import login_required, permission_required
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _

from .. import kpi
from ..models import Department, KpiTarget, OutcomeCategory
from ..roles import VIEW_REPORTS


def _month(request) -> date:
    """The first day of the month asked for (?month=YYYY-MM), else of this month."""
    try:
        year, month = (int(part) for part in request.GET.get("month", "").split("-"))
        return date(year, month, 1)
    except ValueError:
        return timezone.localdate().replace(day=1)


def _targets(values: dict) -> dict:
    """Each clinic-wide target with whether the month missed it (no figure: not missed)."""
    return {
        target.metric: {
            "target": target.target,
            "missed": values.get(target.metric) is not None
            and values[target.metric] < target.target,
        }
        for target in KpiTarget.objects.filter(department=None)
    }


@login_required
@permission_required(VIEW_REPORTS, raise_exception=True)
def report_month(request):
    first = _month(request)
    following = (first + timedelta(days=32)).replace(day=1)
    period = kpi.Period(first, following - timedelta(days=1))
    names = dict(Department.objects.values_list("pk", "name"))
    departments = sorted(
        (
            {"name": names.get(pk, "—"), "figures": figures}
            for pk, figures in kpi.follow_up_by_department(period).items()
        ),
        # Lowest follow-up rate first: where to look.
        key=lambda row: (row["figures"].follow_up_rate is None, row["figures"].follow_up_rate),
    )
    satisfaction = kpi.satisfaction_figures(period)
    complaints = kpi.complaint_figures(period)
    spot_checks = kpi.spot_check_figures(period)
    categories = dict(OutcomeCategory.choices) | {kpi.NEVER_ATTEMPTED: _("Never attempted")}
    figures = kpi.follow_up_figures(period)
    unreachable = sorted(
        ((categories.get(key), count) for key, count in figures.unreachable.items()),
        key=lambda item: -item[1],
    )
    return render(
        request,
        "crm/report_month.html",
        {
            "period": period,
            "previous": (first - timedelta(days=1)).replace(day=1),
            "next": following if following <= timezone.localdate() else None,
            "figures": figures,
            "unreachable": unreachable,
            "satisfaction": satisfaction,
            "complaints": complaints,
            "spot_checks": spot_checks,
            "departments": departments,
            "targets": _targets(
                {
                    KpiTarget.Metric.FOLLOW_UP_RATE: figures.follow_up_rate,
                    KpiTarget.Metric.TIMELINESS: figures.timeliness,
                    KpiTarget.Metric.SATISFACTION_RATE: satisfaction.satisfaction_rate,
                    KpiTarget.Metric.NPS: satisfaction.nps,
                    KpiTarget.Metric.COMPLAINTS_ON_TIME: complaints.on_time_rate,
                    KpiTarget.Metric.SPOT_CHECK_AGREEMENT: spot_checks["rate"],
                }
            ),
        },
    )

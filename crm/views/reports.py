"""The monthly follow-up report (DESIGN.md §7): the clinic's figures and its departments'."""

from dataclasses import fields
from datetime import date, timedelta

from django.contrib.auth.decorators import login_required, permission_required
from django.shortcuts import render
from django.utils import timezone

from ..reports import month_period, report_build
from ..roles import VIEW_REPORTS


def _month(request) -> date:
    """The first day of the month asked for (?month=YYYY-MM), else of this month."""
    try:
        year, month = (int(part) for part in request.GET.get("month", "").split("-"))
        return date(year, month, 1)
    except ValueError:
        return timezone.localdate().replace(day=1)


@login_required
@permission_required(VIEW_REPORTS, raise_exception=True)
def report_month(request):
    first = _month(request)
    period = month_period(first)
    following = period.end + timedelta(days=1)
    report = report_build(period)
    return render(
        request,
        "crm/report_month.html",
        {
            **{field.name: getattr(report, field.name) for field in fields(report)},
            "previous": (first - timedelta(days=1)).replace(day=1),
            "next": following if following <= timezone.localdate() else None,
        },
    )

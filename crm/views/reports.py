"""The monthly follow-up report (DESIGN.md §7): the clinic's figures and its departments';
the dashboard; the list behind any figure, on a page and as CSV."""

from dataclasses import fields
from datetime import date, timedelta
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone

from ..dashboard import dashboard_build, unreachable_labelled
from ..models import OutcomeCategory
from ..reports import Report, month_period, report_build
from ..roles import EXPORT_REPORTS, VIEW_REPORTS
from ..selectors_reports import DrillError, drill_parse, drill_rows, encounter_followups
from ..services import reports

LIST_PAGE = 50


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
            "month": first.strftime("%Y-%m"),
            "unreachable_drill": unreachable_labelled(report.figures),
            "previous": (first - timedelta(days=1)).replace(day=1),
            "next": following if following <= timezone.localdate() else None,
        },
    )


@login_required
@permission_required(VIEW_REPORTS, raise_exception=True)
def report_dashboard(request):
    first = _month(request)
    dashboard = dashboard_build(first)
    following = dashboard.report.period.end + timedelta(days=1)
    return render(
        request,
        "crm/report_dashboard.html",
        {
            "dashboard": dashboard,
            **{field.name: getattr(dashboard.report, field.name) for field in fields(Report)},
            "month": first.strftime("%Y-%m"),
            "previous": (first - timedelta(days=1)).replace(day=1),
            "next": following if following <= timezone.localdate() else None,
        },
    )


def _drill(request):
    """The drill of the query string, or the page saying what is wrong with it."""
    try:
        return drill_parse(request.GET, default_first=timezone.localdate().replace(day=1)), None
    except DrillError as error:
        return None, render(request, "crm/report_list.html", {"error": str(error)}, status=400)


@login_required
@permission_required(VIEW_REPORTS, raise_exception=True)
def report_list(request):
    drill, bad = _drill(request)
    if bad:
        return bad
    page = Paginator(drill_rows(drill), LIST_PAGE).get_page(request.GET.get("page"))
    followups = {}
    if drill.kind == "encounters":
        followups = encounter_followups([row.pk for row in page.object_list])
        labels = dict(OutcomeCategory.choices)
        for row in page.object_list:
            row.followups = followups.get(row.pk, [])
            row.last_label = labels.get(row.last_category, row.last_category)
    return render(
        request,
        "crm/report_list.html",
        {
            "drill": drill,
            "page": page,
            "can_export": request.user.has_perm(EXPORT_REPORTS),
            "csv_query": urlencode(drill.query()),
        },
    )


@login_required
@permission_required(EXPORT_REPORTS, raise_exception=True)
def report_list_csv(request):
    drill, bad = _drill(request)
    if bad:
        return bad
    body = reports.drill_csv(drill, request.user)
    # A byte-order mark: Excel opens UTF-8 (Chinese names) correctly only with one.
    response = HttpResponse("\ufeff" + body, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="{drill.figure}-{drill.first:%Y-%m}.csv"'
    )
    return response

"""The follow-up report (DESIGN.md §7) of any period and scope: the clinic's figures, its
departments' and their ranking."""

from dataclasses import fields
from datetime import date, timedelta
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.utils.translation import gettext as _

from saas import clock
from surveys.models import Dimension

from ..forms import ReportFilterForm
from ..models import Complaint
from ..reporting.dashboard import dashboard_build
from ..reporting.drills import DrillError, drill_parse, drill_rows, encounter_followups
from ..reporting.exports import layout, pdf, xlsx
from ..reporting.exports.drill_csv import drill_csv
from ..reporting.figures.followup import unreachable_labels
from ..reporting.period import EARLIEST_DAY, EVERYTHING, LATEST_DAY, Period, Scope, month_period
from ..reporting.report import Report, report_build
from ..roles import EXPORT_REPORTS, VIEW_REPORTS
from ..selectors_review import review_build
from .review import review_context

LIST_PAGE = 50

EXPORT_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}


def _month_asked(request) -> date | None:
    """The first day of the month asked for (?month=YYYY-MM), None when it does not parse."""
    try:
        year, month = (int(part) for part in request.GET.get("month", "").split("-"))
        first = date(year, month, 1)
    except ValueError:
        return None
    return first if EARLIEST_DAY <= first <= LATEST_DAY else None


def report_filters(request) -> tuple[ReportFilterForm, str, Period, Scope]:
    """The period and scope asked for; what does not parse falls back to this month, whole
    clinic (the form shows why)."""
    form = ReportFilterForm(request.GET or None)
    today = clock.today()
    data = form.cleaned_data if form.is_valid() else {}
    kind = data.get("period") or "month"
    if kind == "custom":
        period = Period(data["start"], data["end"])
    else:
        period = Period.of(kind, data.get("day") or _month_asked(request) or today)
    scope = Scope(
        department=getattr(data.get("department"), "pk", None),
        agent=getattr(data.get("agent"), "pk", None),
        rule=getattr(data.get("rule"), "pk", None),
        tier=data.get("tier"),
    )
    return form, kind, period, scope


def _ranking_lists(ranking: dict) -> list:
    return [
        (_("Lowest follow-up rate"), ranking["follow_up"]["lowest"], "follow_up"),
        (_("Highest follow-up rate"), ranking["follow_up"]["highest"], "follow_up"),
        (_("Lowest satisfaction rate"), ranking["satisfaction"]["lowest"], "satisfaction"),
        (_("Highest satisfaction rate"), ranking["satisfaction"]["highest"], "satisfaction"),
    ]


@login_required
@permission_required(VIEW_REPORTS, raise_exception=True)
def report_month(request):
    form, kind, period, scope = report_filters(request)
    report = report_build(period, scope)
    context = {field.name: getattr(report, field.name) for field in fields(report)}
    # The lists behind the numbers are per month of the whole clinic: elsewhere, plain numbers.
    linked = kind == "month" and scope == EVERYTHING
    context["month"] = period.start.strftime("%Y-%m") if linked else None
    if linked:
        context |= review_context(request, report)
    if kind != "custom":
        previous = Period.of(kind, period.start - timedelta(days=1))
        following = Period.of(kind, period.end + timedelta(days=1))
        query = request.GET.copy()
        query["period"] = kind
        query.pop("month", None)
        query["day"] = previous.start.isoformat()
        context["previous_query"] = query.urlencode()
        if following.start <= clock.today():
            query["day"] = following.start.isoformat()
            context["next_query"] = query.urlencode()
    return render(
        request,
        "crm/report_month.html",
        {
            **context,
            "form": form,
            "kind": kind,
            "ranking_lists": _ranking_lists(report.ranking()),
            "dimensions": [
                (dict(Dimension.choices).get(key, key), item)
                for key, item in sorted(report.satisfaction.dimensions.items())
            ],
            "complaint_categories": sorted(
                (
                    (dict(Complaint.Category.choices).get(key, key), n)
                    for key, n in report.complaints.by_category.items()
                ),
                key=lambda item: -item[1],
            ),
        },
    )


@login_required
@permission_required(EXPORT_REPORTS, raise_exception=True)
def report_export(request, fmt: str):
    """The month's report as a file, in the request's language. A month that does not parse is
    refused rather than replaced by this month: a download must be of the month asked for."""
    first = _month_asked(request)
    if first is None:
        return HttpResponseBadRequest(_("Choose a month as YYYY-MM, e.g. 2026-11."))
    report = report_build(month_period(first))
    clinic, user = request.tenant.name, request.user
    if fmt == "pdf":
        body = pdf.report_pdf(
            report, clinic=clinic, printed=clock.today(), user=user, review=review_build(report)
        )
    else:
        body = xlsx.report_xlsx(report, clinic=clinic, user=user)
    response = HttpResponse(body, content_type=EXPORT_TYPES[fmt])
    response["Content-Disposition"] = f'attachment; filename="{layout.filename(report, fmt)}"'
    return response


@login_required
@permission_required(VIEW_REPORTS, raise_exception=True)
def report_dashboard(request):
    first = _month_asked(request) or clock.today().replace(day=1)
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
            "next": following if following <= clock.today() else None,
        },
    )


def _drill(request):
    """The drill of the query string, or the page saying what is wrong with it."""
    try:
        return drill_parse(request.GET, default_first=clock.today().replace(day=1)), None
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
        labels = unreachable_labels()
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
    body = drill_csv(drill, request.user)
    # A byte-order mark: Excel opens UTF-8 (Chinese names) correctly only with one.
    response = HttpResponse("\ufeff" + body, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="{drill.figure}-{drill.first:%Y-%m}.csv"'
    )
    return response

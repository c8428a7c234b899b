"""The follow-up report (DESIGN.md §7) of any period and scope: the clinic's figures, its
departments' and their ranking."""

from datetime import date, timedelta

from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _

from surveys.models import Dimension

from .. import kpi, report_exports
from ..forms import ReportFilterForm
from ..models import Complaint
from ..reports import month_period, report_build
from ..roles import EXPORT_REPORTS, VIEW_REPORTS
from ..services.report_exports import report_exported

EXPORT_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}


def _month_asked(request) -> date | None:
    """The first day of the month asked for (?month=YYYY-MM), None when it does not parse."""
    try:
        year, month = (int(part) for part in request.GET.get("month", "").split("-"))
        return date(year, month, 1)
    except ValueError:
        return None


def report_filters(request) -> tuple[ReportFilterForm, kpi.Period, kpi.Scope]:
    """The period and scope asked for; what does not parse falls back to this month, whole
    clinic (the form shows why)."""
    form = ReportFilterForm(request.GET or None)
    today = timezone.localdate()
    data = form.cleaned_data if form.is_valid() else {}
    kind = data.get("period") or "month"
    if kind == "custom":
        period = kpi.Period(data["start"], data["end"])
    else:
        period = kpi.Period.of(kind, data.get("day") or _month_asked(request) or today)
    scope = kpi.Scope(
        department=getattr(data.get("department"), "pk", None),
        agent=getattr(data.get("agent"), "pk", None),
        rule=getattr(data.get("rule"), "pk", None),
        tier=data.get("tier"),
    )
    return form, period, scope


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
    form, period, scope = report_filters(request)
    kind = form.cleaned_data.get("period") if form.is_bound and form.is_valid() else "month"
    report = report_build(period, scope)
    context = {field: getattr(report, field) for field in report.__dataclass_fields__}
    if kind and kind != "custom":
        previous = kpi.Period.of(kind, period.start - timedelta(days=1))
        following = kpi.Period.of(kind, period.end + timedelta(days=1))
        query = request.GET.copy()
        query["period"] = kind
        query.pop("month", None)
        query["day"] = previous.start.isoformat()
        context["previous_query"] = query.urlencode()
        if following.start <= timezone.localdate():
            query["day"] = following.start.isoformat()
            context["next_query"] = query.urlencode()
    return render(
        request,
        "crm/report_month.html",
        {
            **context,
            "form": form,
            "kind": kind or "month",
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
    if fmt == "pdf":
        body = report_exports.report_pdf(
            report, clinic=request.tenant.name, printed=timezone.localdate()
        )
    else:
        body = report_exports.report_xlsx(report, clinic=request.tenant.name)
    report_exported(request.user, fmt=fmt, first=first)
    response = HttpResponse(body, content_type=EXPORT_TYPES[fmt])
    response["Content-Disposition"] = (
        f'attachment; filename="{report_exports.filename(report, fmt)}"'
    )
    return response

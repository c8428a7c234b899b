"""The monthly follow-up report (DESIGN.md §7): the clinic's figures and its departments'."""

from dataclasses import fields
from datetime import date, timedelta

from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _

from .. import report_exports
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


def _month(request) -> date:
    """The month asked for, else this month."""
    return _month_asked(request) or timezone.localdate().replace(day=1)


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

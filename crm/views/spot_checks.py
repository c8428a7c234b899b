"""Tier-3 spot checks seen by the supervisor: the discrepancy score per agent (shown on the
worklist's spot-check tab, where the re-calls are worked) and the audits behind each figure."""

from datetime import date

from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required, permission_required
from django.shortcuts import get_object_or_404, render
from django.utils.translation import gettext as _

from saas import clock

from ..reporting.figures import spot_checks as selectors_spot_checks
from ..reporting.period import EARLIEST_DAY, LATEST_DAY, Period
from ..roles import SPOT_CHECK


def _month_error() -> str:
    return _("Choose a month as YYYY-MM, e.g. 2026-11.")


def month_asked(request) -> tuple[Period, str]:
    """The month asked for (?month=YYYY-MM), or this month with the reason when it does not
    parse; no month asked is this month without complaint."""
    this_month = Period.of("month", clock.today())
    asked = request.GET.get("month", "")
    if not asked:
        return this_month, ""
    try:
        year, month = (int(part) for part in asked.split("-"))
        first = date(year, month, 1)
    except ValueError:
        return this_month, _month_error()
    if not EARLIEST_DAY <= first <= LATEST_DAY:
        return this_month, _month_error()
    return Period.of("month", first), ""


def scores_context(request) -> dict:
    """What the worklist's spot-check tab shows above the re-calls to make."""
    period, error = month_asked(request)
    return {
        "month": period.start.strftime("%Y-%m"),
        "month_error": error,
        "scores": selectors_spot_checks.spot_check_scores(period),
    }


@login_required
@permission_required(SPOT_CHECK, raise_exception=True)
def spot_check_agent(request, agent_id):
    """The audits behind an agent's figures: all checked calls, or ?only=discrepancies."""
    agent = get_object_or_404(get_user_model(), pk=agent_id)
    period, error = month_asked(request)
    only = request.GET.get("only") == "discrepancies"
    audits = selectors_spot_checks.spot_check_agent_audits(
        period, agent_id=agent.pk, discrepancies_only=only
    )
    return render(
        request,
        "crm/spot_check_agent.html",
        {
            "agent_name": agent.get_full_name() or agent.email,
            "month": period.start.strftime("%Y-%m"),
            "month_error": error,
            "only_discrepancies": only,
            "audits": audits,
        },
    )

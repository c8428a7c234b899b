"""The supervisor's wallboard: a full-screen page for a wall screen, and the JSON its script
reads every 30 seconds (crm/static/crm/wallboard.js) to refresh the figures in place."""

from django.contrib.auth.decorators import login_required, permission_required
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import formats
from django.views.decorators.cache import never_cache

from saas import clock

from ..calendar import tenant_zone
from ..models import OutcomeCategory
from ..roles import VIEW_WALLBOARD
from ..selectors_wallboard import AgentDay, Urgency, Wallboard, wallboard_read

REFRESH_SECONDS = 30
# ?refresh=N: a wall screen may be asked to refresh more or less often (the browser test
# asks every 2 s, so as not to wait half a minute).
REFRESH_BOUNDS = (2, 600)
# Past this many agents the table's rows get smaller type, so that some twenty still fit a
# screen without scrolling.
DENSE_ABOVE = 10


def _handling_time(seconds: int | None) -> str:
    """Minutes and seconds ("3:05"), hours first when it came to that ("1:02:05")."""
    if seconds is None:
        return "—"
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


def _agent(day: AgentDay) -> dict:
    return {
        "name": day.name,
        "attempts": day.attempts,
        "reached": day.reached,
        "average_handling": _handling_time(day.average_seconds),
        "average_handling_seconds": day.average_seconds,
    }


def _board(board: Wallboard) -> dict:
    """What the page shows and the JSON carries: the same dict, so the first paint and every
    refresh agree. Labels are in the reader's language."""
    outcome_labels = dict(OutcomeCategory.choices)
    return {
        "updated": formats.time_format(board.now, "H:i:s"),
        "agents": [_agent(day) for day in board.agents],
        "total": _agent(board.total),
        "queue": [
            {"key": key, "label": str(Urgency.LABELS[key]), "count": count}
            for key, count in board.queue.items()
        ],
        "queue_total": sum(board.queue.values()),
        "outcomes": [
            {"key": key, "label": str(outcome_labels[key]), "count": count}
            for key, count in board.outcomes.items()
        ],
        "last_hour": board.last_hour,
    }


def _read() -> dict:
    return _board(wallboard_read(now=clock.now(), zone=tenant_zone(connection.tenant)))


def _refresh_seconds(request) -> int:
    try:
        asked = int(request.GET.get("refresh", REFRESH_SECONDS))
    except ValueError:
        return REFRESH_SECONDS
    low, high = REFRESH_BOUNDS
    return min(max(asked, low), high)


@login_required
@permission_required(VIEW_WALLBOARD, raise_exception=True)
def wallboard(request):
    return render(
        request,
        "crm/wallboard.html",
        {
            "board": _read(),
            "refresh_seconds": _refresh_seconds(request),
            "dense_above": DENSE_ABOVE,
            "data_url": reverse("wallboard_data"),
        },
    )


@never_cache
@login_required
@permission_required(VIEW_WALLBOARD, raise_exception=True)
def wallboard_data(request):
    return JsonResponse(_read())

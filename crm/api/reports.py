"""GET /api/v1/reports/followup: the follow-up report of DESIGN.md §7 as JSON, every figure as
its counts and its rate, for the whole clinic and per group. The same assembly as the report
page (crm.reporting.report), so the two never disagree."""

from datetime import date
from typing import Literal

from ninja import Field, Query, Router, Schema

from ..reporting.figures.feedback import ComplaintFigures, complaint_figures, praise_figures
from ..reporting.figures.followup import FollowUpFigures, follow_up_figures
from ..reporting.figures.satisfaction import SatisfactionFigures, satisfaction_figures
from ..reporting.figures.spot_checks import spot_check_figures
from ..reporting.period import MAX_PERIOD_DAYS, Period, Scope, period_error
from ..reporting.report import groups_build
from .auth import scope_require
from .errors import ApiError
from .schemas import ERRORS, Day

router = Router(tags=["reports"])


def _rate(value) -> float | None:
    return None if value is None else float(value)


class ReportFilters(Schema):
    start: Day = Field(description="First local day of the period (YYYY-MM-DD).")
    end: Day = Field(
        description="Last local day of the period, inclusive: on or after `start`, at most "
        f"{MAX_PERIOD_DAYS} days in all (else 422 `period_invalid`)."
    )
    group_by: Literal["department", "agent", "rule", "tier", "month"] | None = Field(
        None, description="Figures per group besides the total."
    )
    department: int | None = Field(None, ge=1, le=2_147_483_647, description="Only this one.")
    agent: int | None = Field(None, ge=1, le=2_147_483_647, description="Only this staff id.")
    rule: int | None = Field(None, ge=1, le=2_147_483_647, description="Only this rule.")
    tier: int | None = Field(None, ge=1, le=2, description="Only follow-ups of this tier.")


class FollowUpOut(Schema):
    eligible: int
    attempted: int
    coverage_rate: float | None
    followed_up: int
    follow_up_rate: float | None
    lost: int
    loss_rate: float | None
    unreachable: dict[str, int] = Field(
        description="Eligible encounters not followed up, by the outcome category of their "
        "last attempt, or never_attempted, or no_contact (no usable phone number or email "
        "address: counted as eligible, never excluded)."
    )
    transferred: int
    readmitted: int
    completed_tasks: int
    completed_in_window: int
    timeliness: float | None


class DimensionOut(Schema):
    answers: int
    top_two: int
    rate: float | None
    score: float = Field(description="Mean of the answers on a 0–100 scale.")


class SatisfactionOut(Schema):
    responses: int
    rated: int
    satisfied: int
    satisfaction_rate: float | None
    neutral: int
    neutral_share: float | None
    dissatisfied: int
    dissatisfied_share: float | None
    nps_answers: int
    promoters: int
    detractors: int
    nps: float | None
    dimensions: dict[str, DimensionOut]


class ComplaintsOut(Schema):
    received: int
    by_category: dict[str, int]
    due: int
    replied_on_time: int
    on_time_rate: float | None
    median_hours_to_reply: float | None


class SpotChecksOut(Schema):
    audits: int
    agree: int
    rate: float | None


class GroupOut(Schema):
    key: int | str | None = Field(
        description="Department, staff or rule id, tier, or the month as YYYY-MM; null for "
        "encounters without one (no department, never assigned)."
    )
    label: str
    follow_up: FollowUpOut
    satisfaction: SatisfactionOut
    complaints: ComplaintsOut | None = Field(
        description="Complaints are counted per department and per month only."
    )


class TotalOut(Schema):
    follow_up: FollowUpOut
    satisfaction: SatisfactionOut
    complaints: ComplaintsOut | None
    spot_checks: SpotChecksOut
    praise_by_staff: dict[str, int]
    praise_by_department: dict[str, int]


class ReportOut(Schema):
    start: date
    end: date
    group_by: str | None
    total: TotalOut
    groups: list[GroupOut]


def _follow_up(figures: FollowUpFigures) -> dict:
    return {
        **{
            name: getattr(figures, name)
            for name in (
                "eligible",
                "attempted",
                "followed_up",
                "lost",
                "unreachable",
                "transferred",
                "readmitted",
                "completed_tasks",
                "completed_in_window",
            )
        },
        **{
            name: _rate(getattr(figures, name))
            for name in ("coverage_rate", "follow_up_rate", "loss_rate", "timeliness")
        },
    }


def _satisfaction(figures: SatisfactionFigures) -> dict:
    counts = (
        "responses",
        "rated",
        "satisfied",
        "neutral",
        "dissatisfied",
        "nps_answers",
        "promoters",
        "detractors",
    )
    rates = ("satisfaction_rate", "neutral_share", "dissatisfied_share", "nps")
    return {
        **{name: getattr(figures, name) for name in counts},
        **{name: _rate(getattr(figures, name)) for name in rates},
        "dimensions": {
            dimension: {
                "answers": item["answers"],
                "top_two": item["top_two"],
                "rate": _rate(item["rate"]),
                "score": float(item["score"]),
            }
            for dimension, item in figures.dimensions.items()
        },
    }


def _complaints(figures: ComplaintFigures | None) -> dict | None:
    if figures is None:
        return None
    return {
        "received": figures.received,
        "by_category": figures.by_category,
        "due": figures.due,
        "replied_on_time": figures.replied_on_time,
        "on_time_rate": _rate(figures.on_time_rate),
        "median_hours_to_reply": _rate(figures.median_hours_to_reply),
    }


def _key(key):
    return f"{key:%Y-%m}" if isinstance(key, date) else key


@router.get("/followup", response={200: ReportOut, **ERRORS})
def followup_report(request, filters: Query[ReportFilters]):
    """The follow-up KPIs of a period (by encounter date; surveys by submission, complaints
    by receipt and, for on-time replies, by deadline), for the clinic or one department,
    agent, rule or tier, optionally per group. Rates are percentages with two decimals,
    computed from the counts beside them; null where nothing was counted. Scope: reports."""
    scope_require(request, "reports")
    problem = period_error(filters.start, filters.end)
    if problem:
        raise ApiError(422, "period_invalid", problem)
    period = Period(filters.start, filters.end)
    scope = Scope(
        department=filters.department, agent=filters.agent, rule=filters.rule, tier=filters.tier
    )
    groups = groups_build(period, filters.group_by, scope) if filters.group_by else []
    praise = praise_figures(period, scope)
    return {
        "start": period.start,
        "end": period.end,
        "group_by": filters.group_by,
        "total": {
            "follow_up": _follow_up(follow_up_figures(period, scope=scope)),
            "satisfaction": _satisfaction(satisfaction_figures(period, scope=scope)),
            "complaints": _complaints(
                None if scope.narrowed else complaint_figures(period, scope=scope)
            ),
            "spot_checks": spot_check_figures(period, scope),
            "praise_by_staff": {str(k): n for k, n in praise["by_staff"].items()},
            "praise_by_department": {str(k): n for k, n in praise["by_department"].items()},
        },
        "groups": [
            {
                "key": _key(group.key),
                "label": group.label,
                "follow_up": _follow_up(group.follow_up),
                "satisfaction": _satisfaction(group.satisfaction),
                "complaints": _complaints(group.complaints),
            }
            for group in groups
        ],
    }

"""The follow-up KPIs of DESIGN.md §7, computed from counts for a period and scope, exactly as
defined there. Reads only (the report pages, exports and the API call these).

A period is a range of the tenant's local days [start, end] inclusive. Encounter figures
count encounters whose date falls in it; survey figures count responses submitted in it,
complaint and praise figures those received in it (on-time replies: complaints due in it);
spot checks those closed in it. Tier-3 spot checks are audits, never follow-ups: they are
left out of every encounter figure."""

from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from statistics import median

from django.db import connection
from django.db.models import (
    Count,
    DateField,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Q,
    Value,
)
from django.db.models.functions import TruncMonth
from django.utils.translation import gettext as _

from ...calendar import local_midnight, tenant_zone
from ...models import (
    CallAttempt,
    Complaint,
    FollowUpTask,
    Message,
    OutcomeCategory,
    Praise,
    RuleStep,
)
from ...models.messages import Purpose
from .. import summary as kpi_summary

Status = FollowUpTask.Status
NEVER_ATTEMPTED = "never_attempted"
# Not followed up for want of a number or address (the task reason of the same name).
NO_CONTACT = FollowUpTask.Reason.NO_CONTACT.value
# The longest period a report covers: a year and a bit, enough for any annual report, and a
# bound on what one page or API call may scan.
MAX_PERIOD_DAYS = 400


def unreachable_labels() -> dict[str, str]:
    """What each key of the unreachable breakdown is called: the outcome categories of a last
    attempt, and the two reasons without one."""
    return dict(OutcomeCategory.choices) | {
        NEVER_ATTEMPTED: _("Never attempted"),
        NO_CONTACT: str(FollowUpTask.Reason.NO_CONTACT.label),
    }


UNREACHABLE_KEYS = (*OutcomeCategory.values, NEVER_ATTEMPTED, NO_CONTACT)


def period_error(start: date, end: date) -> str | None:
    """Why [start, end] cannot be reported on, or None when it can."""
    if end < start or (end - start).days >= MAX_PERIOD_DAYS:
        return _("The period must end on or after its start and span at most %(days)s days.") % {
            "days": MAX_PERIOD_DAYS
        }
    return None


def rate(numerator: int, denominator: int) -> Decimal | None:
    """numerator / denominator as a percentage with two decimals; None (shown "—") when
    nothing is counted."""
    if not denominator:
        return None
    return (Decimal(100 * numerator) / denominator).quantize(Decimal("0.01"), ROUND_HALF_UP)


# The days a report can be about: outside them a period's neighbours overflow the calendar.
EARLIEST_DAY, LATEST_DAY = date(1900, 1, 1), date(2999, 12, 31)


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # inclusive

    @classmethod
    def of(cls, kind: str, day: date) -> "Period":
        """The day, ISO week (Monday first), month, quarter or year that holds `day`."""
        if kind == "day":
            return cls(day, day)
        if kind == "week":
            monday = day - timedelta(days=day.weekday())
            return cls(monday, monday + timedelta(days=6))
        if kind == "month":
            first = day.replace(day=1)
        elif kind == "quarter":
            first = date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
        elif kind == "year":
            return cls(date(day.year, 1, 1), date(day.year, 12, 31))
        else:
            raise ValueError(kind)
        months = 3 if kind == "quarter" else 1
        following = date(
            first.year + (first.month + months - 1) // 12, (first.month + months - 1) % 12 + 1, 1
        )
        return cls(first, following - timedelta(days=1))

    def months(self) -> list[date]:
        """The first day of each calendar month the period touches."""
        months, month = [], self.start.replace(day=1)
        while month <= self.end:
            months.append(month)
            month = (month + timedelta(days=32)).replace(day=1)
        return months

    def bounds(self) -> tuple[datetime, datetime]:
        zone = tenant_zone(connection.tenant)
        return local_midnight(self.start, zone), local_midnight(self.end + timedelta(days=1), zone)


@dataclass(frozen=True)
class Scope:
    """Whose figures: the whole tenant, or narrowed to a department (of the encounter), an
    agent (who made the last attempt; never attempted: the assignee of the first task), a
    rule or a tier (only that rule's or tier's follow-ups count)."""

    department: int | None = None
    agent: int | None = None
    rule: int | None = None
    tier: int | None = None

    @property
    def narrowed(self) -> bool:
        """To an agent, rule or tier: below the department, where complaints and praise and
        the summary's facts are not kept."""
        return self.agent is not None or self.rule is not None or self.tier is not None


EVERYTHING = Scope()
GROUPS = ("department", "agent", "rule", "tier", "month")


@dataclass
class FollowUpFigures:
    eligible: int = 0
    attempted: int = 0
    followed_up: int = 0
    lost: int = 0
    unreachable: dict = field(default_factory=dict)  # last attempt's category → encounters
    completed_tasks: int = 0
    completed_in_window: int = 0
    transferred: int = 0  # an attempt found the patient transferred elsewhere
    readmitted: int = 0  # readmitted before the follow-up (attempt or cancelled task)

    @property
    def coverage_rate(self) -> Decimal | None:
        return rate(self.attempted, self.eligible)

    @property
    def follow_up_rate(self) -> Decimal | None:
        return rate(self.followed_up, self.eligible)

    @property
    def loss_rate(self) -> Decimal | None:
        return rate(self.lost, self.eligible)

    @property
    def timeliness(self) -> Decimal | None:
        return rate(self.completed_in_window, self.completed_tasks)

    def add(self, other: "FollowUpFigures") -> None:
        for name in (
            "eligible",
            "attempted",
            "followed_up",
            "lost",
            "completed_tasks",
            "completed_in_window",
            "transferred",
            "readmitted",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for key, count in other.unreachable.items():
            self.unreachable[key] = self.unreachable.get(key, 0) + count


# Figures from the facts of each encounter: the summary table where it holds them (the whole
# clinic or a department, per department or month), else computed from the tasks.
_AGGREGATE_SQL = """
SELECT {key}, last_category, count(*), count(*) FILTER (WHERE attempted),
       count(*) FILTER (WHERE reached), count(*) FILTER (WHERE lost), sum(completed),
       sum(in_window), count(*) FILTER (WHERE transferred), count(*) FILTER (WHERE readmitted)
FROM {source}
GROUP BY 1, 2
"""
# The local month as the index of its first instant among the period's month starts: a
# comparison per row, where converting every row to the clinic's zone took twice as long.
_MONTH = "width_bucket(occurred_at, %(month_starts)s::timestamptz[])"


def _from_summary(group_by: str | None, scope: Scope) -> bool:
    """The summary holds each encounter's facts over all its follow-ups: enough for the whole
    clinic or a department, per department or month; not per agent, rule or tier."""
    return not scope.narrowed and group_by in (None, "department", "month")


def _follow_up_sql(group_by: str | None, scope: Scope) -> str:
    if _from_summary(group_by, scope):
        kpi_summary.refresh()
        key = {"department": "department_id", "month": _MONTH}.get(group_by, "NULL::int")
        source = "crm_encounterkpi WHERE occurred_at >= %(start)s AND occurred_at < %(end)s"
        if scope.department is not None:
            source += " AND department_id = %(department)s"
        return _AGGREGATE_SQL.format(key=key, source=source)
    where = ["e.occurred_at >= %(start)s", "e.occurred_at < %(end)s"]
    if scope.department is not None:
        where.append("e.department_id = %(department)s")
    if scope.rule is not None:
        where.append("t.rule_id = %(rule)s")
    if scope.tier is not None:
        where.append("t.tier = %(tier)s")
    by_agent = group_by == "agent" or scope.agent is not None
    facts = kpi_summary.FACTS_SQL.format(
        # Per rule or tier, an encounter counts once in each, with only that one's follow-ups.
        task_key={"rule": "t.rule_id", "tier": "t.tier", "kind": "e.kind"}.get(
            group_by, "NULL::int"
        ),
        where=" AND ".join(where),
        need_last="true" if by_agent else "NOT reached",
    )
    agent = "coalesce(agent_id, assignee_id)"
    source = "facts" + (f" WHERE {agent} = %(agent)s" if scope.agent is not None else "")
    key = {
        "department": "department_id",
        "month": _MONTH,
        "agent": agent,
        "rule": "task_key",
        "tier": "task_key",
        "kind": "task_key",
    }.get(group_by, "NULL::int")
    return f"WITH {facts} " + _AGGREGATE_SQL.format(key=key, source=source)


def follow_up_by(period: Period, group_by: str | None, scope: Scope = EVERYTHING) -> dict:
    """FollowUpFigures per group (department id, agent id, rule id, tier, encounter kind, or
    the first day of the local month; None for encounters without one), or {None: figures}
    when not grouped.
    By agent: who made the encounter's last attempt, else the assignee of its first task."""
    start, end = period.bounds()
    months = period.months()
    zone = tenant_zone(connection.tenant)
    params = {
        "start": start,
        "end": end,
        "month_starts": [local_midnight(month, zone) for month in months],
        **vars(scope),
    }
    groups: dict = {}
    with connection.cursor() as cursor:
        cursor.execute(_follow_up_sql(group_by, scope), params)
        for key, category, *counts in cursor.fetchall():
            if group_by == "month":
                key = months[key - 1]
            (eligible, attempted, reached, lost, completed, in_window, transferred, readmitted) = (
                counts
            )
            groups.setdefault(key, FollowUpFigures()).add(
                FollowUpFigures(
                    eligible=eligible,
                    attempted=attempted,
                    followed_up=reached,
                    lost=lost,
                    completed_tasks=int(completed),
                    completed_in_window=int(in_window),
                    transferred=transferred,
                    readmitted=readmitted,
                    unreachable={category: eligible} if category else {},
                )
            )
    if group_by is None:
        return {None: groups.get(None, FollowUpFigures())}
    return groups


def follow_up_figures(
    period: Period, *, department=None, scope: Scope = EVERYTHING
) -> FollowUpFigures:
    if department is not None:
        scope = replace(scope, department=getattr(department, "pk", department))
    return follow_up_by(period, None, scope)[None]


def follow_up_by_department(period: Period, scope: Scope = EVERYTHING) -> dict:
    """Department id → FollowUpFigures of its encounters."""
    return follow_up_by(period, "department", scope)


# --- Satisfaction ---------------------------------------------------------------------------


@dataclass
class SatisfactionFigures:
    responses: int = 0
    rated: int = 0
    satisfied: int = 0
    neutral: int = 0
    dissatisfied: int = 0
    promoters: int = 0
    detractors: int = 0
    nps_answers: int = 0
    dimensions: dict = field(default_factory=dict)  # dimension → {"answers", "top_two", "score"}

    @property
    def satisfaction_rate(self) -> Decimal | None:
        return rate(self.satisfied, self.rated)

    @property
    def neutral_share(self) -> Decimal | None:
        return rate(self.neutral, self.rated)

    @property
    def dissatisfied_share(self) -> Decimal | None:
        return rate(self.dissatisfied, self.rated)

    def add(self, other: "SatisfactionFigures") -> None:
        for name in (
            "responses",
            "rated",
            "satisfied",
            "neutral",
            "dissatisfied",
            "promoters",
            "detractors",
            "nps_answers",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for dimension, item in other.dimensions.items():
            mine = self.dimensions.setdefault(dimension, {"answers": 0, "top_two": 0, "points": 0})
            for name in ("answers", "top_two", "points"):
                mine[name] += item[name]
        _dimension_rates(self)

    @property
    def nps(self) -> Decimal | None:
        """% promoters (9–10) − % detractors (0–6)."""
        if not self.nps_answers:
            return None
        return rate(self.promoters, self.nps_answers) - rate(self.detractors, self.nps_answers)


def _month_of(field_name: str):
    """The first day of the local month of a timestamp (tenant's zone), for grouping."""
    return TruncMonth(field_name, output_field=DateField(), tzinfo=tenant_zone(connection.tenant))


def satisfaction_by(
    period: Period, group_by: str | None, scope: Scope = EVERYTHING, *, dimensions: bool = True
) -> dict:
    """SatisfactionFigures of the responses submitted in the period, per group: department
    (the encounter's), agent (who recorded the answers on a call; none for self-filled),
    rule or tier (of the follow-up that asked), month; {None: figures} when not grouped.
    Without `dimensions`, the per-dimension scores are left out (a trend needs only rates)."""
    from surveys.models import SurveyAnswer, SurveyResponse

    start, end = period.bounds()
    # Written once, applied to the responses and, through their response, to the answers
    # (a join on the period's responses, not an IN over them: ~5x faster on a year of data).
    conditions = {"submitted_at__gte": start, "submitted_at__lt": end}
    for name, lookup in (
        ("department", "department"),
        ("agent", "answered_by"),
        ("rule", "task__rule"),
        ("tier", "task__tier"),
    ):
        if getattr(scope, name) is not None:
            conditions[lookup] = getattr(scope, name)
    responses = SurveyResponse.objects.filter(**conditions)
    key = {
        "department": F("department_id"),
        "agent": F("answered_by_id"),
        "rule": F("task__rule_id"),
        "tier": F("task__tier"),
        "month": _month_of("submitted_at"),
    }.get(group_by, Value(None, output_field=IntegerField()))
    groups = {
        row.pop("key"): SatisfactionFigures(**row)
        for row in responses.annotate(key=key)
        .values("key")
        .order_by()
        .annotate(
            responses=Count("id"),
            rated=Count("id", filter=~Q(satisfaction="")),
            satisfied=Count("id", filter=Q(satisfaction="satisfied")),
            neutral=Count("id", filter=Q(satisfaction="neutral")),
            dissatisfied=Count("id", filter=Q(satisfaction="dissatisfied")),
            nps_answers=Count("id", filter=Q(nps__isnull=False)),
            promoters=Count("id", filter=Q(nps__gte=9)),
            detractors=Count("id", filter=Q(nps__lte=6)),
        )
    }
    answer_key = {
        "department": F("response__department_id"),
        "agent": F("response__answered_by_id"),
        "rule": F("response__task__rule_id"),
        "tier": F("response__task__tier"),
        "month": _month_of("response__submitted_at"),
    }.get(group_by, Value(None, output_field=IntegerField()))
    per_dimension = (
        SurveyAnswer.objects.filter(
            **{f"response__{lookup}": value for lookup, value in conditions.items()},
            kind="rating",
            number__isnull=False,
        )
        .exclude(dimension="")
        .annotate(key=answer_key)
        .values("key", "dimension", "number")
        .order_by()
        .annotate(n=Count("id"))
    )
    for row in per_dimension if dimensions else ():
        figures = groups.setdefault(row["key"], SatisfactionFigures())
        item = figures.dimensions.setdefault(
            row["dimension"], {"answers": 0, "top_two": 0, "points": 0}
        )
        item["answers"] += row["n"]
        item["top_two"] += row["n"] if row["number"] >= 4 else 0
        item["points"] += row["n"] * (row["number"] - 1) * 25  # 1..5 → 0/25/50/75/100
    for figures in groups.values():
        _dimension_rates(figures)
    if group_by is None:
        return {None: groups.get(None, SatisfactionFigures())}
    return groups


def _dimension_rates(figures: SatisfactionFigures) -> None:
    for item in figures.dimensions.values():
        item["rate"] = rate(item["top_two"], item["answers"])
        item["score"] = (Decimal(item["points"]) / item["answers"]).quantize(
            Decimal("0.01"), ROUND_HALF_UP
        )


def total(groups: dict, figures_class):
    """The figures of the whole from those of its groups (every count adds up; rates are
    computed again from the sums, never averaged)."""
    whole = figures_class()
    for figures in groups.values():
        whole.add(figures)
    return whole


def satisfaction_figures(period: Period, *, department=None, scope: Scope = EVERYTHING):
    if department is not None:
        scope = replace(scope, department=getattr(department, "pk", department))
    return satisfaction_by(period, None, scope)[None]


# --- Complaints, praise, spot checks --------------------------------------------------------


@dataclass
class ComplaintFigures:
    received: int = 0
    by_category: dict = field(default_factory=dict)
    by_department: dict = field(default_factory=dict)
    due: int = 0
    replied_on_time: int = 0
    median_hours_to_reply: Decimal | None = None

    @property
    def on_time_rate(self) -> Decimal | None:
        return rate(self.replied_on_time, self.due)


COMPLAINT_GROUPS = ("department", "month")  # complaints carry no agent, rule or tier


def complaint_by(period: Period, group_by: str | None, scope: Scope = EVERYTHING) -> dict:
    """ComplaintFigures per department or month (received: created in the period, by its
    local month; on time: complaints due in the period, by the deadline's month);
    {None: figures} when not grouped."""
    start, end = period.bounds()
    complaints = Complaint.objects.filter(kind=Complaint.Kind.COMPLAINT)
    if scope.department is not None:
        complaints = complaints.filter(department=scope.department)
    groups: dict = {}
    received_key = {"department": F("department_id"), "month": _month_of("created_at")}.get(
        group_by, Value(None, output_field=IntegerField())
    )
    hours: dict = {}
    for key, category, department, created, replied in (
        complaints.filter(created_at__gte=start, created_at__lt=end)
        .annotate(key=received_key)
        .values_list("key", "category", "department__name", "created_at", "replied_at")
    ):
        figures = groups.setdefault(key, ComplaintFigures())
        figures.received += 1
        figures.by_category[category] = figures.by_category.get(category, 0) + 1
        department = department or ""
        figures.by_department[department] = figures.by_department.get(department, 0) + 1
        if replied is not None:
            hours.setdefault(key, []).append((replied - created).total_seconds() / 3600)
    due_key = {"department": F("department_id"), "month": _month_of("deadline")}.get(
        group_by, Value(None, output_field=IntegerField())
    )
    for row in (
        complaints.filter(deadline__gte=start, deadline__lt=end)
        .annotate(key=due_key)
        .values("key")
        .order_by()
        # Replied at the deadline itself is on time.
        .annotate(
            due=Count("id"),
            on_time=Count("id", filter=Q(replied_at__isnull=False, replied_at__lte=F("deadline"))),
        )
    ):
        figures = groups.setdefault(row["key"], ComplaintFigures())
        figures.due, figures.replied_on_time = row["due"], row["on_time"]
    for key, values in hours.items():
        groups[key].median_hours_to_reply = Decimal(median(values)).quantize(
            Decimal("0.01"), ROUND_HALF_UP
        )
    if group_by is None:
        return {None: groups.get(None, ComplaintFigures())}
    return groups


def complaint_figures(period: Period, *, department=None, scope: Scope = EVERYTHING):
    if department is not None:
        scope = replace(scope, department=getattr(department, "pk", department))
    return complaint_by(period, None, scope)[None]


def praise_figures(period: Period, scope: Scope = EVERYTHING) -> dict:
    start, end = period.bounds()
    praise = Praise.objects.filter(created_at__gte=start, created_at__lt=end)
    if scope.department is not None:
        praise = praise.filter(department=scope.department)
    return {
        "by_staff": {
            row["staff"]: row["n"]
            for row in praise.exclude(staff=None).values("staff").annotate(n=Count("id"))
        },
        "by_department": {
            row["department"]: row["n"]
            for row in praise.exclude(department=None).values("department").annotate(n=Count("id"))
        },
    }


def spot_check_figures(period: Period, scope: Scope = EVERYTHING) -> dict:
    """Tier-3 audits closed in the period; by department, agent (who made the audited
    call's last attempt: the audit is of their work) or rule of the audited follow-up."""
    start, end = period.bounds()
    audits = FollowUpTask.objects.filter(
        tier=3, status=Status.COMPLETED, completed_at__gte=start, completed_at__lt=end
    )
    if scope.department is not None:
        audits = audits.filter(encounter__department=scope.department)
    if scope.rule is not None:
        audits = audits.filter(spot_check_of__rule=scope.rule)
    if scope.agent is not None:
        audits = audits.filter(spot_check_of__attempts__agent=scope.agent).distinct()
    done = audits.count()
    agree = audits.filter(audit_agrees=True).count()
    return {"audits": done, "agree": agree, "rate": rate(agree, done)}


def pre_notice_figures(period: Period, scope: Scope = EVERYTHING) -> dict:
    """The "hung up, suspected fraud" rate of phone follow-ups called in the period, for
    those announced by a pre-notice SMS that went out and for the others (DESIGN.md §7a.3):
    whether announcing the call gets it answered. A follow-up counts once however many
    calls it took; it is a fraud hang-up when any of its calls in the period was one."""
    start, end = period.bounds()
    in_period = CallAttempt.objects.filter(
        task=OuterRef("pk"), started_at__gte=start, started_at__lt=end
    )
    called = FollowUpTask.objects.filter(channel=RuleStep.Channel.PHONE).exclude(tier=3)
    if scope.department is not None:
        called = called.filter(encounter__department=scope.department)
    if scope.rule is not None:
        called = called.filter(rule=scope.rule)
    if scope.agent is not None:
        in_period = in_period.filter(agent=scope.agent)
    sent = (Message.Status.SENT, Message.Status.DELIVERED)
    figures = (
        called.filter(Exists(in_period))
        .annotate(
            has_notice=Exists(
                Message.objects.filter(
                    task=OuterRef("pk"), purpose=Purpose.PRE_NOTICE, status__in=sent
                )
            ),
            has_fraud=Exists(in_period.filter(category=OutcomeCategory.HUNG_UP_SUSPECTED_FRAUD)),
        )
        .aggregate(
            noticed=Count("pk", filter=Q(has_notice=True)),
            noticed_fraud=Count("pk", filter=Q(has_notice=True, has_fraud=True)),
            other=Count("pk", filter=Q(has_notice=False)),
            other_fraud=Count("pk", filter=Q(has_notice=False, has_fraud=True)),
        )
    )
    return {
        **figures,
        "noticed_rate": rate(figures["noticed_fraud"], figures["noticed"]),
        "other_rate": rate(figures["other_fraud"], figures["other"]),
    }

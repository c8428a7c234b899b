"""The follow-up KPIs of DESIGN.md §7, computed from counts for a period and scope, exactly as
defined there. Reads only (the report pages, exports and the API call these).

A period is a range of the tenant's local days [start, end] inclusive. Encounter figures
count encounters whose date falls in it; survey figures count responses submitted in it,
complaint and praise figures those received in it (on-time replies: complaints due in it);
spot checks those closed in it. Tier-3 spot checks are audits, never follow-ups: they are
left out of every encounter figure."""

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from statistics import median

from django.db import connection
from django.db.models import Count, DateField, Exists, F, OuterRef, Q, QuerySet
from django.db.models.functions import TruncMonth

from .calendar import local_midnight, tenant_zone
from .models import Complaint, Encounter, FollowUpTask, Praise

Status = FollowUpTask.Status
NEVER_ATTEMPTED = "never_attempted"


def rate(numerator: int, denominator: int) -> Decimal | None:
    """numerator / denominator as a percentage with two decimals; None (shown "—") when
    nothing is counted."""
    if not denominator:
        return None
    return (Decimal(100 * numerator) / denominator).quantize(Decimal("0.01"), ROUND_HALF_UP)


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # inclusive

    def bounds(self) -> tuple[datetime, datetime]:
        zone = tenant_zone(connection.tenant)
        return local_midnight(self.start, zone), local_midnight(self.end + timedelta(days=1), zone)


@dataclass
class FollowUpFigures:
    eligible: int = 0
    attempted: int = 0
    followed_up: int = 0
    lost: int = 0
    unreachable: dict = field(default_factory=dict)  # last attempt's category → encounters
    completed_tasks: int = 0
    completed_in_window: int = 0

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


def _followups() -> QuerySet:
    """The follow-ups that count: planned ones, not excluded, not spot checks."""
    return FollowUpTask.objects.filter(spot_check_of__isnull=True).exclude(status=Status.EXCLUDED)


def eligible_encounters(period: Period, *, department=None) -> QuerySet:
    """Encounters in the period matched by a rule and not excluded: at least one follow-up
    that was not excluded (an encounter whose only task was excluded is not eligible)."""
    start, end = period.bounds()
    encounters = Encounter.objects.filter(occurred_at__gte=start, occurred_at__lt=end).filter(
        Exists(_followups().filter(encounter=OuterRef("pk")))
    )
    if department is not None:
        encounters = encounters.filter(department=department)
    return encounters


def _with_outcomes(encounters: QuerySet) -> QuerySet:
    """Each encounter flagged: attempted, reached (a follow-up completed), lost (every
    follow-up unreachable)."""
    tasks = _followups().filter(encounter=OuterRef("pk"))
    return encounters.annotate(
        attempted=Exists(tasks.filter(attempts_count__gt=0)),
        reached=Exists(tasks.filter(status=Status.COMPLETED)),
        all_unreachable=~Exists(tasks.exclude(status=Status.UNREACHABLE)),
    )


def follow_up_figures(period: Period, *, department=None) -> FollowUpFigures:
    encounters = _with_outcomes(eligible_encounters(period, department=department))
    figures = FollowUpFigures()
    not_reached = []
    for pk, attempted, reached, all_unreachable in encounters.values_list(
        "pk", "attempted", "reached", "all_unreachable"
    ):
        figures.eligible += 1
        figures.attempted += attempted
        figures.followed_up += reached
        figures.lost += all_unreachable
        if not reached:
            not_reached.append(pk)
    figures.unreachable = _unreachable_breakdown(not_reached)
    completed = _followups().filter(
        encounter__in=eligible_encounters(period, department=department),
        status=Status.COMPLETED,
    )
    figures.completed_tasks = completed.count()
    figures.completed_in_window = completed.filter(reached_in_window=True).count()
    return figures


def follow_up_by_department(period: Period) -> dict:
    """Eligible, attempted, followed up and lost encounters per department, in one grouped
    query (department id → FollowUpFigures without the breakdowns)."""
    rows = (
        _with_outcomes(eligible_encounters(period))
        .values("department")
        .annotate(
            eligible=Count("id"),
            n_attempted=Count("id", filter=Q(attempted=True)),
            n_reached=Count("id", filter=Q(reached=True)),
            n_lost=Count("id", filter=Q(all_unreachable=True)),
        )
    )
    return {
        row["department"]: FollowUpFigures(
            eligible=row["eligible"],
            attempted=row["n_attempted"],
            followed_up=row["n_reached"],
            lost=row["n_lost"],
        )
        for row in rows
    }


def _unreachable_breakdown(encounter_ids: list[int]) -> dict[str, int]:
    """Encounters not followed up, by the outcome category of their last attempt (over all
    their follow-ups), or "never attempted"."""
    from .models import CallAttempt

    last = {}
    attempts = (
        CallAttempt.objects.filter(task__encounter_id__in=encounter_ids, task__spot_check_of=None)
        .order_by("task__encounter_id", "-started_at", "-id")
        .values_list("task__encounter_id", "category")
    )
    for encounter_id, category in attempts:
        last.setdefault(encounter_id, category)
    breakdown: dict[str, int] = {}
    for encounter_id in encounter_ids:
        key = last.get(encounter_id, NEVER_ATTEMPTED)
        breakdown[key] = breakdown.get(key, 0) + 1
    return breakdown


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

    @property
    def nps(self) -> Decimal | None:
        """% promoters (9–10) − % detractors (0–6)."""
        if not self.nps_answers:
            return None
        return rate(self.promoters, self.nps_answers) - rate(self.detractors, self.nps_answers)


def satisfaction_figures(period: Period, *, department=None) -> SatisfactionFigures:
    from surveys.models import SurveyAnswer, SurveyResponse

    start, end = period.bounds()
    responses = SurveyResponse.objects.filter(submitted_at__gte=start, submitted_at__lt=end)
    if department is not None:
        responses = responses.filter(department=department)
    counts = responses.aggregate(
        responses=Count("id"),
        rated=Count("id", filter=~Q(satisfaction="")),
        satisfied=Count("id", filter=Q(satisfaction="satisfied")),
        neutral=Count("id", filter=Q(satisfaction="neutral")),
        dissatisfied=Count("id", filter=Q(satisfaction="dissatisfied")),
        nps_answers=Count("id", filter=Q(nps__isnull=False)),
        promoters=Count("id", filter=Q(nps__gte=9)),
        detractors=Count("id", filter=Q(nps__lte=6)),
    )
    figures = SatisfactionFigures(**counts)
    per_dimension = (
        SurveyAnswer.objects.filter(response__in=responses, kind="rating", number__isnull=False)
        .exclude(dimension="")
        .values("dimension", "number")
        .annotate(n=Count("id"))
    )
    for row in per_dimension:
        item = figures.dimensions.setdefault(
            row["dimension"], {"answers": 0, "top_two": 0, "points": 0}
        )
        item["answers"] += row["n"]
        item["top_two"] += row["n"] if row["number"] >= 4 else 0
        item["points"] += row["n"] * (row["number"] - 1) * 25  # 1..5 → 0/25/50/75/100
    for item in figures.dimensions.values():
        item["rate"] = rate(item["top_two"], item["answers"])
        item["score"] = (Decimal(item["points"]) / item["answers"]).quantize(
            Decimal("0.01"), ROUND_HALF_UP
        )
    return figures


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


def complaint_figures(period: Period, *, department=None) -> ComplaintFigures:
    start, end = period.bounds()
    complaints = Complaint.objects.filter(kind=Complaint.Kind.COMPLAINT)
    if department is not None:
        complaints = complaints.filter(department=department)
    received = complaints.filter(created_at__gte=start, created_at__lt=end)
    figures = ComplaintFigures(received=received.count())
    for row in received.values("category").annotate(n=Count("id")):
        figures.by_category[row["category"]] = row["n"]
    for row in received.values("department__name").annotate(n=Count("id")):
        figures.by_department[row["department__name"] or ""] = row["n"]
    due = complaints.filter(deadline__gte=start, deadline__lt=end)
    figures.due = due.count()
    # Replied at the deadline itself is on time.
    figures.replied_on_time = due.filter(
        replied_at__isnull=False, replied_at__lte=F("deadline")
    ).count()
    hours = [
        (replied - created).total_seconds() / 3600
        for created, replied in received.filter(replied_at__isnull=False).values_list(
            "created_at", "replied_at"
        )
    ]
    if hours:
        figures.median_hours_to_reply = Decimal(median(hours)).quantize(
            Decimal("0.01"), ROUND_HALF_UP
        )
    return figures


def praise_figures(period: Period) -> dict:
    start, end = period.bounds()
    praise = Praise.objects.filter(created_at__gte=start, created_at__lt=end)
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


def spot_check_figures(period: Period) -> dict:
    start, end = period.bounds()
    audits = FollowUpTask.objects.filter(
        tier=3, status=Status.COMPLETED, completed_at__gte=start, completed_at__lt=end
    )
    done = audits.count()
    agree = audits.filter(audit_agrees=True).count()
    return {"audits": done, "agree": agree, "rate": rate(agree, done)}


# --- Trends ---------------------------------------------------------------------------------
# The dashboard's charts: one grouped read per figure family over many months or departments,
# counted exactly as the figures above count one month or one department (the tests hold the
# two side by side). Months are the tenant's local months.


def _local_month(field: str) -> TruncMonth:
    return TruncMonth(field, output_field=DateField(), tzinfo=tenant_zone(connection.tenant))


def follow_up_by_month(period: Period) -> dict[date, FollowUpFigures]:
    """Eligible, attempted, followed up and lost encounters per local month of the period
    (first day of the month → FollowUpFigures without breakdowns or timeliness).

    The flags of _with_outcomes as aggregates over the follow-ups that count, grouped by
    encounter (an encounter with one is eligible; attempted, reached: any of them; lost: all
    of them unreachable), then counted per month. Over a year of encounters this is one pass
    over the index task_kpi_outcome_idx, where per-encounter EXISTS probes took 7 s (a year
    of the followup benchmark's 1M tasks; ~1.1 s this way)."""
    from django.contrib.postgres.aggregates import BoolAnd, BoolOr
    from django.db.models import BooleanField, ExpressionWrapper

    def flag(condition: Q) -> ExpressionWrapper:
        return ExpressionWrapper(condition, output_field=BooleanField())

    start, end = period.bounds()
    in_period = Encounter.objects.filter(occurred_at__gte=start, occurred_at__lt=end)
    per_encounter = (
        _followups()
        .filter(encounter_id__in=in_period.values("pk"))
        .values("encounter_id")
        .annotate(
            attempted=BoolOr(flag(Q(attempts_count__gt=0))),
            reached=BoolOr(flag(Q(status=Status.COMPLETED))),
            lost=BoolAnd(flag(Q(status=Status.UNREACHABLE))),
        )
        .order_by()
    )
    # Two levels of grouping, which the ORM does not write: the inner SQL is the ORM's own,
    # its values passed as parameters.
    inner, params = per_encounter.query.sql_with_params()
    table = connection.ops.quote_name(Encounter._meta.db_table)
    sql = (
        "SELECT date_trunc('month', e.occurred_at AT TIME ZONE %s)::date AS month,"  # noqa: S608
        " count(*), count(*) FILTER (WHERE t.attempted), count(*) FILTER (WHERE t.reached),"
        f" count(*) FILTER (WHERE t.lost) FROM ({inner}) AS t"
        f" JOIN {table} AS e ON e.id = t.encounter_id GROUP BY 1"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, (connection.tenant.timezone, *params))
        rows = cursor.fetchall()
    return {
        month: FollowUpFigures(eligible=n, attempted=attempted, followed_up=reached, lost=lost)
        for month, n, attempted, reached, lost in rows
    }


_SATISFACTION_COUNTS = {
    "responses": Count("id"),
    "rated": Count("id", filter=~Q(satisfaction="")),
    "satisfied": Count("id", filter=Q(satisfaction="satisfied")),
    "neutral": Count("id", filter=Q(satisfaction="neutral")),
    "dissatisfied": Count("id", filter=Q(satisfaction="dissatisfied")),
    "nps_answers": Count("id", filter=Q(nps__isnull=False)),
    "promoters": Count("id", filter=Q(nps__gte=9)),
    "detractors": Count("id", filter=Q(nps__lte=6)),
}


def _responses(period: Period) -> QuerySet:
    from surveys.models import SurveyResponse

    start, end = period.bounds()
    return SurveyResponse.objects.filter(submitted_at__gte=start, submitted_at__lt=end)


def satisfaction_by_month(period: Period) -> dict[date, SatisfactionFigures]:
    """Responses and their ratings per local month of submission (without dimensions)."""
    rows = (
        _responses(period)
        .annotate(month=_local_month("submitted_at"))
        .values("month")
        .annotate(**_SATISFACTION_COUNTS)
    )
    return {
        row.pop("month"): SatisfactionFigures(**row)
        for row in rows  # each row: the month and the counts
    }


def satisfaction_by_department(period: Period) -> dict:
    """Responses and their ratings per department (department id, None for responses
    without one → SatisfactionFigures without dimensions)."""
    rows = _responses(period).values("department").annotate(**_SATISFACTION_COUNTS)
    return {row.pop("department"): SatisfactionFigures(**row) for row in rows}


def complaints_by_month(period: Period) -> dict[date, ComplaintFigures]:
    """Complaints received per local month of receipt, and due / replied on time per local
    month of their deadline (without breakdowns or the median)."""
    start, end = period.bounds()
    complaints = Complaint.objects.filter(kind=Complaint.Kind.COMPLAINT)
    figures: dict[date, ComplaintFigures] = {}
    received = (
        complaints.filter(created_at__gte=start, created_at__lt=end)
        .annotate(month=_local_month("created_at"))
        .values("month")
        .annotate(n=Count("id"))
    )
    for row in received:
        figures.setdefault(row["month"], ComplaintFigures()).received = row["n"]
    due = (
        complaints.filter(deadline__gte=start, deadline__lt=end)
        .annotate(month=_local_month("deadline"))
        .values("month")
        .annotate(
            n=Count("id"),
            on_time=Count("id", filter=Q(replied_at__isnull=False, replied_at__lte=F("deadline"))),
        )
    )
    for row in due:
        month = figures.setdefault(row["month"], ComplaintFigures())
        month.due, month.replied_on_time = row["n"], row["on_time"]
    return figures


def complaints_by_department(period: Period) -> dict:
    """Complaints received per department id (None: without one)."""
    start, end = period.bounds()
    rows = (
        Complaint.objects.filter(
            kind=Complaint.Kind.COMPLAINT, created_at__gte=start, created_at__lt=end
        )
        .values("department")
        .annotate(n=Count("id"))
    )
    return {row["department"]: row["n"] for row in rows}

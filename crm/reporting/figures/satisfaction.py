"""Satisfaction figures (DESIGN.md §7): the responses submitted in a period, their
satisfied / neutral / dissatisfied shares, NPS, and the 0–100 score per dimension."""

from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Count, F, IntegerField, Q, Value

from surveys.models import SurveyAnswer, SurveyResponse

from ..period import EVERYTHING, Period, Scope, month_of, rate


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


def satisfaction_by(
    period: Period, group_by: str | None, scope: Scope = EVERYTHING, *, dimensions: bool = True
) -> dict:
    """SatisfactionFigures of the responses submitted in the period, per group: department
    (the encounter's), agent (who recorded the answers on a call; none for self-filled),
    rule or tier (of the follow-up that asked), month; {None: figures} when not grouped.
    Without `dimensions`, the per-dimension scores are left out (a trend needs only rates)."""
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
        "month": month_of("submitted_at"),
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
        "month": month_of("response__submitted_at"),
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


def satisfaction_figures(period: Period, *, department=None, scope: Scope = EVERYTHING):
    if department is not None:
        scope = replace(scope, department=getattr(department, "pk", department))
    return satisfaction_by(period, None, scope)[None]

"""Complaint and praise figures (DESIGN.md §7): complaints received in a period by category
and department, replied on time among those due in it, the median time to reply; praise per
staff member and department. Kept per department: an agent, rule or tier has none."""

from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_UP, Decimal
from statistics import median

from django.db.models import Count, F, IntegerField, Q, Value

from ...models import Complaint, Praise
from ..period import EVERYTHING, Period, Scope, month_of, rate


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
    received_key = {"department": F("department_id"), "month": month_of("created_at")}.get(
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
    due_key = {"department": F("department_id"), "month": month_of("deadline")}.get(
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

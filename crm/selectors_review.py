"""Reads of the department's monthly loop (issue 19 §4): who signed which department's
register, leadership's comments, the corrective actions of the month and of the month
before (the next month's report lists them), and the departments below a target."""

from dataclasses import dataclass, field
from datetime import date, timedelta

from django.db.models import Q
from django.utils.translation import gettext as _

from saas import clock

from .models import CorrectiveAction, Department, KpiTarget, RegisterSignOff, ReportComment
from .reporting.period import month_period
from .reporting.report import Report, report_build


def month_first(day: date) -> date:
    return day.replace(day=1)


def previous_month(first: date) -> date:
    return (first - timedelta(days=1)).replace(day=1)


def month_ended(first: date, *, today: date | None = None) -> bool:
    """Whether the clinic's day is past the month's last day: a register is reviewed, and a
    report commented on, once its month is over."""
    today = today or clock.today()
    return month_period(first).end < today


def register_figures(row: dict | None) -> dict:
    """What a sign-off keeps of a department's register (its report row)."""
    if row is None:
        return {"eligible": 0, "followed_up": 0}
    return {"eligible": row["figures"].eligible, "followed_up": row["figures"].followed_up}


def missed_targets(row: dict | None) -> dict:
    """metric → {"value", "target"} of the department figures that missed their target."""
    if row is None:
        return {}
    values = {
        CorrectiveAction.METRICS[0]: row["figures"].follow_up_rate,
        CorrectiveAction.METRICS[1]: row["satisfaction"].satisfaction_rate,
    }
    return {
        metric: {"value": values[metric], "target": held["target"]}
        for metric, held in row["targets"].items()
        if metric in values and held["missed"]
    }


def department_row(report: Report, department_id: int) -> dict | None:
    return next((row for row in report.departments if row["pk"] == department_id), None)


def department_month(first: date, department_id: int) -> dict | None:
    """The department's row of the month's report (None: nothing counted for it)."""
    return department_row(report_build(month_period(first)), department_id)


def departments_to_sign(user) -> list[Department]:
    """The active departments whose register this user may sign: those they work in."""
    return list(
        Department.objects.filter(active=True, staff__user=user).distinct().order_by("name")
    )


def department_supervised(user, department_id: int) -> bool:
    return Department.objects.filter(pk=department_id, staff__user=user).exists()


@dataclass
class DepartmentReview:
    department: Department
    sign_offs: list  # RegisterSignOff, by role
    figures: dict  # the register now (register_figures)
    missed: dict  # missed_targets
    changed: bool = False  # signed, and the register changed since

    @property
    def complete(self) -> bool:
        return len(self.sign_offs) == len(RegisterSignOff.Role.values)

    @property
    def signatures(self) -> list:
        """(role, its label, the sign-off or None) for each role, head first."""
        by_role = {sign_off.role: sign_off for sign_off in self.sign_offs}
        return [(role, label, by_role.get(role)) for role, label in RegisterSignOff.Role.choices]

    @property
    def missed_list(self) -> list:
        return [
            {"metric": metric, "label": KpiTarget.Metric(metric).label, **values}
            for metric, values in self.missed.items()
        ]


@dataclass
class MonthReview:
    first: date
    departments: list = field(default_factory=list)  # DepartmentReview, by name
    comments: list = field(default_factory=list)
    actions: list = field(default_factory=list)  # recorded for this month
    previous_actions: list = field(default_factory=list)  # of the month before
    ended: bool = False

    @property
    def below(self) -> list:
        return [row for row in self.departments if row.missed]

    @property
    def action_lists(self) -> list:
        """(title, actions, element id): this month's, then those of the month before."""
        return [
            (_("Corrective actions of this month"), self.actions, "review-actions"),
            (
                _("Corrective actions of the previous month"),
                self.previous_actions,
                "review-previous-actions",
            ),
        ]


def review_build(report: Report) -> MonthReview:
    """The month's loop beside the report of that month (the whole clinic's)."""
    first = report.period.start
    sign_offs: dict[int, list] = {}
    for sign_off in RegisterSignOff.objects.filter(month=first).select_related("signed_by"):
        sign_offs.setdefault(sign_off.department_id, []).append(sign_off)
    rows = {row["pk"]: row for row in report.departments if row["pk"] is not None}
    departments = Department.objects.filter(
        Q(active=True) | Q(pk__in=sign_offs.keys()) | Q(pk__in=rows.keys())
    ).order_by("name")
    reviews = []
    for department in departments:
        figures = register_figures(rows.get(department.pk))
        signed = sign_offs.get(department.pk, [])
        reviews.append(
            DepartmentReview(
                department=department,
                sign_offs=signed,
                figures=figures,
                missed=missed_targets(rows.get(department.pk)),
                changed=any(sign_off.figures != figures for sign_off in signed),
            )
        )
    actions = CorrectiveAction.objects.select_related("department", "recorded_by", "closed_by")
    return MonthReview(
        first=first,
        departments=reviews,
        comments=list(ReportComment.objects.filter(month=first).select_related("author")),
        actions=list(actions.filter(month=first)),
        previous_actions=list(actions.filter(month=previous_month(first))),
        ended=month_ended(first),
    )

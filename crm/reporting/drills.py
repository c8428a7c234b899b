"""The lists behind the report's and the dashboard's figures (drill-down): for each figure the
encounters, survey responses or complaints it counted, read with the very querysets of
crm.reporting.figures, so that a list holds exactly as many rows as the figure it is opened
from.

A drill is named in the query string by codes and ids only (figure, month, department,
category, satisfaction, on_time): never anything personal."""

from dataclasses import dataclass
from datetime import date

from django.db.models import Case, Exists, F, OuterRef, QuerySet, Subquery, Value, When
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from saas import clock
from surveys.models import SurveyResponse

from ..models import (
    CallAttempt,
    Complaint,
    Department,
    Encounter,
    EncounterKpi,
    FollowUpTask,
)
from . import summary
from .figures.followup import NO_CONTACT, UNREACHABLE_KEYS, unreachable_labels
from .period import Period, month_period

ENCOUNTER_FIGURES = {
    "eligible": gettext_lazy("Eligible encounters"),
    "attempted": gettext_lazy("Attempted"),
    "followed_up": gettext_lazy("Followed up"),
    "not_followed_up": gettext_lazy("Not followed up"),
    "lost": gettext_lazy("Lost to follow-up"),
}
RESPONSE_FIGURES = {"responses": gettext_lazy("Survey responses")}
COMPLAINT_FIGURES = {
    "complaints": gettext_lazy("Complaints received"),
    "complaints_due": gettext_lazy("Complaints due"),
    "complaints_overdue": gettext_lazy("Overdue complaints"),
}
FIGURES = ENCOUNTER_FIGURES | RESPONSE_FIGURES | COMPLAINT_FIGURES
SATISFACTION = ("satisfied", "neutral", "dissatisfied", "rated")


class DrillError(ValueError):
    """A drill-down asked for in a way that names no list (the message says why)."""


@dataclass(frozen=True)
class Drill:
    figure: str
    first: date  # the month's first day
    department: Department | None = None
    category: str = ""  # not followed up: the last attempt's category; complaints: theirs
    satisfaction: str = ""
    on_time: bool | None = None

    @property
    def period(self) -> Period:
        return month_period(self.first)

    @property
    def kind(self) -> str:
        if self.figure in ENCOUNTER_FIGURES:
            return "encounters"
        if self.figure in RESPONSE_FIGURES:
            return "responses"
        return "complaints"

    def query(self) -> dict:
        """The query string naming this drill (codes and ids only)."""
        params = {"figure": self.figure, "month": self.first.strftime("%Y-%m")}
        if self.department is not None:
            params["department"] = self.department.pk
        if self.category:
            params["category"] = self.category
        if self.satisfaction:
            params["satisfaction"] = self.satisfaction
        if self.on_time is not None:
            params["on_time"] = int(self.on_time)
        return params

    def title(self) -> str:
        parts = [str(FIGURES[self.figure])]
        if self.category:
            labels = (
                dict(Complaint.Category.choices)
                if self.kind == "complaints"
                else unreachable_labels()
            )
            parts.append(str(labels[self.category]))
        if self.satisfaction:
            parts.append(str(dict(satisfaction_labels())[self.satisfaction]))
        if self.on_time is not None:
            parts.append(_("replied on time") if self.on_time else _("not replied on time"))
        if self.department is not None:
            parts.append(self.department.name)
        return " · ".join(parts)


def satisfaction_labels() -> list[tuple[str, str]]:
    return [
        ("satisfied", _("Satisfied")),
        ("neutral", _("Neutral")),
        ("dissatisfied", _("Dissatisfied")),
        ("rated", _("With a rating")),
    ]


def drill_parse(params, *, default_first: date) -> Drill:
    """The drill named by a query string; DrillError with a message for anything else."""
    figure = params.get("figure", "")
    if figure not in FIGURES:
        raise DrillError(_("Unknown figure: choose a number on the report or the dashboard."))
    first = default_first
    if params.get("month"):
        try:
            year, month = (int(part) for part in params["month"].split("-"))
            first = date(year, month, 1)
        except ValueError:
            raise DrillError(_("The month must be written YYYY-MM.")) from None
    department = None
    if params.get("department"):
        if not params["department"].isdigit():
            raise DrillError(_("Unknown department."))
        department = Department.objects.filter(pk=int(params["department"])).first()
        if department is None:
            raise DrillError(_("Unknown department."))
    category = params.get("category", "")
    if category:
        allowed = (
            Complaint.Category.values
            if figure == "complaints"
            else UNREACHABLE_KEYS
            if figure == "not_followed_up"
            else []
        )
        if category not in allowed:
            raise DrillError(_("Unknown category for this figure."))
    satisfaction = params.get("satisfaction", "")
    if satisfaction and (figure != "responses" or satisfaction not in SATISFACTION):
        raise DrillError(_("Unknown satisfaction level."))
    on_time = None
    if params.get("on_time", "") != "":
        if figure != "complaints_due" or params["on_time"] not in ("0", "1"):
            raise DrillError(_("On time is 1 or 0, for complaints due only."))
        on_time = params["on_time"] == "1"
    return Drill(figure, first, department, category, satisfaction, on_time)


def _attempts() -> QuerySet:
    """The attempts of an encounter, over all its follow-ups, as the unreachable breakdown
    reads them."""
    return CallAttempt.objects.filter(task__encounter=OuterRef("pk"), task__spot_check_of=None)


def _last_attempt_category() -> Coalesce:
    """The last attempt's category; without one, "no_contact" when a follow-up was closed for
    want of a number or address (as crm.reporting.summary counts it), else ""."""
    no_contact = FollowUpTask.objects.filter(
        encounter=OuterRef("pk"), spot_check_of=None, reason=FollowUpTask.Reason.NO_CONTACT
    )
    return Coalesce(
        Subquery(_attempts().order_by("-started_at", "-id").values("category")[:1]),
        Case(When(Exists(no_contact), then=Value(NO_CONTACT)), default=Value("")),
    )


def drill_rows(drill: Drill) -> QuerySet:
    """The rows behind the figure, oldest first (complaints: by deadline when due)."""
    period = drill.period
    if drill.kind == "encounters":
        # Which encounters: from the KPI summary, so a list holds exactly the encounters its
        # figure counted (crm.reporting.figures.followup reads the same rows).
        start, end = period.bounds()
        summary.refresh()
        facts = EncounterKpi.objects.filter(occurred_at__gte=start, occurred_at__lt=end)
        if drill.department is not None:
            facts = facts.filter(department_id=drill.department.pk)
        if drill.figure == "attempted":
            facts = facts.filter(attempted=True)
        elif drill.figure == "followed_up":
            facts = facts.filter(reached=True)
        elif drill.figure == "lost":
            facts = facts.filter(lost=True)
        elif drill.figure == "not_followed_up":
            facts = facts.filter(reached=False)
            if drill.category:
                facts = facts.filter(last_category=drill.category)
        encounters = Encounter.objects.filter(pk__in=facts.values("encounter_id")).annotate(
            last_category=_last_attempt_category()
        )
        return encounters.select_related("contact", "department").order_by("occurred_at", "id")

    start, end = period.bounds()
    if drill.kind == "responses":
        responses = SurveyResponse.objects.filter(submitted_at__gte=start, submitted_at__lt=end)
        if drill.department is not None:
            responses = responses.filter(department=drill.department)
        if drill.satisfaction == "rated":
            responses = responses.exclude(satisfaction="")
        elif drill.satisfaction:
            responses = responses.filter(satisfaction=drill.satisfaction)
        return responses.select_related("contact", "department", "template").order_by(
            "submitted_at", "id"
        )

    complaints = Complaint.objects.filter(kind=Complaint.Kind.COMPLAINT)
    if drill.department is not None:
        complaints = complaints.filter(department=drill.department)
    if drill.figure == "complaints":
        complaints = complaints.filter(created_at__gte=start, created_at__lt=end)
        if drill.category:
            complaints = complaints.filter(category=drill.category)
        order = ("created_at", "id")
    elif drill.figure == "complaints_due":
        complaints = complaints.filter(deadline__gte=start, deadline__lt=end)
        on_time = {"replied_at__isnull": False, "replied_at__lte": F("deadline")}
        if drill.on_time is True:
            complaints = complaints.filter(**on_time)
        elif drill.on_time is False:
            complaints = complaints.exclude(**on_time)
        order = ("deadline", "id")
    else:  # overdue now, whatever the month
        complaints = complaints.filter(status__in=Complaint.UNANSWERED, deadline__lte=clock.now())
        order = ("deadline", "id")
    return complaints.select_related("contact", "department").order_by(*order)


def encounter_followups(encounter_ids: list[int]) -> dict[int, list[FollowUpTask]]:
    """The follow-ups that count of each encounter (one query for a page of rows)."""
    tasks: dict[int, list[FollowUpTask]] = {}
    for task in (
        FollowUpTask.objects.filter(encounter_id__in=encounter_ids, spot_check_of__isnull=True)
        .exclude(status=FollowUpTask.Status.EXCLUDED)
        .only("id", "encounter_id", "name", "status", "last_outcome", "sequence")
        .order_by("sequence", "id")
    ):
        tasks.setdefault(task.encounter_id, []).append(task)
    return tasks


def overdue_complaints_count() -> int:
    return drill_rows(Drill("complaints_overdue", clock.today().replace(day=1))).count()

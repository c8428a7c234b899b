"""What the monthly report's files share: the labels and lines laid out from one
crm.reporting.report.Report (the report page's own words, so a figure reads the same on the
page and in either file), the file name, and the audit row of a download (DESIGN.md §9: every
export is audit-logged)."""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.utils.translation import gettext as _

from surveys.models import Dimension

from ...models import AuditEntry, Complaint, KpiTarget
from ...services.audit import audit_record
from ...vocabulary import clinic_vocabulary
from ..report import Report

DASH = "—"


def definitions() -> str:
    """The footnote of the report page, word for word: the same msgid, so both languages read
    the same definitions wherever the report is shown."""
    return _(
        "Eligible: encounters of the month matched by a rule and not excluded. Coverage rate: "
        "eligible encounters with at least one attempt / eligible. Follow-up rate: eligible "
        "encounters with a completed follow-up / eligible. Loss rate: eligible encounters "
        "whose every follow-up ended unreachable / eligible. Timeliness: completed follow-ups "
        "reached inside their window / completed follow-ups. Satisfaction rate: satisfied "
        "responses / responses with a rating, submitted in the month. Replied on time: "
        "complaints due in the month replied by their deadline / complaints due. Rates are "
        "computed from the counts shown."
    )


def denominator_note() -> str:
    """How the follow-up rate changed when missing numbers stopped being exclusions (issue
    19): the same msgid as the report page, so a reader comparing with an older report knows
    why the rate fell."""
    return _(
        "An encounter without a usable phone number or email address counts as eligible and "
        "not followed up (reason: no contact information). Earlier reports excluded it, so "
        "for the same month they showed fewer eligible encounters and a higher follow-up rate."
    )


def title(report: Report) -> str:
    return _("Follow-up report · %(month)s") % {"month": report.period.start.strftime("%Y-%m")}


@dataclass
class Line:
    """One headline figure as the page shows it: its count out of a denominator, the rate
    computed from them, and the target it is held to (by KpiTarget metric). A rate is a
    percentage, or points (NPS, hours) when `points`; `has_rate` is off for plain counts."""

    label: str
    count: int | None = None
    of: int | None = None
    rate: Decimal | None = None
    metric: str = ""
    has_rate: bool = True
    points: bool = False


def headline_lines(report: Report) -> list[Line]:
    figures, survey = report.figures, report.satisfaction
    complaints, spot = report.complaints, report.spot_checks
    metric = KpiTarget.Metric
    # As on the report page: a service business leaves out these hospital figures while 0.
    hides_zero = clinic_vocabulary().hides_zero_hospital_figures
    hospital_lines = [
        Line(label, count, has_rate=False)
        for label, count in (
            (_("Transferred elsewhere"), figures.transferred),
            (_("Readmitted"), figures.readmitted),
        )
        if count or not hides_zero
    ]
    return [
        Line(_("Eligible encounters"), figures.eligible, has_rate=False),
        Line(
            _("Attempted") + " · " + _("coverage rate"),
            figures.attempted,
            figures.eligible,
            figures.coverage_rate,
        ),
        Line(
            _("Followed up") + " · " + _("follow-up rate"),
            figures.followed_up,
            figures.eligible,
            figures.follow_up_rate,
            metric.FOLLOW_UP_RATE,
        ),
        Line(
            _("Lost to follow-up") + " · " + _("loss rate"),
            figures.lost,
            figures.eligible,
            figures.loss_rate,
        ),
        Line(
            _("Timeliness"),
            figures.completed_in_window,
            figures.completed_tasks,
            figures.timeliness,
            metric.TIMELINESS,
        ),
        Line(
            _("Satisfaction rate"),
            survey.satisfied,
            survey.rated,
            survey.satisfaction_rate,
            metric.SATISFACTION_RATE,
        ),
        Line(_("neutral"), survey.neutral, survey.rated, survey.neutral_share),
        Line(_("dissatisfied"), survey.dissatisfied, survey.rated, survey.dissatisfied_share),
        Line("NPS", None, survey.nps_answers, survey.nps, metric.NPS, points=True),
        Line(_("Complaints received"), complaints.received, has_rate=False),
        Line(
            _("Replied on time"),
            complaints.replied_on_time,
            complaints.due,
            complaints.on_time_rate,
            metric.COMPLAINTS_ON_TIME,
        ),
        Line(_("Median time to reply (hours)"), rate=complaints.median_hours_to_reply, points=True),
        Line(
            _("Spot-check agreement"),
            spot["agree"],
            spot["audits"],
            spot["rate"],
            metric.SPOT_CHECK_AGREEMENT,
        ),
        *hospital_lines,
    ]


def dimension_rows(report: Report) -> list[tuple[str, dict]]:
    labels = dict(Dimension.choices)
    order = list(labels)
    dimensions = report.satisfaction.dimensions
    return [
        (str(labels.get(key, key)), dimensions[key])
        for key in sorted(dimensions, key=lambda key: order.index(key) if key in order else 99)
    ]


def complaint_categories(report: Report) -> list[tuple[str, int]]:
    labels = dict(Complaint.Category.choices)
    return sorted(
        (
            (str(labels.get(key, key or DASH)), n)
            for key, n in report.complaints.by_category.items()
        ),
        key=lambda item: (-item[1], item[0]),
    )


def complaint_departments(report: Report) -> list[tuple[str, int]]:
    return sorted(
        ((name or DASH, n) for name, n in report.complaints.by_department.items()),
        key=lambda item: (-item[1], item[0]),
    )


def filename(report: Report, extension: str) -> str:
    return f"followup-report-{report.period.start:%Y-%m}.{extension}"


def report_exported(user, *, fmt: str, first: date) -> AuditEntry:
    """Records who downloaded which month's report in which format ("xlsx:2026-11")."""
    return audit_record(user, AuditEntry.Action.REPORT_EXPORTED, obj=f"{fmt}:{first:%Y-%m}")

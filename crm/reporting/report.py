"""The follow-up report of a period, assembled from the figures of crm.reporting.figures
(DESIGN.md §7) with the targets they are held to. The report page, the dashboard and the
exports all show this one assembly, so a figure reads the same wherever it is downloaded."""

from dataclasses import dataclass, field, replace

from django.contrib.auth import get_user_model
from django.utils.translation import gettext as _

from .. import selectors_kinds
from ..models import Department, FollowUpRule, KpiTarget
from .figures.feedback import (
    COMPLAINT_GROUPS,
    ComplaintFigures,
    complaint_by,
    complaint_figures,
    praise_figures,
)
from .figures.followup import (
    FollowUpFigures,
    follow_up_by,
    follow_up_by_department,
    pre_notice_figures,
    unreachable_labels,
)
from .figures.satisfaction import SatisfactionFigures, satisfaction_by
from .figures.spot_checks import spot_check_figures
from .period import EVERYTHING, Period, Scope, total
from .targets import targets_all, targets_check


@dataclass
class Report:
    period: Period
    figures: FollowUpFigures
    unreachable: list  # (category, label, encounters), most first
    satisfaction: SatisfactionFigures
    complaints: ComplaintFigures
    spot_checks: dict
    departments: list  # {"pk", "name", "figures", "satisfaction", "targets"}, lowest rate first
    targets: dict
    praise: dict  # "by_staff" / "by_department": [(name, mentions)], most first
    scope: Scope = EVERYTHING
    # Every department's responses, also of departments without an eligible encounter.
    satisfaction_by_department: dict = field(default_factory=dict)
    # "Hung up, suspected fraud" with and without the SMS before the first call.
    pre_notice: dict = field(default_factory=dict)
    # Per kind of patient, each against its own target: {"kind", "department", "label",
    # "figures", "targets"}; the kinds of the scope, then a department's kind with a target.
    kinds: list = field(default_factory=list)

    def ranking(self, size: int = 3) -> dict:
        """The departments with the lowest and the highest follow-up rate and satisfaction
        rate (those with nothing counted are left out)."""

        def ranked(rate_of) -> dict:
            rows = sorted(
                (row for row in self.departments if rate_of(row) is not None), key=rate_of
            )
            return {"lowest": rows[:size], "highest": rows[::-1][:size]}

        return {
            "follow_up": ranked(lambda row: row["figures"].follow_up_rate),
            "satisfaction": ranked(lambda row: row["satisfaction"].satisfaction_rate),
        }

    def headline(self) -> dict:
        """The figures that have targets, by KpiTarget metric."""
        return {
            KpiTarget.Metric.FOLLOW_UP_RATE: self.figures.follow_up_rate,
            KpiTarget.Metric.TIMELINESS: self.figures.timeliness,
            KpiTarget.Metric.SATISFACTION_RATE: self.satisfaction.satisfaction_rate,
            KpiTarget.Metric.NPS: self.satisfaction.nps,
            KpiTarget.Metric.COMPLAINTS_ON_TIME: self.complaints.on_time_rate,
            KpiTarget.Metric.SPOT_CHECK_AGREEMENT: self.spot_checks["rate"],
        }


def report_build(period: Period, scope: Scope = EVERYTHING) -> Report:
    names = dict(Department.objects.values_list("pk", "name"))
    targets = targets_all()
    satisfaction = satisfaction_by(period, "department", scope)

    def department_row(pk, figures: FollowUpFigures) -> dict:
        rated = satisfaction.get(pk, SatisfactionFigures())
        values = {
            KpiTarget.Metric.FOLLOW_UP_RATE: figures.follow_up_rate,
            KpiTarget.Metric.SATISFACTION_RATE: rated.satisfaction_rate,
        }
        return {
            "pk": pk,
            "name": names.get(pk, "—"),
            "figures": figures,
            "satisfaction": rated,
            "targets": targets_check(values, department=pk, targets=targets),
        }

    by_department = follow_up_by_department(period, scope)
    departments = sorted(
        (department_row(pk, figures) for pk, figures in by_department.items()),
        # Lowest follow-up rate first: where to look.
        key=lambda row: (row["figures"].follow_up_rate is None, row["figures"].follow_up_rate),
    )
    # Every department (and "none") together is the whole: add up, don't count twice.
    figures = total(by_department, FollowUpFigures)
    # Complaints and praise are kept per department: an agent, rule or tier scope shows none.
    praise = {"by_staff": {}, "by_department": {}}
    if not scope.narrowed:
        praise = praise_figures(period, scope)
    staff_names = group_labels("agent", praise["by_staff"])
    report = Report(
        period=period,
        figures=figures,
        unreachable=unreachable_labelled(figures),
        satisfaction=total(satisfaction, SatisfactionFigures),
        complaints=(
            ComplaintFigures() if scope.narrowed else complaint_figures(period, scope=scope)
        ),
        spot_checks=spot_check_figures(period, scope),
        departments=departments,
        targets={},
        praise={
            "by_staff": _most_first(praise["by_staff"], staff_names),
            "by_department": _most_first(praise["by_department"], names),
        },
        scope=scope,
        satisfaction_by_department=satisfaction,
        pre_notice=pre_notice_figures(period, scope),
    )
    report.targets = targets_check(report.headline(), department=scope.department, targets=targets)
    report.kinds = kinds_build(period, scope, targets=targets, names=names)
    return report


def kinds_build(period: Period, scope: Scope, *, targets: dict, names: dict) -> list:
    """The follow-up figures per kind of patient against the kind's own target (issue 19:
    inpatients ≥ 80 %, outpatient surgery ≥ 50 %). In the whole clinic's report a department
    whose kind has a target of its own gets a row of its own too."""
    kind_labels = selectors_kinds.kind_labels()

    def row(kind: str, department, figures: FollowUpFigures) -> dict:
        values = {
            KpiTarget.Metric.FOLLOW_UP_RATE: figures.follow_up_rate,
            KpiTarget.Metric.TIMELINESS: figures.timeliness,
        }
        label = str(kind_labels.get(kind, kind))
        return {
            "kind": kind,
            "department": department,
            "label": label if department is None else f"{names.get(department, '—')} · {label}",
            "figures": figures,
            "targets": targets_check(
                values, department=department or scope.department, kind=kind, targets=targets
            ),
        }

    by_kind = follow_up_by(period, "kind", scope)
    rows = sorted(
        (row(kind, None, figures) for kind, figures in by_kind.items() if kind),
        key=lambda item: item["label"],
    )
    if scope.department is None:
        own = sorted(
            {(dep, kind) for (_metric, dep, kind) in targets if dep is not None and kind},
            key=lambda key: (names.get(key[0], ""), key[1]),
        )
        figures_of = {
            dep: follow_up_by(period, "kind", replace(scope, department=dep))
            for dep in {dep for dep, _kind in own}
        }
        rows += [row(kind, dep, figures_of[dep].get(kind, FollowUpFigures())) for dep, kind in own]
    return rows


def unreachable_labelled(figures: FollowUpFigures) -> list:
    """The unreachable breakdown as (category, label, encounters), most first."""
    labels = unreachable_labels()
    return sorted(
        ((key, labels.get(key, key), count) for key, count in figures.unreachable.items()),
        key=lambda item: -item[2],
    )


def _most_first(counts: dict, names: dict) -> list:
    return sorted(((names.get(key, "—"), n) for key, n in counts.items()), key=lambda i: -i[1])


# --- Grouped: the same figures per department, agent, rule, tier or month -------------------


@dataclass
class Group:
    key: object  # department / agent / rule id, tier, first day of the month; None: none
    label: str
    follow_up: FollowUpFigures
    satisfaction: SatisfactionFigures
    complaints: ComplaintFigures | None  # None: complaints are not kept per this grouping


def group_labels(group_by: str, keys) -> dict:
    """What each group is called on a page or in the API (staff and rule names, not patient
    data)."""
    ids = [key for key in keys if key is not None]
    if group_by == "department":
        labels = dict(Department.objects.filter(pk__in=ids).values_list("pk", "name"))
    elif group_by == "rule":
        labels = dict(FollowUpRule.objects.filter(pk__in=ids).values_list("pk", "name"))
    elif group_by == "agent":
        labels = {
            user.pk: user.get_full_name() or user.email
            for user in get_user_model().objects.filter(pk__in=ids)
        }
    elif group_by == "tier":
        labels = {tier: _("Tier %(tier)s") % {"tier": tier} for tier in ids}
    else:
        labels = {month: f"{month:%Y-%m}" for month in ids}
    return {key: labels.get(key, "—") for key in keys}


def groups_build(period: Period, group_by: str, scope: Scope = EVERYTHING) -> list:
    """One Group per key that has any figure, in label order (months in time order)."""
    follow_up = follow_up_by(period, group_by, scope)
    satisfaction = satisfaction_by(period, group_by, scope)
    complaints = complaint_by(period, group_by, scope) if group_by in COMPLAINT_GROUPS else None
    keys = set(follow_up) | set(satisfaction) | set(complaints or ())
    labels = group_labels(group_by, keys)
    return sorted(
        (
            Group(
                key=key,
                label=labels[key],
                follow_up=follow_up.get(key, FollowUpFigures()),
                satisfaction=satisfaction.get(key, SatisfactionFigures()),
                complaints=(
                    None if complaints is None else complaints.get(key, ComplaintFigures())
                ),
            )
            for key in keys
        ),
        key=lambda group: (group.key is None, group.label),
    )

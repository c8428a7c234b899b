"""The KPI targets a clinic holds itself to (DESIGN.md §7), set and read: one per figure for
the whole clinic, and optionally a department's own, which then replaces the clinic's for it;
the encounter-based figures also per kind of patient (issue 19: inpatients ≥ 80 %, outpatient
surgery ≥ 50 %), for the clinic or a department. A report draws each figure beside the target
that holds for it (`targets_check`)."""

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from ..models import KpiTarget
from ..selectors_kinds import kind_labels

TargetKey = tuple[str, int | None, str]  # metric, department id or None, kind or ""


def _key_error(metric: str, kind: str, kinds: dict[str, str]) -> str | None:
    if metric not in KpiTarget.Metric.values:
        return _("Unknown figure: %(metric)s.") % {"metric": metric}
    if kind and kind not in kinds:
        return _("Unknown kind of patient: %(kind)s.") % {"kind": kind}
    if kind and metric not in KpiTarget.KIND_METRICS:
        return _("Only the follow-up rate and timeliness can have a target per kind of patient.")
    return None


@transaction.atomic
def kpi_targets_save(*, values: dict[TargetKey, Decimal | None]) -> None:
    """`values`: (metric, department id or None, kind or "") → target, None to remove it.
    Every key is checked before anything is written, so a bad one changes nothing."""
    kinds = kind_labels()
    errors = [error for metric, _d, kind in values if (error := _key_error(metric, kind, kinds))]
    if errors:
        raise ValidationError(errors)
    for (metric, department, kind), target in values.items():
        if target is None:
            KpiTarget.objects.filter(
                metric=metric, department=department, encounter_kind=kind
            ).delete()
        else:
            KpiTarget.objects.update_or_create(
                metric=metric,
                department_id=department,
                encounter_kind=kind,
                defaults={"target": target},
            )


def targets_all() -> dict:
    """(metric, department id or None, encounter kind or "") → target."""
    return {
        (target.metric, target.department_id, target.encounter_kind): target.target
        for target in KpiTarget.objects.all()
    }


def targets_check(
    values: dict, *, department=None, kind: str = "", targets: dict | None = None
) -> dict:
    """Each target with whether the figure missed it; a figure that is None (nothing counted)
    has not missed. The most specific target holds: the department's own for the kind, else
    the clinic's for the kind, else the department's, else the clinic's."""
    targets = targets_all() if targets is None else targets
    levels = [(None, "")]
    if department is not None:
        levels.append((department, ""))
    if kind:
        levels.append((None, kind))
        if department is not None:
            levels.append((department, kind))
    held = {}
    for level in levels:
        held |= {
            metric: value for (metric, *scope), value in targets.items() if tuple(scope) == level
        }
    return {
        metric: {
            "target": target,
            "missed": values.get(metric) is not None and values[metric] < target,
        }
        for metric, target in held.items()
    }

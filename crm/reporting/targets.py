"""Setting the KPI targets a clinic holds itself to (DESIGN.md §7): one per figure for the
whole clinic, and optionally a department's own, which then replaces the clinic's for it; the
encounter-based figures also per kind of patient (issue 19: inpatients ≥ 80 %, outpatient
surgery ≥ 50 %), for the clinic or a department."""

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from ..models import Encounter, KpiTarget

TargetKey = tuple[str, int | None, str]  # metric, department id or None, kind or ""


def _key_error(metric: str, kind: str) -> str | None:
    if metric not in KpiTarget.Metric.values:
        return _("Unknown figure: %(metric)s.") % {"metric": metric}
    if kind and kind not in Encounter.Kind.values:
        return _("Unknown kind of patient: %(kind)s.") % {"kind": kind}
    if kind and metric not in KpiTarget.KIND_METRICS:
        return _("Only the follow-up rate and timeliness can have a target per kind of patient.")
    return None


@transaction.atomic
def kpi_targets_save(*, values: dict[TargetKey, Decimal | None]) -> None:
    """`values`: (metric, department id or None, kind or "") → target, None to remove it.
    Every key is checked before anything is written, so a bad one changes nothing."""
    errors = [error for metric, _d, kind in values if (error := _key_error(metric, kind))]
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

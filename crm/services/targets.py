"""Setting the KPI targets a clinic holds itself to (DESIGN.md §7): one per figure for the
whole clinic, and optionally a department's own, which then replaces the clinic's for it."""

from decimal import Decimal

from django.db import transaction

from ..models import KpiTarget


@transaction.atomic
def kpi_targets_save(values: dict[tuple[str, int | None], Decimal | None]) -> None:
    """`values`: (metric, department id or None) → target, None to remove it. Written
    together: a form that fails validation never reaches here, so nothing is half-saved."""
    for (metric, department), target in values.items():
        if target is None:
            KpiTarget.objects.filter(metric=metric, department=department).delete()
        else:
            KpiTarget.objects.update_or_create(
                metric=metric, department_id=department, defaults={"target": target}
            )

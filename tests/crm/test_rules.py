"""Rule editing as a service (crm.services.rules), called with plain values, no form."""

import pytest

from crm.models import Department, FollowUpRule
from crm.services.rules import RuleValues, StepValues, rule_save


@pytest.fixture
def alpha(tenant_a, in_tenant):
    with in_tenant(tenant_a):
        yield tenant_a


def _steps(rule: FollowUpRule) -> list[tuple[str, int, int]]:
    return list(rule.steps.order_by("position").values_list("name", "offset_days", "position"))


def test_rule_save_adds_changes_and_removes_steps_numbered_by_opening_day(alpha):
    """Given a new rule saved with two steps out of order, when one step is changed, one
    removed and one added, then the rule keeps its id and its steps are numbered by the day
    they open."""
    department = Department.objects.first()
    values = RuleValues(name="骨科术后", match_kinds=["surgery"], department_ids=[department.pk])
    rule = rule_save(
        rule_id=None,
        values=values,
        steps=[
            StepValues(name="Day 7", offset_days=7, due_days=9),
            StepValues(name="Day 1", offset_days=1, due_days=2),
        ],
    )
    day_7, day_1 = rule.steps.order_by("id")
    assert _steps(rule) == [("Day 1", 1, 0), ("Day 7", 7, 1)]

    again = rule_save(
        rule_id=rule.pk,
        values=RuleValues(name="骨科术后 (新)", match_kinds=["surgery"]),
        steps=[
            StepValues(step_id=day_1.pk, name="Day 2", offset_days=2, due_days=3),
            StepValues(name="Day 30", offset_days=30, due_days=30, channel="sms"),
        ],
        removed_step_ids=[day_7.pk],
    )

    rule.refresh_from_db()
    assert (again.pk, rule.name, list(rule.match_departments.all())) == (
        rule.pk,
        "骨科术后 (新)",
        [],
    )
    assert _steps(rule) == [("Day 2", 2, 0), ("Day 30", 30, 1)]
    assert rule.steps.get(name="Day 30").channel == "sms"

"""Editing follow-up rules and outcome codes, and previewing what a rule set would plan."""

from django.db import connection, transaction

from ..calendar import tenant_zone
from ..models import Contact, Encounter, FollowUpRule, RuleStep
from .planning import (
    EncounterFacts,
    PlannedTask,
    round_robin_agents,
    rules_for_planning,
    rules_plan,
)


def _windows(step: RuleStep) -> list[tuple[int, int]]:
    """The step's windows as (first day, last day) after the encounter, every occurrence."""
    every = step.repeat_every_days or 0
    return [
        (step.offset_days + i * every, step.due_days + i * every) for i in range(step.occurrences)
    ]


def steps_overlap(steps: list[RuleStep]) -> tuple[RuleStep, RuleStep] | None:
    """The first two steps of one rule whose windows share a day, or None: two follow-ups
    of the same rule on the same day would call the patient twice."""
    for i, first in enumerate(steps):
        for second in steps[i + 1 :]:
            for a_start, a_end in _windows(first):
                for b_start, b_end in _windows(second):
                    if a_start <= b_end and b_start <= a_end:
                        return first, second
    return None


@transaction.atomic
def rule_save(form, steps_formset) -> FollowUpRule:
    """Save a rule and its steps together (both already validated). Existing tasks keep
    their plan until the rule is explicitly re-planned."""
    rule = form.save()
    steps_formset.instance = rule
    steps_formset.save()
    for position, step in enumerate(rule.steps.order_by("offset_days", "position", "id")):
        if step.position != position:
            RuleStep.objects.filter(pk=step.pk).update(position=position)
    return rule


def rules_preview(sample: dict, *, has_phone: bool) -> list[PlannedTask]:
    """What the active rule set would create for a sample encounter (nothing is saved)."""
    encounter = Encounter(
        contact=Contact(name="—"),
        kind=sample["kind"],
        occurred_at=sample["occurred_at"],
        department=sample.get("department"),
        diagnosis_code=(sample.get("diagnosis_code") or "").upper(),
        procedure_code=(sample.get("procedure_code") or "").upper(),
        discharge_outcome=sample.get("discharge_outcome") or "",
        tags=sample.get("tags") or [],
        age=sample.get("age"),
    )
    return rules_plan(
        EncounterFacts.of(encounter, has_phone=has_phone),
        rules_for_planning(),
        zone=tenant_zone(connection.tenant),
        agents=round_robin_agents(),
    )

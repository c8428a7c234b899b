"""Editing follow-up rules and outcome codes, and previewing what a rule set would plan."""

from collections.abc import Iterable
from dataclasses import dataclass, field, fields

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils.translation import gettext as _

from ..calendar import tenant_zone
from ..models import Contact, Encounter, FollowUpRule, RuleStep
from ..selectors_kinds import kind_labels
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


@dataclass(frozen=True, kw_only=True)
class RuleValues:
    """What a rule matches and excludes, as the rule editor checked it (crm.forms.RuleForm).
    Empty lists match everything."""

    name: str
    active: bool = True
    position: int = 0
    exclusive: bool = False
    match_kinds: list[str] = field(default_factory=list)
    department_ids: list[int] = field(default_factory=list)
    match_codes: list[str] = field(default_factory=list)
    match_tags: list[str] = field(default_factory=list)
    match_outcomes: list[str] = field(default_factory=list)
    min_age: int | None = None
    max_age: int | None = None
    exclude_outcomes: list[str] = field(default_factory=list)
    exclude_tags: list[str] = field(default_factory=list)
    # [["18:00", "20:30"], …], or None for the clinic's calling hours.
    calling_hours: list[list[str]] | None = None
    # After each matching encounter, or once a contact has had no later one for lapse_days.
    trigger: str = FollowUpRule.Trigger.ENCOUNTER
    lapse_days: int | None = None


@dataclass(frozen=True, kw_only=True)
class StepValues:
    """One step of a rule, as the rule editor checked it (crm.forms.RuleStepFormSet):
    ``step_id`` names the step it changes, None a new step."""

    step_id: int | None = None
    name: str
    offset_days: int
    due_days: int
    grace_days: int = 7
    channel: str = RuleStep.Channel.PHONE
    tier: int = RuleStep.Tier.CENTRE
    assignee_policy: str = RuleStep.Assignee.CENTRE
    team_id: int | None = None  # the department whose queue a "team" step fills
    max_attempts: int = 3
    retry_gap_hours: int = 4
    repeat_every_days: int | None = None
    repeat_limit: int | None = None
    stop_when: str = RuleStep.StopWhen.LIMIT
    pre_notice: bool = False
    survey_id: int | None = None
    script: str = ""
    article_ids: list[int] = field(default_factory=list)
    articles_matching: bool = False


# The columns the values set directly (the rest are many-to-many or the row's id).
_RULE_COLUMNS = [f.name for f in fields(RuleValues) if f.name != "department_ids"]
_STEP_COLUMNS = [f.name for f in fields(StepValues) if f.name not in ("step_id", "article_ids")]


@transaction.atomic
def rule_save(
    *,
    rule_id: int | None,
    values: RuleValues,
    steps: Iterable[StepValues],
    removed_step_ids: Iterable[int] = (),
) -> FollowUpRule:
    """Save a rule (a new one when ``rule_id`` is None) and its steps together: ``steps``
    are added or changed, in their order, and ``removed_step_ids`` deleted; steps named in
    neither stay as they are. The values are already checked. Steps are then numbered by
    the day they open. Existing tasks keep their plan until the rule is explicitly
    re-planned."""
    unknown = set(values.match_kinds) - set(kind_labels())
    if unknown:
        raise ValidationError(
            {
                "match_kinds": _("The clinic has no kind %(kinds)s.")
                % {"kinds": ", ".join(sorted(unknown))}
            }
        )
    rule = FollowUpRule.objects.get(pk=rule_id) if rule_id is not None else FollowUpRule()
    for name in _RULE_COLUMNS:
        setattr(rule, name, getattr(values, name))
    rule.save()
    rule.match_departments.set(values.department_ids)
    RuleStep.objects.filter(rule=rule, pk__in=list(removed_step_ids)).delete()
    for spec in steps:
        step = rule.steps.get(pk=spec.step_id) if spec.step_id is not None else RuleStep(rule=rule)
        for name in _STEP_COLUMNS:
            setattr(step, name, getattr(spec, name))
        step.save()
        step.articles.set(spec.article_ids)
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

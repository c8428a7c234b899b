"""Planning: from an encounter and the tenant's rules to its follow-up tasks (DESIGN.md §5).

``rules_plan`` is pure: it says which tasks the rule set wants for one encounter, and is
what the rule preview shows. ``encounters_plan`` makes the database agree with it, in bulk
and idempotently: a task is identified by (encounter, step, sequence), so planning again
finds it instead of adding another."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet

from saas import clock
from saas.celery import enqueue_on_commit

from ..calendar import local_date, local_midnight, tenant_zone
from ..models import (
    ContactPhone,
    Encounter,
    EncounterPlanPending,
    FollowUpRule,
    FollowUpTask,
    RuleStep,
)
from ..roles import Role
from ..selectors_kinds import booking_kind_codes
from .cascade import EncounterWritten, encounters_cascade, tasks_cancel

Reason = FollowUpTask.Reason
Status = FollowUpTask.Status

User = get_user_model()

PLAN_BATCH = 2000


@dataclass
class PlannedTask:
    rule: FollowUpRule
    step: RuleStep
    sequence: int
    name: str
    opens_at: datetime
    due_at: datetime
    closes_at: datetime
    status: str = Status.PENDING
    reason: str = ""
    assignee_id: int | None = None
    department_id: int | None = None
    # A lapsed-customer plan: the instant the contact lapses (the tick plans it from then).
    lapses_at: datetime | None = None

    @property
    def key(self) -> tuple[int, int]:
        return (self.step.pk, self.sequence)

    @property
    def status_label(self) -> str:
        return Status(self.status).label

    @property
    def reason_label(self) -> str:
        return Reason(self.reason).label if self.reason else ""


@dataclass(frozen=True, slots=True)
class EncounterFacts:
    """What planning reads about an encounter and its contact: loaded as plain rows for
    bulk planning, or taken from an unsaved encounter for the rule preview."""

    pk: int | None
    contact_id: int | None
    kind: str
    department_id: int | None
    attending_id: int | None
    responsible_nurse_id: int | None
    diagnosis_code: str
    procedure_code: str
    discharge_outcome: str
    tags: list
    age: int | None
    occurred_at: datetime
    recovered_at: datetime | None
    deceased: bool
    do_not_contact: bool
    email: str
    has_phone: bool
    # The contact has an encounter after this one (read only when a lapsed rule is active).
    superseded: bool = False

    @classmethod
    def of(cls, encounter: Encounter, *, has_phone: bool) -> "EncounterFacts":
        contact = encounter.contact
        return cls(
            pk=encounter.pk,
            contact_id=encounter.contact_id,
            kind=encounter.kind,
            department_id=encounter.department_id,
            attending_id=encounter.attending_id,
            responsible_nurse_id=encounter.responsible_nurse_id,
            diagnosis_code=encounter.diagnosis_code,
            procedure_code=encounter.procedure_code,
            discharge_outcome=encounter.discharge_outcome,
            tags=list(encounter.tags),
            age=encounter.age,
            occurred_at=encounter.occurred_at,
            recovered_at=encounter.recovered_at,
            deceased=contact.deceased,
            do_not_contact=contact.do_not_contact,
            email=contact.email,
            has_phone=has_phone,
        )


def rules_for_planning() -> list[FollowUpRule]:
    """Active rules with their steps and department ids, in precedence order."""
    rules = list(
        FollowUpRule.objects.filter(active=True).prefetch_related(
            Prefetch("steps", queryset=RuleStep.objects.order_by("position", "offset_days", "id")),
            "match_departments",
        )
    )
    booking = booking_kind_codes()
    for rule in rules:
        rule.department_ids = {d.pk for d in rule.match_departments.all()}
        rule.booking_kinds = booking
    return rules


def round_robin_agents() -> list[int]:
    return list(
        User.objects.filter(is_active=True, groups__name=Role.AGENT)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def rule_matches(rule: FollowUpRule, encounter: EncounterFacts) -> bool:
    # A lapsed-customer rule follows up only the contact's last encounter.
    if rule.trigger == FollowUpRule.Trigger.LAPSED and encounter.superseded:
        return False
    if rule.match_kinds and encounter.kind not in rule.match_kinds:
        return False
    # A booking is no service yet: a rule for "every kind" does not follow it up.
    if not rule.match_kinds:
        booking = getattr(rule, "booking_kinds", None)
        if booking is None:
            booking = booking_kind_codes()
        if encounter.kind in booking:
            return False
    department_ids = getattr(rule, "department_ids", None)
    if department_ids is None:
        department_ids = {d.pk for d in rule.match_departments.all()}
    if department_ids and encounter.department_id not in department_ids:
        return False
    if rule.match_codes:
        codes = [c.upper() for c in (encounter.diagnosis_code, encounter.procedure_code) if c]
        if not any(
            code.startswith(prefix.upper()) for code in codes for prefix in rule.match_codes
        ):
            return False
    if rule.match_tags and not set(rule.match_tags) & set(encounter.tags):
        return False
    if rule.match_outcomes and encounter.discharge_outcome not in rule.match_outcomes:
        return False
    if rule.min_age is not None and (encounter.age is None or encounter.age < rule.min_age):
        return False
    return not (
        rule.max_age is not None and (encounter.age is None or encounter.age > rule.max_age)
    )


def rules_applicable(rules: list[FollowUpRule], encounter: EncounterFacts) -> list[FollowUpRule]:
    applicable = []
    for rule in rules:
        if rule_matches(rule, encounter):
            applicable.append(rule)
            if rule.exclusive:
                break
    return applicable


def exclusion_reason(rule: FollowUpRule, step: RuleStep, encounter: EncounterFacts) -> str:
    """Why this step must not be worked for this encounter, or ''. Recorded on the task:
    an excluded encounter is never silently dropped."""
    if encounter.deceased or encounter.discharge_outcome == Encounter.Outcome.DIED:
        return Reason.DECEASED
    if encounter.do_not_contact:
        return Reason.DO_NOT_CONTACT
    if encounter.discharge_outcome and encounter.discharge_outcome in rule.exclude_outcomes:
        return Reason.OUTCOME
    if set(rule.exclude_tags) & set(encounter.tags):
        return Reason.TAG
    return ""


def unreachable_reason(step: RuleStep, encounter: EncounterFacts) -> str:
    """Why this step cannot be worked although the encounter is eligible, or ''. A missing
    number is a failed follow-up, never an exclusion: the encounter stays in the denominator
    (DESIGN.md §7), so a register full of missing numbers cannot show a higher rate."""
    if step.channel in (RuleStep.Channel.PHONE, RuleStep.Channel.SMS) and not encounter.has_phone:
        return Reason.NO_CONTACT
    if step.channel == RuleStep.Channel.EMAIL and not encounter.email:
        return Reason.NO_CONTACT
    return ""


def _assignment(step: RuleStep, encounter: EncounterFacts, agents: list[int]):
    policy = step.assignee_policy
    if policy == RuleStep.Assignee.CLINICIAN and encounter.attending_id:
        return encounter.attending_id, encounter.department_id
    if policy == RuleStep.Assignee.NURSE and encounter.responsible_nurse_id:
        return encounter.responsible_nurse_id, encounter.department_id
    # Without the named clinician or nurse: their department's queue.
    if policy in (
        RuleStep.Assignee.CLINICIAN,
        RuleStep.Assignee.NURSE,
        RuleStep.Assignee.DEPARTMENT,
    ):
        return None, encounter.department_id
    if policy == RuleStep.Assignee.TEAM:
        return None, step.team_id
    if policy == RuleStep.Assignee.ROUND_ROBIN and agents:
        # Spread by encounter id: stable across re-planning, even without a shared counter.
        return agents[encounter.pk % len(agents)] if encounter.pk else agents[0], None
    return None, None


def rules_plan(
    encounter: EncounterFacts,
    rules: list[FollowUpRule],
    *,
    zone,
    agents: list[int] = (),
) -> list[PlannedTask]:
    """The tasks the rule set wants for ``encounter``. Day N of a step is the Nth local day
    after the encounter's local date (after the day the contact lapsed, for a lapsed-customer
    rule); a task is due at the end of its due day."""
    encounter_day = local_date(encounter.occurred_at, zone)
    planned = []
    for rule in rules_applicable(rules, encounter):
        start, lapses_at = encounter_day, None
        if rule.trigger == FollowUpRule.Trigger.LAPSED:
            start = encounter_day + timedelta(days=rule.lapse_days)
            lapses_at = local_midnight(start, zone)
        for step in rule.steps.all():
            reason = exclusion_reason(rule, step, encounter)
            unreachable = "" if reason else unreachable_reason(step, encounter)
            assignee_id, department_id = _assignment(step, encounter, agents)
            for index in range(step.occurrences):
                shift = index * (step.repeat_every_days or 0)
                opens_at = local_midnight(start + timedelta(days=step.offset_days + shift), zone)
                due_at = local_midnight(start + timedelta(days=step.due_days + shift + 1), zone)
                status, task_reason = (Status.EXCLUDED, reason) if reason else (Status.PENDING, "")
                if unreachable:
                    status, task_reason = Status.UNREACHABLE, unreachable
                if (
                    not reason
                    and step.stop_when == RuleStep.StopWhen.RECOVERED
                    and encounter.recovered_at
                    and opens_at > encounter.recovered_at
                ):
                    status, task_reason = Status.CANCELLED, Reason.RECOVERED
                name = step.name if step.occurrences == 1 else f"{step.name} ({index + 1})"
                planned.append(
                    PlannedTask(
                        rule=rule,
                        step=step,
                        sequence=index + 1,
                        name=f"{rule.name} · {name}",
                        opens_at=opens_at,
                        due_at=due_at,
                        closes_at=due_at + timedelta(days=step.grace_days),
                        status=status,
                        reason=task_reason,
                        assignee_id=assignee_id,
                        department_id=department_id,
                        lapses_at=lapses_at,
                    )
                )
    return planned


def _task_values(plan: PlannedTask, now: datetime) -> dict:
    """The planned columns of a task (what re-planning may change, and more for a new one)."""
    step = plan.step
    return {
        "name": plan.name,
        "channel": step.channel,
        "tier": step.tier,
        "assignee_id": plan.assignee_id,
        "department_id": plan.department_id,
        "opens_at": plan.opens_at,
        "due_at": plan.due_at,
        "closes_at": plan.closes_at,
        "status": plan.status,
        "reason": plan.reason,
        "max_attempts": step.max_attempts,
        "retry_gap_hours": step.retry_gap_hours,
        "completed_at": None if plan.status in FollowUpTask.OPEN else now,
    }


_REPLANNED_FIELDS = [
    "name",
    "channel",
    "tier",
    "assignee_id",
    "department_id",
    "opens_at",
    "due_at",
    "closes_at",
    "status",
    "reason",
    "max_attempts",
    "retry_gap_hours",
    "completed_at",
]
_KEPT_WHEN_ESCALATED = ("assignee_id", "department_id", "tier")


def _replan(
    task: dict, plan: PlannedTask | None, now: datetime, *, gone: str = Reason.NO_LONGER_MATCHES
) -> dict:
    """The changes that bring an existing task (a dict of its columns) in line with the plan,
    or {} when none. Completed, unreachable and cancelled tasks are history and stay as they
    are; a task moved to the centre when overdue stays there."""
    if task["status"] not in (Status.PENDING, Status.IN_PROGRESS, Status.EXCLUDED) and not (
        _waiting_for_contact(task)
    ):
        return {}
    wanted = {}
    if plan is None:
        # A lapse the customer ended by coming back is excluded (cancelled once worked, below).
        status = Status.EXCLUDED if gone == Reason.NOT_LAPSED else Status.CANCELLED
        reason = gone
    else:
        status, reason = plan.status, plan.reason
        wanted = _task_values(plan, now)
        for name in ("status", "reason", "completed_at"):
            del wanted[name]
        if task["escalated_at"]:
            for name in _KEPT_WHEN_ESCALATED:
                del wanted[name]
    if status == Status.EXCLUDED and task["attempts_count"]:
        status = Status.CANCELLED  # it was worked: keep that visible, it is not "never eligible"
    if status == Status.PENDING:
        if task["status"] == Status.EXCLUDED or _waiting_for_contact(task):
            wanted.update(status=Status.PENDING, reason="", completed_at=None)
    elif (task["status"], task["reason"]) != (status, reason):
        wanted.update(status=status, reason=reason, completed_at=now)
        wanted.update(claimed_by_id=None, claimed_until=None)
    return {name: value for name, value in wanted.items() if task[name] != value}


def _waiting_for_contact(task: dict) -> bool:
    """Closed for want of a number or address and never worked: not history yet, a phone
    added later reopens it."""
    return (
        task["status"] == Status.UNREACHABLE
        and task["reason"] == Reason.NO_CONTACT
        and not task["attempts_count"]
    )


def _insert_tasks(rows: list[dict]) -> int:
    """INSERT … SELECT FROM unnest(arrays) ON CONFLICT DO NOTHING: one statement per batch, a
    tenth of what bulk_create spends preparing each value, and a task planned concurrently
    by another worker is skipped rather than duplicated."""
    if not rows:
        return 0
    fields = [f for f in FollowUpTask._meta.concrete_fields if not f.primary_key]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    arrays = ", ".join(f"%s::{f.db_type(connection)}[]" for f in fields)
    params = [[row[f.attname] for row in rows] for f in fields]
    table = connection.ops.quote_name(FollowUpTask._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({columns}) SELECT * FROM unnest({arrays})"  # noqa: S608
            " ON CONFLICT DO NOTHING",
            params,
        )
        return cursor.rowcount


def _new_row(facts: EncounterFacts, plan: PlannedTask, now: datetime) -> dict:
    return {
        **_task_values(plan, now),
        "encounter_id": facts.pk,
        "contact_id": facts.contact_id,
        "rule_id": plan.rule.pk,
        "step_id": plan.step.pk,
        "sequence": plan.sequence,
        "attempts_count": 0,
        "next_attempt_at": None,
        "last_outcome": "",
        "reached_in_window": None,
        "result_summary": "",
        "escalated_at": None,
        "claimed_by_id": None,
        "claimed_until": None,
        "spot_check_of_id": None,
        "audit_agrees": None,
        "created_at": now,
        "updated_at": now,
    }


@dataclass
class PlanResult:
    created: int = 0
    updated: int = 0


_FACT_COLUMNS = {
    "pk": "pk",
    "contact_id": "contact_id",
    "kind": "kind",
    "department_id": "department_id",
    "attending_id": "attending_id",
    "responsible_nurse_id": "responsible_nurse_id",
    "diagnosis_code": "diagnosis_code",
    "procedure_code": "procedure_code",
    "discharge_outcome": "discharge_outcome",
    "tags": "tags",
    "age": "age",
    "occurred_at": "occurred_at",
    "recovered_at": "recovered_at",
    "deceased": "contact__deceased",
    "do_not_contact": "contact__do_not_contact",
    "email": "contact__email",
    "has_phone": "has_phone",
}


def later_encounters(outer: str = "") -> QuerySet:
    """The encounters of the same contact after the outer query's encounter (``outer`` is the
    path to it), by date then id: what makes an encounter not a contact's last one."""
    occurred, pk = OuterRef(f"{outer}occurred_at"), OuterRef(f"{outer}pk")
    return Encounter.objects.filter(contact_id=OuterRef(f"{outer}contact_id")).filter(
        Q(occurred_at__gt=occurred) | Q(occurred_at=occurred, pk__gt=pk)
    )


def _facts(batch: list[int], *, lapsing: bool) -> list[EncounterFacts]:
    valid_phone = ContactPhone.objects.filter(contact=OuterRef("contact_id"), invalid=False)
    columns = dict(_FACT_COLUMNS)
    rows = Encounter.objects.filter(pk__in=batch).annotate(has_phone=Exists(valid_phone))
    if lapsing:  # one more look-up per encounter, only while a lapsed rule is active
        rows = rows.annotate(superseded=Exists(later_encounters()))
        columns["superseded"] = "superseded"
    rows = rows.order_by("pk").values_list(*columns.values())
    return [EncounterFacts(**dict(zip(columns, row, strict=True))) for row in rows]


_EXISTING_COLUMNS = [
    "id",
    "rule_id",
    "encounter_id",
    "step_id",
    "sequence",
    "attempts_count",
    "escalated_at",
    "claimed_by_id",
    "claimed_until",
    *_REPLANNED_FIELDS,
]


def encounters_plan(
    encounter_ids, *, now: datetime | None = None, only_rules: set[int] | None = None
) -> PlanResult:
    """Plan (or re-plan) the tasks of these encounters with the current rules. Idempotent.
    A task new to an encounter that already had tasks is not added once its window has
    closed: a rule changed today does not create work that is already too late. A
    lapsed-customer task is added only once the contact has lapsed, and while its window is
    open; one whose contact came back is cancelled. ``only_rules``: plan and re-plan only the
    tasks of these rules (the tick's lapsed rules), leaving the others as they are. Works on
    plain rows, not model instances: a nightly import plans a hundred thousand encounters."""
    now = now or clock.now()
    zone = tenant_zone(connection.tenant)
    rules = rules_for_planning()
    lapsed_rules = {r.pk for r in rules if r.trigger == FollowUpRule.Trigger.LAPSED}
    agents = round_robin_agents()
    result = PlanResult()
    ids = sorted(set(encounter_ids))
    for offset in range(0, len(ids), PLAN_BATCH):
        batch = ids[offset : offset + PLAN_BATCH]
        with transaction.atomic():
            existing: dict[int, dict[tuple, dict]] = {}
            tasks = FollowUpTask.objects.filter(encounter_id__in=batch, step__isnull=False)
            if only_rules is not None:
                tasks = tasks.filter(rule_id__in=only_rules)
            for task in tasks.values(*_EXISTING_COLUMNS):
                existing.setdefault(task["encounter_id"], {})[
                    (task["step_id"], task["sequence"])
                ] = task
            new_rows, changes = [], []
            for facts in _facts(batch, lapsing=bool(lapsed_rules)):
                known = existing.get(facts.pk, {})
                replanning = facts.pk in existing
                for plan in rules_plan(facts, rules, zone=zone, agents=agents):
                    if only_rules is not None and plan.rule.pk not in only_rules:
                        continue
                    task = known.pop(plan.key, None)
                    if task is None:
                        if plan.lapses_at is not None:
                            if plan.lapses_at <= now < plan.closes_at:
                                new_rows.append(_new_row(facts, plan, now))
                        elif not (replanning and plan.closes_at <= now):
                            new_rows.append(_new_row(facts, plan, now))
                    elif change := _replan(task, plan, now):
                        changes.append((task, change))
                for task in known.values():
                    came_back = facts.superseded and task["rule_id"] in lapsed_rules
                    gone = Reason.NOT_LAPSED if came_back else Reason.NO_LONGER_MATCHES
                    if change := _replan(task, None, now, gone=gone):
                        changes.append((task, change))
            result.created += _insert_tasks(new_rows)
            with connection.cursor() as cursor:
                cursor.execute(
                    "DELETE FROM crm_encounterplanpending WHERE encounter_id = ANY(%s)", [batch]
                )
            for task, change in changes:
                # Only if nobody worked the task meanwhile (no row lock taken above: an agent
                # logging an attempt wins, and this change is dropped).
                result.updated += FollowUpTask.objects.filter(
                    pk=task["id"], status=task["status"], attempts_count=task["attempts_count"]
                ).update(**change, updated_at=now)
    return result


PLAN_TASK_CHUNK = 10_000
# An encounter not planned this long after it was created lost its planning message: the tick
# plans it (encounters_unplanned). Long enough that a large import's own planning, queued
# behind other work, is not doubled (which would be harmless: planning is idempotent).
PLANNING_LOST_AFTER = timedelta(minutes=30)


def encounters_unplanned(*, now: datetime | None = None) -> list[int]:
    """Encounters whose planning was lost (the broker was away when they committed, the worker
    planning them died), at most PLAN_TASK_CHUNK of them, oldest first."""
    now = now or clock.now()
    return list(
        EncounterPlanPending.objects.filter(
            encounter_id__in=Encounter.objects.filter(
                created_at__lte=now - PLANNING_LOST_AFTER
            ).values("pk")
        )
        .order_by("encounter_id")
        .values_list("encounter_id", flat=True)[:PLAN_TASK_CHUNK]
    )


@dataclass
class LapsedResult:
    planned: int = 0
    came_back: int = 0


def _lapsed_candidates(rule: FollowUpRule, *, now: datetime, zone) -> QuerySet:
    """The ids of encounters that may have lapsed under ``rule`` and have no task of it: a
    contact's last encounter, matching the rule, at least ``lapse_days`` old (local days),
    recent enough that a window of the rule is still open (the last day of the longest
    window, with its grace, is ``span`` days after the lapse). Set-based, the rule's match in
    SQL; rules_plan decides the rest exactly, as for any encounter."""
    today = local_date(now, zone)
    span = max(
        (
            step.due_days
            + (step.occurrences - 1) * (step.repeat_every_days or 0)
            + step.grace_days
            + 1
            for step in rule.steps.all()
        ),
        default=0,
    )
    encounters = Encounter.objects.filter(
        occurred_at__gte=local_midnight(today - timedelta(days=rule.lapse_days + span - 1), zone),
        occurred_at__lt=local_midnight(today - timedelta(days=rule.lapse_days - 1), zone),
        contact__anonymised_at__isnull=True,
    )
    if rule.match_kinds:
        encounters = encounters.filter(kind__in=rule.match_kinds)
    else:
        encounters = encounters.exclude(kind__in=rule.booking_kinds)
    if rule.department_ids:
        encounters = encounters.filter(department_id__in=rule.department_ids)
    if rule.match_codes:
        codes = Q()
        for prefix in rule.match_codes:
            codes |= Q(diagnosis_code__istartswith=prefix) | Q(procedure_code__istartswith=prefix)
        encounters = encounters.filter(codes)
    if rule.match_tags:
        encounters = encounters.filter(tags__overlap=rule.match_tags)
    if rule.match_outcomes:
        encounters = encounters.filter(discharge_outcome__in=rule.match_outcomes)
    if rule.min_age is not None:
        encounters = encounters.filter(age__gte=rule.min_age)
    if rule.max_age is not None:
        encounters = encounters.filter(age__lte=rule.max_age)
    planned = FollowUpTask.objects.filter(encounter_id=OuterRef("pk"), rule_id=rule.pk)
    # The latest lapses first: what rules_plan declines (an exclusive rule before this one)
    # stays a candidate, and must not hold back a lapse that happened today.
    return (
        encounters.filter(~Exists(later_encounters()), ~Exists(planned))
        .order_by("-occurred_at", "-pk")
        .values_list("pk", flat=True)
    )


def lapsed_customers_plan(*, now: datetime | None = None) -> LapsedResult:
    """The tick's pass over lapsed-customer rules: plan the call of every contact who has
    lapsed (one task per step per lapse: the lapse is the contact's last encounter, so the
    same lapse is never planned twice, and a new encounter followed by a new lapse plans
    again), and cancel the open calls of contacts who came back meanwhile. Exclusions,
    opt-outs and a missing number are decided by rules_plan as for any follow-up; a message
    step's survey fatigue and booked return visits when its message is queued."""
    now = now or clock.now()
    result = LapsedResult()
    rules = [r for r in rules_for_planning() if r.trigger == FollowUpRule.Trigger.LAPSED]
    came_back = FollowUpTask.objects.filter(
        status__in=FollowUpTask.OPEN, rule__trigger=FollowUpRule.Trigger.LAPSED
    ).filter(Exists(later_encounters("encounter__")))
    # A customer who came back before anyone called was no lapse to follow up: the call
    # leaves the denominators, like a rule's exclusion; one already tried stays cancelled.
    result.came_back = tasks_cancel(
        came_back.filter(attempts_count=0),
        reason=Reason.NOT_LAPSED,
        now=now,
        status=Status.EXCLUDED,
    ) + tasks_cancel(came_back, reason=Reason.NOT_LAPSED, now=now)
    zone = tenant_zone(connection.tenant)
    room = PLAN_TASK_CHUNK  # the rest waits for the next tick
    for rule in rules:
        ids = list(_lapsed_candidates(rule, now=now, zone=zone)[:room])
        if ids:
            result.planned += encounters_plan(ids, now=now, only_rules={rule.pk}).created
            room -= len(ids)
        if room <= 0:
            break
    return result


def encounters_plan_later(encounter_ids) -> None:
    """Plan in Celery tasks once the current transaction commits: one task per 10,000
    encounters, so that a large import is planned by every worker at once."""
    ids = sorted(set(encounter_ids))
    for start in range(0, len(ids), PLAN_TASK_CHUNK):
        enqueue_on_commit("crm.tasks.encounters_plan_task", ids[start : start + PLAN_TASK_CHUNK])


def encounter_cascade(encounter: Encounter, *, now: datetime | None = None) -> int:
    """What a new or corrected encounter tells about its contact's other follow-ups
    (crm.services.cascade): a death flags the contact and cancels all their open tasks; a
    later discharge (a readmission) cancels the open tasks of earlier stays. Returns how
    many tasks were cancelled."""
    cancelled = encounters_cascade([EncounterWritten.of(encounter)], now=now)
    if encounter.discharge_outcome == Encounter.Outcome.DIED:
        # The caller's contact instance says what the database now says.
        encounter.contact.refresh_from_db(fields=["deceased", "deceased_at", "updated_at"])
    return cancelled


def rule_replan(rule: FollowUpRule) -> PlanResult:
    """The explicit "re-plan" of a changed rule: every encounter with an open task of it is
    planned again with the current rules."""
    encounter_ids = set(
        FollowUpTask.objects.filter(rule=rule, status__in=FollowUpTask.OPEN).values_list(
            "encounter_id", flat=True
        )
    )
    return encounters_plan(encounter_ids)

"""Tier-3 spot checks (DESIGN.md §5.3, §7a.6): supervisors re-call a sample of the centre's
reached follow-ups. The sample is stratified per agent and per department, so a new agent
or a small ward is audited too, and reproducible: it is a function of the ids alone (a hash
and a seed, no random state), so the same data always gives the same sample."""

import hashlib
import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.cache import cache
from django.db import connection
from django.db.models import Exists, OuterRef
from django.utils.translation import gettext as _

from billing import entitlements
from saas import clock

from ..calendar import local_date, local_midnight, tenant_zone
from ..models import CallAttempt, FollowUpTask, OutcomeCategory, RuleStep
from ..reporting.figures.followup import Period

SEED = "spot-check"
SPOT_CHECK_DUE_DAYS = 7
SPOT_CHECK_GRACE_DAYS = 7
# Ranks are read modulo this, so that a share of p % is the ranks below p × 100.
RANK_SPACE = 10_000


def spot_check_rank(task_id: int, *, seed: str = SEED) -> int:
    """Where a task stands in the draw: the lower, the sooner it is sampled. With the default
    seed this is the hash the per-call draw has always used, so samples drawn before the
    stratified draw existed stay part of it."""
    digest = hashlib.sha256(f"{seed}:{task_id}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % RANK_SPACE


def spot_check_sampled(task_id: int, percent: int, *, seed: str = SEED) -> bool:
    """The per-call draw: the same task is always in or out for a given share."""
    return spot_check_rank(task_id, seed=seed) < percent * (RANK_SPACE // 100)


@dataclass(frozen=True)
class ReachedCall:
    """One reached centre follow-up, in the strata it belongs to."""

    task_id: int
    agent_id: int | None
    department_id: int | None


def spot_check_share(reached: int, percent: int) -> int:
    """A stratum's share, rounded up: 10 % of 3 calls is one re-call, not none."""
    return math.ceil(reached * percent / 100)


def spot_check_sample(calls: Iterable[ReachedCall], *, percent: int, seed: str = SEED) -> set[int]:
    """The task ids to re-call: every task the per-call draw picks, plus, for each agent and
    each department, its lowest-ranked calls until it has its share. Independent of the
    order the calls come in."""
    calls = list(calls)
    if percent <= 0:
        return set()
    ranked = sorted(
        calls, key=lambda call: (spot_check_rank(call.task_id, seed=seed), call.task_id)
    )
    sample = {
        call.task_id for call in ranked if spot_check_sampled(call.task_id, percent, seed=seed)
    }
    strata: dict[tuple[str, int | None], list[int]] = defaultdict(list)
    for call in ranked:
        strata["agent", call.agent_id].append(call.task_id)
        strata["department", call.department_id].append(call.task_id)
    for task_ids in strata.values():
        sample.update(task_ids[: spot_check_share(len(task_ids), percent)])
    return sample


def spot_check_create(task: FollowUpTask, *, now: datetime) -> FollowUpTask:
    """The tier-3 re-call of a task, created once however often it is drawn."""
    zone = tenant_zone(connection.tenant)
    due_at = local_midnight(local_date(now, zone) + timedelta(days=SPOT_CHECK_DUE_DAYS + 1), zone)
    spot_check, _created = FollowUpTask.objects.get_or_create(
        spot_check_of=task,
        defaults={
            "encounter_id": task.encounter_id,
            "contact_id": task.contact_id,
            "rule_id": task.rule_id,
            "name": _("Spot check · %(name)s") % {"name": task.name},
            "channel": RuleStep.Channel.PHONE,
            "tier": 3,
            "department_id": task.department_id,
            "opens_at": now,
            "due_at": due_at,
            "closes_at": due_at + timedelta(days=SPOT_CHECK_GRACE_DAYS),
            "max_attempts": task.max_attempts,
            "retry_gap_hours": task.retry_gap_hours,
        },
    )
    return spot_check


def spot_check_draw(task: FollowUpTask, *, now: datetime | None = None) -> FollowUpTask | None:
    """The per-call draw, when a centre follow-up is reached: its spot check if sampled."""
    now = now or clock.now()
    if task.tier != RuleStep.Tier.CENTRE or task.status != FollowUpTask.Status.COMPLETED:
        return None
    if not spot_check_sampled(task.pk, connection.tenant.spot_check_percent):
        return None
    if not entitlements.feature_allowed(connection.tenant, "audit_tier3"):
        return None
    return spot_check_create(task, now=now)


def reached_calls(period: Period) -> list[tuple[ReachedCall, bool]]:
    """The centre's reached follow-ups of the period (by the reaching call's time), each with
    whether it already has its spot check. One query, on the attempts' time index."""
    start, end = period.bounds()
    rows = (
        CallAttempt.objects.filter(
            category=OutcomeCategory.REACHED,
            started_at__gte=start,
            started_at__lt=end,
            task__tier=RuleStep.Tier.CENTRE,
            task__status=FollowUpTask.Status.COMPLETED,
        )
        .annotate(drawn=Exists(FollowUpTask.objects.filter(spot_check_of=OuterRef("task_id"))))
        .order_by("task_id", "-started_at", "-pk")
        .distinct("task_id")
        .values_list("task_id", "agent_id", "task__encounter__department_id", "drawn")
    )
    return [
        (ReachedCall(task, agent, department), drawn) for task, agent, department, drawn in rows
    ]


def spot_checks_draw_stratified(*, period: Period, now: datetime, seed: str = SEED) -> int:
    """Tops up the spot checks of a finished period so every agent and every department
    that had reached calls gets at least its share; returns how many were added. Safe to run
    again: a drawn task keeps its one spot check."""
    tenant = connection.tenant
    if tenant.spot_check_percent <= 0 or not entitlements.feature_allowed(tenant, "audit_tier3"):
        return 0
    calls = reached_calls(period)
    sample = spot_check_sample(
        [call for call, _drawn in calls], percent=tenant.spot_check_percent, seed=seed
    )
    missing = [call.task_id for call, drawn in calls if call.task_id in sample and not drawn]
    for task in FollowUpTask.objects.filter(pk__in=missing).order_by("pk"):
        spot_check_create(task, now=now)
    return len(missing)


def spot_checks_weekly(*, now: datetime) -> int:
    """The tick's part: once the clinic's week is over, top up its spot checks. Remembered
    per tenant and week in the cache (keys carry the schema) so the tick does it once; if
    the cache is lost the draw runs again and adds nothing."""
    last_week = Period.of(
        "week", local_date(now, tenant_zone(connection.tenant)) - timedelta(days=7)
    )
    key = f"spot-checks-drawn:{last_week.start.isoformat()}"
    if cache.get(key):
        return 0
    added = spot_checks_draw_stratified(period=last_week, now=now)
    cache.set(key, True, timeout=8 * 24 * 3600)
    return added

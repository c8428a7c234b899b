"""Follow-up figures (DESIGN.md §7) of a period and scope: eligible, attempted, followed up,
lost, the unreachable breakdown, timeliness; and the fraud hang-ups with and without a
pre-notice. Tier-3 spot checks are audits, never follow-ups: they are left out of every
encounter figure."""

from dataclasses import dataclass, field, replace
from decimal import Decimal

from django.db import connection
from django.db.models import Count, Exists, OuterRef, Q
from django.utils.translation import gettext as _

from ...calendar import local_midnight, tenant_zone
from ...models import CallAttempt, FollowUpTask, Message, OutcomeCategory, RuleStep
from ...models.messages import Purpose
from .. import summary
from ..period import EVERYTHING, Period, Scope, rate

NEVER_ATTEMPTED = "never_attempted"
# Not followed up for want of a number or address (the task reason of the same name).
NO_CONTACT = FollowUpTask.Reason.NO_CONTACT.value


def unreachable_labels() -> dict[str, str]:
    """What each key of the unreachable breakdown is called: the outcome categories of a last
    attempt, and the two reasons without one."""
    return dict(OutcomeCategory.choices) | {
        NEVER_ATTEMPTED: _("Never attempted"),
        NO_CONTACT: str(FollowUpTask.Reason.NO_CONTACT.label),
    }


UNREACHABLE_KEYS = (*OutcomeCategory.values, NEVER_ATTEMPTED, NO_CONTACT)


@dataclass
class FollowUpFigures:
    eligible: int = 0
    attempted: int = 0
    followed_up: int = 0
    lost: int = 0
    unreachable: dict = field(default_factory=dict)  # last attempt's category → encounters
    completed_tasks: int = 0
    completed_in_window: int = 0
    transferred: int = 0  # an attempt found the patient transferred elsewhere
    readmitted: int = 0  # readmitted before the follow-up (attempt or cancelled task)

    @property
    def coverage_rate(self) -> Decimal | None:
        return rate(self.attempted, self.eligible)

    @property
    def follow_up_rate(self) -> Decimal | None:
        return rate(self.followed_up, self.eligible)

    @property
    def loss_rate(self) -> Decimal | None:
        return rate(self.lost, self.eligible)

    @property
    def timeliness(self) -> Decimal | None:
        return rate(self.completed_in_window, self.completed_tasks)

    def add(self, other: "FollowUpFigures") -> None:
        for name in (
            "eligible",
            "attempted",
            "followed_up",
            "lost",
            "completed_tasks",
            "completed_in_window",
            "transferred",
            "readmitted",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for key, count in other.unreachable.items():
            self.unreachable[key] = self.unreachable.get(key, 0) + count


# The local month as the index of its first instant among the period's month starts: a
# comparison per row, where converting every row to the clinic's zone took twice as long.
_MONTH = "width_bucket(occurred_at, %(month_starts)s::timestamptz[])"


# Figures from the facts of each encounter (summary.AGGREGATE_SQL): the summary table where
# it holds them (the whole clinic or a department, per department or month), else computed
# from the tasks.
def _from_summary(group_by: str | None, scope: Scope) -> bool:
    """The summary holds each encounter's facts over all its follow-ups: enough for the whole
    clinic or a department, per department or month; not per agent, rule or tier."""
    return not scope.narrowed and group_by in (None, "department", "month")


def _follow_up_sql(group_by: str | None, scope: Scope) -> str:
    if _from_summary(group_by, scope):
        summary.refresh()
        key = {"department": "department_id", "month": _MONTH}.get(group_by, "NULL::int")
        source = "crm_encounterkpi WHERE occurred_at >= %(start)s AND occurred_at < %(end)s"
        if scope.department is not None:
            source += " AND department_id = %(department)s"
        return summary.AGGREGATE_SQL.format(key=key, source=source)
    where = ["e.occurred_at >= %(start)s", "e.occurred_at < %(end)s"]
    if scope.department is not None:
        where.append("e.department_id = %(department)s")
    if scope.rule is not None:
        where.append("t.rule_id = %(rule)s")
    if scope.tier is not None:
        where.append("t.tier = %(tier)s")
    by_agent = group_by == "agent" or scope.agent is not None
    facts = summary.FACTS_SQL.format(
        # Per rule or tier, an encounter counts once in each, with only that one's follow-ups.
        task_key={"rule": "t.rule_id", "tier": "t.tier", "kind": "e.kind"}.get(
            group_by, "NULL::int"
        ),
        where=" AND ".join(where),
        need_last="true" if by_agent else "NOT reached",
    )
    agent = "coalesce(agent_id, assignee_id)"
    source = "facts" + (f" WHERE {agent} = %(agent)s" if scope.agent is not None else "")
    key = {
        "department": "department_id",
        "month": _MONTH,
        "agent": agent,
        "rule": "task_key",
        "tier": "task_key",
        "kind": "task_key",
    }.get(group_by, "NULL::int")
    return f"WITH {facts} " + summary.AGGREGATE_SQL.format(key=key, source=source)


def follow_up_by(period: Period, group_by: str | None, scope: Scope = EVERYTHING) -> dict:
    """FollowUpFigures per group (department id, agent id, rule id, tier, encounter kind, or
    the first day of the local month; None for encounters without one), or {None: figures}
    when not grouped.
    By agent: who made the encounter's last attempt, else the assignee of its first task."""
    start, end = period.bounds()
    months = period.months()
    zone = tenant_zone(connection.tenant)
    params = {
        "start": start,
        "end": end,
        "month_starts": [local_midnight(month, zone) for month in months],
        **vars(scope),
    }
    groups: dict = {}
    with connection.cursor() as cursor:
        cursor.execute(_follow_up_sql(group_by, scope), params)
        for key, category, *counts in cursor.fetchall():
            if group_by == "month":
                key = months[key - 1]
            added_up = dict(zip(summary.ADDED_UP, counts, strict=True))
            groups.setdefault(key, FollowUpFigures()).add(
                FollowUpFigures(
                    eligible=added_up["eligible"],
                    attempted=added_up["attempted"],
                    followed_up=added_up["reached"],
                    lost=added_up["lost"],
                    completed_tasks=int(added_up["completed"]),
                    completed_in_window=int(added_up["in_window"]),
                    transferred=added_up["transferred"],
                    readmitted=added_up["readmitted"],
                    unreachable={category: added_up["eligible"]} if category else {},
                )
            )
    if group_by is None:
        return {None: groups.get(None, FollowUpFigures())}
    return groups


def follow_up_figures(
    period: Period, *, department=None, scope: Scope = EVERYTHING
) -> FollowUpFigures:
    if department is not None:
        scope = replace(scope, department=getattr(department, "pk", department))
    return follow_up_by(period, None, scope)[None]


def follow_up_by_department(period: Period, scope: Scope = EVERYTHING) -> dict:
    """Department id → FollowUpFigures of its encounters."""
    return follow_up_by(period, "department", scope)


def pre_notice_figures(period: Period, scope: Scope = EVERYTHING) -> dict:
    """The "hung up, suspected fraud" rate of phone follow-ups called in the period, for
    those announced by a pre-notice SMS that went out and for the others (DESIGN.md §7a.3):
    whether announcing the call gets it answered. A follow-up counts once however many
    calls it took; it is a fraud hang-up when any of its calls in the period was one."""
    start, end = period.bounds()
    in_period = CallAttempt.objects.filter(
        task=OuterRef("pk"), started_at__gte=start, started_at__lt=end
    )
    called = FollowUpTask.objects.filter(channel=RuleStep.Channel.PHONE).exclude(tier=3)
    if scope.department is not None:
        called = called.filter(encounter__department=scope.department)
    if scope.rule is not None:
        called = called.filter(rule=scope.rule)
    if scope.agent is not None:
        in_period = in_period.filter(agent=scope.agent)
    sent = (Message.Status.SENT, Message.Status.DELIVERED)
    figures = (
        called.filter(Exists(in_period))
        .annotate(
            has_notice=Exists(
                Message.objects.filter(
                    task=OuterRef("pk"), purpose=Purpose.PRE_NOTICE, status__in=sent
                )
            ),
            has_fraud=Exists(in_period.filter(category=OutcomeCategory.HUNG_UP_SUSPECTED_FRAUD)),
        )
        .aggregate(
            noticed=Count("pk", filter=Q(has_notice=True)),
            noticed_fraud=Count("pk", filter=Q(has_notice=True, has_fraud=True)),
            other=Count("pk", filter=Q(has_notice=False)),
            other_fraud=Count("pk", filter=Q(has_notice=False, has_fraud=True)),
        )
    )
    return {
        **figures,
        "noticed_rate": rate(figures["noticed_fraud"], figures["noticed"]),
        "other_rate": rate(figures["other_fraud"], figures["other"]),
    }

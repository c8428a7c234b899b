"""The supervisor's wallboard (/reports/live/): today's calls per agent, the phone queue by
urgency and the last hour's calls by outcome, read in two queries because every wall screen
asks again every 30 seconds.

Figures only: staff names, counts and durations. Nothing here reads a contact, so no
patient's name or number can reach the board or its JSON."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from django.db.models import (
    Case,
    CharField,
    Count,
    Exists,
    F,
    FilteredRelation,
    OuterRef,
    Q,
    Sum,
    Value,
    When,
)
from django.utils.translation import gettext_lazy as _

from .calendar import local_midnight
from .models import CallAttempt, FollowUpTask, OutcomeCategory, RuleStep
from .roles import Role

User = get_user_model()

HOUR = timedelta(hours=1)


class Urgency:
    """The queue's buckets, most urgent first. Only phone follow-ups whose window has opened
    are in the queue: message follow-ups are sent by the tick, and tasks not open yet cannot
    be called."""

    OVERDUE = "overdue"
    DUE_TODAY = "due_today"
    DUE_LATER = "due_later"
    LABELS = {
        OVERDUE: _("Overdue"),
        DUE_TODAY: _("Due today"),
        DUE_LATER: _("Due later"),
    }


@dataclass(frozen=True)
class AgentDay:
    """One staff member's attempts today. ``timed`` attempts are those logged with a
    duration: the average handling time is taken over them only, never over zeros."""

    pk: int
    name: str
    attempts: int
    reached: int
    timed: int
    seconds: int

    @property
    def average_seconds(self) -> int | None:
        return round(self.seconds / self.timed) if self.timed else None


@dataclass(frozen=True)
class Wallboard:
    now: datetime  # in the clinic's zone
    agents: list[AgentDay]
    queue: dict[str, int]  # Urgency → open phone follow-ups
    outcomes: dict[str, int]  # OutcomeCategory → attempts in the last hour, none at zero

    @property
    def total(self) -> AgentDay:
        """The whole team's day: sums of counts and of seconds, so that its average handling
        time is over every timed attempt rather than an average of the agents' averages."""
        return AgentDay(
            pk=0,
            name="",
            attempts=sum(a.attempts for a in self.agents),
            reached=sum(a.reached for a in self.agents),
            timed=sum(a.timed for a in self.agents),
            seconds=sum(a.seconds for a in self.agents),
        )

    @property
    def last_hour(self) -> int:
        return sum(self.outcomes.values())


def wallboard_read(*, now: datetime, zone: ZoneInfo) -> Wallboard:
    """The board at ``now``. "Today" runs from the clinic's local midnight; the last hour is
    the 60 minutes before ``now`` (across midnight when it is just past)."""
    local_now = now.astimezone(zone)
    day_start = local_midnight(local_now.date(), zone)
    return Wallboard(
        now=local_now,
        agents=_agents_today(day_start, now),
        **_queue_and_outcomes(now, local_midnight(local_now.date() + timedelta(days=1), zone)),
    )


def _agents_today(day_start: datetime, now: datetime) -> list[AgentDay]:
    """Every active agent (those with no call yet show zeros: a supervisor looks for them
    too), and anyone else who logged an attempt today, whatever their role. One query: each
    user joined to today's attempts only (the started_at index gives today's range)."""
    in_agent_role = Exists(
        User.groups.through.objects.filter(user_id=OuterRef("pk"), group__name=Role.AGENT)
    )
    # Staff who are not (or no longer) active agents but called today are kept by the count:
    # the OR goes to HAVING, after the join, so it stays one query.
    rows = (
        User.objects.annotate(
            today=FilteredRelation(
                "call_attempts",
                condition=Q(
                    call_attempts__started_at__gte=day_start,
                    call_attempts__started_at__lte=now,
                ),
            ),
            attempts=Count("today"),
            reached=Count("today", filter=Q(today__category=OutcomeCategory.REACHED)),
            timed=Count("today__duration_seconds"),
            seconds=Sum("today__duration_seconds", default=0),
        )
        .filter((Q(is_active=True) & in_agent_role) | Q(attempts__gt=0))
        .values("pk", "first_name", "last_name", "email", "attempts", "reached", "timed", "seconds")
    )
    agents = [
        AgentDay(
            pk=row["pk"],
            name=f"{row['first_name']} {row['last_name']}".strip() or row["email"],
            attempts=row["attempts"],
            reached=row["reached"],
            timed=row["timed"],
            seconds=row["seconds"],
        )
        for row in rows
    ]
    return sorted(agents, key=lambda a: (-a.attempts, -a.reached, a.name.casefold(), a.pk))


def _queue_and_outcomes(now: datetime, tomorrow: datetime) -> dict:
    """The queue's buckets and the last hour's outcome categories, as one UNION of two small
    GROUP BYs: (section, key, count) rows."""
    queue = (
        FollowUpTask.objects.filter(
            status__in=FollowUpTask.OPEN, channel=RuleStep.Channel.PHONE, opens_at__lte=now
        )
        .annotate(
            section=Value("queue", output_field=CharField()),
            key=Case(
                When(due_at__lte=now, then=Value(Urgency.OVERDUE)),
                When(due_at__lte=tomorrow, then=Value(Urgency.DUE_TODAY)),
                default=Value(Urgency.DUE_LATER),
                output_field=CharField(),
            ),
        )
        .values("section", "key")
        .annotate(count=Count("pk"))
        .order_by()
    )
    outcomes = (
        CallAttempt.objects.filter(started_at__gt=now - HOUR, started_at__lte=now)
        .annotate(section=Value("outcome", output_field=CharField()), key=F("category"))
        .values("section", "key")
        .annotate(count=Count("pk"))
        .order_by()
    )
    found: dict[str, dict[str, int]] = {"queue": {}, "outcome": {}}
    for row in queue.union(outcomes, all=True).order_by():
        found[row["section"]][row["key"]] = row["count"]
    return {
        "queue": {key: found["queue"].get(key, 0) for key in Urgency.LABELS},
        # The taxonomy's order, so that the board's rows do not jump between refreshes.
        "outcomes": {
            key: found["outcome"][key] for key in OutcomeCategory.values if key in found["outcome"]
        },
    }

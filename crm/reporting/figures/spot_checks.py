"""Spot-check figures (DESIGN.md §7, §7a.6): the agreement of the tier-3 audits closed in a
period, and the supervisor's reading of them: per agent, the share of their re-called calls
where the re-call found a discrepancy with what they logged, and the audits behind each
figure. An audit is of the agent who made the audited call's reaching
attempt: that is the call whose record the supervisor compared."""

from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db.models import Count, OuterRef, Q, QuerySet, Subquery

from ...models import CallAttempt, FollowUpTask, OutcomeCategory
from ..period import EVERYTHING, Period, Scope, rate


def spot_check_figures(period: Period, scope: Scope = EVERYTHING) -> dict:
    """Tier-3 audits closed in the period; by department, agent (who made the audited
    call's reaching attempt, as in spot_check_scores: the audit is of their work) or rule of
    the audited follow-up."""
    start, end = period.bounds()
    audits = FollowUpTask.objects.filter(
        tier=3, status=FollowUpTask.Status.COMPLETED, completed_at__gte=start, completed_at__lt=end
    )
    if scope.department is not None:
        audits = audits.filter(encounter__department=scope.department)
    if scope.rule is not None:
        audits = audits.filter(spot_check_of__rule=scope.rule)
    if scope.agent is not None:
        # The same attribution as the discrepancy score, so an agent's agreement in the report
        # and their score on the supervisor's page count the same audits.
        audits = audits.annotate(audited_agent=_audited_agent()).filter(audited_agent=scope.agent)
    done = audits.count()
    agree = audits.filter(audit_agrees=True).count()
    return {"audits": done, "agree": agree, "rate": rate(agree, done)}


@dataclass(frozen=True)
class AgentScore:
    agent_id: int | None
    name: str
    checked: int
    discrepancies: int

    @property
    def score(self) -> Decimal | None:
        """Discrepancies per checked call, in per cent with two decimals."""
        return rate(self.discrepancies, self.checked)


def _audited_agent() -> Subquery:
    return Subquery(
        CallAttempt.objects.filter(
            task_id=OuterRef("spot_check_of_id"), category=OutcomeCategory.REACHED
        )
        .order_by("-started_at", "-pk")
        .values("agent_id")[:1]
    )


def spot_check_audits(period: Period) -> QuerySet:
    """Spot checks finished in the period with their finding (agrees or not), each annotated
    with the audited agent. Read through the tier-3 completed_at index."""
    start, end = period.bounds()
    return FollowUpTask.objects.filter(
        tier=3,
        status=FollowUpTask.Status.COMPLETED,
        completed_at__gte=start,
        completed_at__lt=end,
        audit_agrees__isnull=False,
    ).annotate(audited_agent=_audited_agent())


def spot_check_scores(period: Period) -> list[AgentScore]:
    """One row per audited agent, the highest discrepancy score first. Two queries."""
    rows = list(
        spot_check_audits(period)
        .order_by()
        .values("audited_agent")
        .annotate(checked=Count("pk"), discrepancies=Count("pk", filter=Q(audit_agrees=False)))
    )
    agents = get_user_model().objects.in_bulk(
        [row["audited_agent"] for row in rows if row["audited_agent"] is not None]
    )
    scores = [
        AgentScore(
            agent_id=row["audited_agent"],
            name=_name(agents.get(row["audited_agent"])),
            checked=row["checked"],
            discrepancies=row["discrepancies"],
        )
        for row in rows
    ]
    return sorted(scores, key=lambda s: (-(s.score or 0), s.name.casefold(), s.agent_id or 0))


def _name(user) -> str:
    if user is None:
        return "—"
    return user.get_full_name() or user.email


def spot_check_agent_audits(
    period: Period, *, agent_id: int, discrepancies_only: bool = False
) -> QuerySet:
    """The audits behind one agent's figures, the latest first."""
    audits = spot_check_audits(period).filter(audited_agent=agent_id)
    if discrepancies_only:
        audits = audits.filter(audit_agrees=False)
    return audits.select_related("contact", "spot_check_of").order_by("-completed_at", "-pk")

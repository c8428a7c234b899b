"""The KPIs of DESIGN.md §7 on known data, figure by figure, with the edge cases the KPI issue
names. Tasks are written directly (their statuses are what the engine would have left)."""

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from crm.models import (
    CallAttempt,
    Department,
    Encounter,
    FollowUpRule,
    FollowUpTask,
    OutcomeCode,
)
from crm.reporting.figures.feedback import complaint_by, complaint_figures, praise_figures
from crm.reporting.figures.followup import follow_up_by, follow_up_by_department, follow_up_figures
from crm.reporting.figures.satisfaction import satisfaction_by, satisfaction_figures
from crm.reporting.figures.spot_checks import spot_check_figures
from crm.reporting.period import Period, Scope
from crm.services import feedback
from surveys.services.responses import response_submit
from tests.factories import ContactFactory, EncounterFactory, StaffFactory
from tests.surveys.conftest import survey_with

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOVEMBER = Period(date(2026, 11, 1), date(2026, 11, 30))
S = FollowUpTask.Status


def at(day, hour=10, minute=0):
    return datetime(2026, 11, day, hour, minute, tzinfo=SHANGHAI)


def complaint_made(day, ward, supervisor, *, replied_after_hours=None, category="fees"):
    """A complaint received on November ``day``, replied so many hours later (or not)."""
    made = feedback.complaint_open(
        summary="x", source="call", category=category, department=ward, now=at(day)
    )
    if replied_after_hours is not None:
        feedback.complaint_move(
            made,
            supervisor,
            "replied",
            reply="已答复",
            now=at(day) + timedelta(hours=replied_after_hours),
        )
    return made


@pytest.fixture
def world(tenant_a, in_tenant):
    """Six November encounters of one department, one of October, one excluded-only."""
    with in_tenant(tenant_a):
        FollowUpRule.objects.update(active=False)
        rule = FollowUpRule.objects.create(name="KPI", match_kinds=["discharge"])
        ward = Department.objects.get(code="orthopaedics")
        agent = StaffFactory(email="kpi-agent@alpha.test", role="agent")

        def encounter(day_at, *statuses, outcomes=(), in_window=True):
            enc = EncounterFactory(occurred_at=day_at, department=ward, contact=ContactFactory())
            for i, status in enumerate(statuses):
                task = FollowUpTask.objects.create(
                    encounter=enc,
                    contact=enc.contact,
                    rule=rule,
                    sequence=i,
                    name=f"T{i}",
                    channel="phone",
                    tier=2,
                    status=status,
                    opens_at=day_at,
                    due_at=day_at + timedelta(days=3),
                    closes_at=day_at + timedelta(days=10),
                    attempts_count=len(outcomes) if i == 0 else 0,
                    reached_in_window=in_window if status == S.COMPLETED else None,
                )
                for n, category in enumerate(outcomes if i == 0 else ()):
                    CallAttempt.objects.create(
                        task=task,
                        agent=agent,
                        channel="phone",
                        category=category,
                        started_at=day_at + timedelta(hours=n + 1),
                        outcome=OutcomeCode.objects.filter(category=category).first(),
                    )
            return enc

        # Followed up, two tasks (counts once), reached in the window.
        encounter(at(3), S.COMPLETED, S.PENDING, outcomes=["reached"])
        # Followed up late (reached outside the window).
        encounter(at(5), S.COMPLETED, outcomes=["no_answer", "reached"], in_window=False)
        # Lost: every task unreachable; last attempt wrong number.
        encounter(at(7), S.UNREACHABLE, S.UNREACHABLE, outcomes=["no_answer", "wrong_number"])
        # Attempted, still open; last attempt powered off.
        encounter(at(9), S.PENDING, outcomes=["powered_off"])
        # Never attempted.
        encounter(at(11), S.PENDING)
        # Last local minute of November (15:59 UTC): in the period.
        encounter(at(30, 23, 59), S.PENDING)
        # The first minute of December locally (still November 30 in UTC): out.
        encounter(datetime(2026, 12, 1, 0, 1, tzinfo=SHANGHAI), S.COMPLETED, outcomes=["reached"])
        # Only task excluded: not eligible.
        encounter(at(12), S.EXCLUDED)
        # October: out.
        encounter(datetime(2026, 10, 31, 12, tzinfo=SHANGHAI), S.COMPLETED, outcomes=["reached"])
        return {"ward": ward, "rule": rule}


def test_follow_up_figures(world, tenant_a, in_tenant):
    with in_tenant(tenant_a):
        figures = follow_up_figures(NOVEMBER)

    assert (figures.eligible, figures.attempted, figures.followed_up, figures.lost) == (6, 4, 2, 1)
    assert figures.coverage_rate == Decimal("66.67")
    assert figures.follow_up_rate == Decimal("33.33")
    assert figures.loss_rate == Decimal("16.67")
    assert figures.unreachable == {"wrong_number": 1, "powered_off": 1, "never_attempted": 2}
    assert (figures.completed_tasks, figures.completed_in_window) == (2, 1)
    assert figures.timeliness == Decimal("50.00")


def test_a_department_with_no_encounters_has_no_rates(world, tenant_a, in_tenant):
    with in_tenant(tenant_a):
        empty = Department.objects.exclude(pk=world["ward"].pk).first()
        figures = follow_up_figures(NOVEMBER, department=empty)
        survey = satisfaction_figures(NOVEMBER, department=empty)
        complaints = complaint_figures(NOVEMBER, department=empty)
    assert figures.eligible == 0 and figures.follow_up_rate is None and figures.timeliness is None
    assert survey.satisfaction_rate is None and survey.nps is None
    assert complaints.on_time_rate is None and complaints.median_hours_to_reply is None


def test_satisfaction_nps_and_dimensions(tenant_a, in_tenant):
    with in_tenant(tenant_a):
        version = survey_with(
            [
                {"kind": "rating", "text_zh": "总体", "dimension": "overall"},
                {"kind": "rating", "text_zh": "医生", "dimension": "doctor", "required": False},
                {"kind": "nps", "text_zh": "推荐", "required": False},
                {"kind": "text", "text_zh": "建议", "required": False},
            ]
        ).published
        contact = ContactFactory()
        for values in (
            {"q1": 5, "q2": 5, "q3": 10},  # satisfied, promoter
            {"q1": 4, "q2": 3, "q3": 9},  # satisfied, promoter
            {"q1": 3, "q3": 7},  # neutral, passive
            {"q1": 1, "q2": 1, "q3": 0},  # dissatisfied, detractor (raises a complaint)
            {"q4": "没有评分"},  # a response without any rating
        ):
            response_submit(version, values, contact=contact, source="call", now=at(15))
        figures = satisfaction_figures(NOVEMBER)

    assert (figures.responses, figures.rated) == (5, 4)
    assert (figures.satisfied, figures.neutral, figures.dissatisfied) == (2, 1, 1)
    assert figures.satisfaction_rate == Decimal("50.00")
    assert (figures.neutral_share, figures.dissatisfied_share) == (
        Decimal("25.00"),
        Decimal("25.00"),
    )
    assert figures.nps == Decimal("25.00")  # 2/4 promoters − 1/4 detractors
    doctor = figures.dimensions["doctor"]
    assert (doctor["answers"], doctor["top_two"], doctor["rate"]) == (3, 1, Decimal("33.33"))
    assert doctor["score"] == Decimal("50.00")  # (100 + 50 + 0) / 3
    assert figures.dimensions["overall"]["score"] == Decimal("56.25")  # (100+75+50+0)/4


def test_complaints_on_time_at_the_deadline_and_median_time_to_reply(tenant_a, in_tenant):
    with in_tenant(tenant_a):
        supervisor = StaffFactory(email="kpi-sup@alpha.test", role="supervisor")
        ward = Department.objects.get(code="orthopaedics")

        def complaint(day, **how):
            return complaint_made(day, ward, supervisor, **how)

        exactly = complaint(2, replied_after_hours=7 * 24)  # at the deadline: on time
        complaint(3, replied_after_hours=7 * 24 + 1)  # an hour late
        complaint(4, replied_after_hours=10, category="attitude")
        complaint(25)  # due on December 2: received in November, not due in it
        assert exactly.deadline == at(9)
        feedback.complaint_open(summary="建议", source="call", kind="suggestion", now=at(5))
        figures = complaint_figures(NOVEMBER)

    assert figures.received == 4  # suggestions are not complaints
    assert figures.by_category == {"fees": 3, "attitude": 1}
    assert (figures.due, figures.replied_on_time, figures.on_time_rate) == (3, 2, Decimal("66.67"))
    assert figures.median_hours_to_reply == Decimal("168.00")  # of 10, 168, 169


def test_spot_check_agreement_and_praise(tenant_a, in_tenant, world):
    with in_tenant(tenant_a):
        original = FollowUpTask.objects.filter(status=S.COMPLETED).first()
        for agrees in (True, True, False):
            FollowUpTask.objects.create(
                encounter=original.encounter,
                contact=original.contact,
                rule=original.rule,
                name="抽查",
                channel="phone",
                tier=3,
                status=S.COMPLETED,
                audit_agrees=agrees,
                sequence=100 + FollowUpTask.objects.count(),
                opens_at=at(20),
                due_at=at(25),
                closes_at=at(28),
                completed_at=at(21),
                spot_check_of=FollowUpTask.objects.create(
                    encounter=original.encounter,
                    contact=original.contact,
                    rule=original.rule,
                    name="c",
                    channel="phone",
                    tier=2,
                    status=S.COMPLETED,
                    sequence=200 + FollowUpTask.objects.count(),
                    opens_at=at(20),
                    due_at=at(25),
                    closes_at=at(28),
                ),
            )
        nurse = StaffFactory(email="kpi-nurse@alpha.test", role="clinician")
        feedback.praise_record(source="survey", staff=nurse, department=world["ward"])
        spot = spot_check_figures(NOVEMBER)
        today = datetime.now(SHANGHAI).date()  # the clinic's day, not the machine's
        praise = praise_figures(Period(today, today))
    assert (spot["audits"], spot["agree"], spot["rate"]) == (3, 2, Decimal("66.67"))
    assert praise["by_staff"] == {nurse.pk: 1} and praise["by_department"] == {world["ward"].pk: 1}


def test_grouped_by_department_agrees_with_the_scoped_figures(world, tenant_a, in_tenant):
    with in_tenant(tenant_a):
        grouped = follow_up_by_department(NOVEMBER)
        scoped = follow_up_figures(NOVEMBER, department=world["ward"])
    ward = grouped[world["ward"].pk]
    assert (
        (ward.eligible, ward.attempted, ward.followed_up, ward.lost)
        == (scoped.eligible, scoped.attempted, scoped.followed_up, scoped.lost)
        == (6, 4, 2, 1)
    )
    assert list(grouped) == [world["ward"].pk]


def test_the_report_page_shows_the_months_figures_to_supervisors_only(
    world, tenant_a, in_tenant, client_a, client_b, admin_b
):
    from tests.conftest import login

    with in_tenant(tenant_a):
        StaffFactory(email="kpi-sup2@alpha.test", role="supervisor")
        StaffFactory(email="kpi-agent2@alpha.test", role="agent")
    login(client_a, "kpi-sup2@alpha.test")
    page = client_a.get("/reports/?month=2026-11")
    assert page.status_code == 200
    assert page.context["figures"].follow_up_rate == Decimal("33.33")
    text = page.content.decode()
    assert "33.33 %" in text and "66.67 %" in text  # follow-up and coverage rates
    assert world["ward"].name in text
    assert client_a.get("/reports/?month=nonsense").status_code == 200  # this month instead

    client_a.post("/accounts/logout/")
    login(client_a, "kpi-agent2@alpha.test")
    assert client_a.get("/reports/").status_code == 403

    login(client_b, "admin@beta.test")
    other = client_b.get("/reports/?month=2026-11")
    assert other.status_code == 200 and other.context["figures"].eligible == 0


def test_targets_are_seeded_per_kind_and_a_missed_one_is_flagged(
    world, tenant_a, in_tenant, client_a
):
    from crm.models import KpiTarget
    from tests.conftest import login

    with in_tenant(tenant_a):
        seeded = dict(KpiTarget.objects.filter(department=None).values_list("metric", "target"))
        StaffFactory(email="kpi-sup3@alpha.test", role="supervisor")
    assert seeded == {"follow_up_rate": 80, "satisfaction_rate": 95, "complaints_on_time": 95}
    login(client_a, "kpi-sup3@alpha.test")
    page = client_a.get("/reports/?month=2026-11")
    targets = page.context["targets"]
    assert targets["follow_up_rate"] == {"target": Decimal("80.00"), "missed": True}  # 33.33 %
    assert targets["satisfaction_rate"]["missed"] is False  # no responses: nothing to miss
    assert 'class="target missed"' in page.content.decode()


@pytest.mark.parametrize(
    ("kind", "day", "start", "end"),
    [
        ("day", date(2026, 11, 23), date(2026, 11, 23), date(2026, 11, 23)),
        ("week", date(2026, 11, 26), date(2026, 11, 23), date(2026, 11, 29)),  # Monday first
        ("month", date(2026, 2, 14), date(2026, 2, 1), date(2026, 2, 28)),
        ("quarter", date(2026, 11, 23), date(2026, 10, 1), date(2026, 12, 31)),
        ("quarter", date(2026, 2, 1), date(2026, 1, 1), date(2026, 3, 31)),
        ("year", date(2026, 6, 1), date(2026, 1, 1), date(2026, 12, 31)),
    ],
)
def test_periods(kind, day, start, end):
    assert Period.of(kind, day) == Period(start, end)


def test_grouped_by_agent_tier_and_month(world, tenant_a, in_tenant):
    with in_tenant(tenant_a):
        agent = CallAttempt.objects.first().agent
        by_agent = follow_up_by(NOVEMBER, "agent")
        by_tier = follow_up_by(NOVEMBER, "tier")
        autumn = Period(date(2026, 10, 1), date(2026, 12, 31))
        by_month = follow_up_by(autumn, "month")
        one_agent = follow_up_figures(NOVEMBER, scope=Scope(agent=agent.pk))
        by_rule = follow_up_by(NOVEMBER, "rule")

    # The attempted encounters count under the agent of their last attempt; the never
    # attempted ones under their first task's assignee (none here).
    assert {key: f.eligible for key, f in by_agent.items()} == {agent.pk: 4, None: 2}
    assert (by_agent[agent.pk].followed_up, by_agent[agent.pk].lost) == (2, 1)
    assert one_agent.eligible == 4 and one_agent.follow_up_rate == Decimal("50.00")
    assert {key: f.eligible for key, f in by_tier.items()} == {2: 6}
    assert {key: f.eligible for key, f in by_rule.items()} == {world["rule"].pk: 6}
    # Months by the clinic's calendar: 00:01 on 1 December in Shanghai is December.
    assert {key: f.eligible for key, f in by_month.items()} == {
        date(2026, 10, 1): 1,
        date(2026, 11, 1): 6,
        date(2026, 12, 1): 1,
    }
    assert by_month[date(2026, 11, 1)].unreachable == {
        "wrong_number": 1,
        "powered_off": 1,
        "never_attempted": 2,
    }


def test_a_tier_scope_counts_only_that_tiers_follow_ups(world, tenant_a, in_tenant):
    with in_tenant(tenant_a):
        # The lost encounter's second task becomes tier 1: in tier 1 it is lost, in tier 2
        # too (its other task), and it counts once in each.
        lost = FollowUpTask.objects.filter(status=S.UNREACHABLE).order_by("pk").last()
        FollowUpTask.objects.filter(pk=lost.pk).update(tier=1)
        tier_one = follow_up_figures(NOVEMBER, scope=Scope(tier=1))
        tier_two = follow_up_figures(NOVEMBER, scope=Scope(tier=2))
    assert (tier_one.eligible, tier_one.lost, tier_one.attempted) == (1, 1, 0)
    assert (tier_two.eligible, tier_two.lost) == (6, 1)


def test_transferred_and_readmitted_are_counted_once_per_encounter(world, tenant_a, in_tenant):
    with in_tenant(tenant_a):
        pending = list(
            FollowUpTask.objects.filter(status=S.PENDING, attempts_count=0).order_by("pk")[:2]
        )
        FollowUpTask.objects.filter(pk=pending[0].pk).update(
            status=S.UNREACHABLE, last_outcome="transferred_elsewhere", attempts_count=1
        )
        FollowUpTask.objects.filter(pk=pending[1].pk).update(
            status=S.CANCELLED, reason=FollowUpTask.Reason.READMITTED
        )
        figures = follow_up_figures(NOVEMBER)
    assert (figures.transferred, figures.readmitted) == (1, 1)
    assert figures.eligible == 6  # cancelled follow-ups still make the encounter eligible


def test_satisfaction_and_complaints_grouped_by_department_and_month(tenant_a, in_tenant):
    with in_tenant(tenant_a):
        ward = Department.objects.get(code="orthopaedics")
        version = survey_with([{"kind": "rating", "text_zh": "总体", "dimension": "overall"}])
        version = version.published
        for department, score, when in (
            (ward, 5, at(2)),
            (ward, 2, at(3)),
            (None, 4, at(30, 23, 30)),  # November locally, the 30th at 15:30 UTC
        ):
            response = response_submit(
                version, {"q1": score}, contact=ContactFactory(), source="call", now=when
            )
            response.__class__.objects.filter(pk=response.pk).update(department=department)
        feedback.complaint_open(
            summary="x", source="call", category="fees", department=ward, now=at(4)
        )
        by_department = satisfaction_by(NOVEMBER, "department")
        by_month = satisfaction_by(Period(date(2026, 11, 1), date(2026, 12, 31)), "month")
        complaints = complaint_by(NOVEMBER, "department")
    assert (by_department[ward.pk].rated, by_department[ward.pk].satisfied) == (2, 1)
    assert by_department[ward.pk].satisfaction_rate == Decimal("50.00")
    assert by_department[None].satisfaction_rate == Decimal("100.00")
    assert by_department[ward.pk].dimensions["overall"]["score"] == Decimal("62.50")
    assert {key: f.rated for key, f in by_month.items()} == {date(2026, 11, 1): 3}
    assert complaints[ward.pk].received == 1 and complaints[ward.pk].by_category == {"fees": 1}


def test_the_encounter_summary_follows_every_change_and_matches_a_full_recomputation(
    world, tenant_a, tenant_b, in_tenant
):
    from crm.models import EncounterKpi, EncounterKpiStale
    from crm.reporting import summary as kpi_summary

    with in_tenant(tenant_a):
        before = follow_up_figures(NOVEMBER)
        assert kpi_summary.verify() == {"rows": 8, "missing": 0, "extra": 0}
        # The never-attempted encounter is reached by a call logged later: the report knows
        # at once, because the triggers marked the encounter stale in the same transaction.
        task = FollowUpTask.objects.filter(status=S.PENDING, attempts_count=0).last()
        FollowUpTask.objects.filter(pk=task.pk).update(
            status=S.COMPLETED, attempts_count=1, reached_in_window=True
        )
        assert EncounterKpiStale.objects.filter(encounter_id=task.encounter_id).exists()
        after = follow_up_figures(NOVEMBER)
        assert (after.followed_up, after.attempted) == (
            before.followed_up + 1,
            before.attempted + 1,
        )
        assert not EncounterKpiStale.objects.exists()
        # A claim and its release change no figure and mark nothing.
        open_task = FollowUpTask.objects.filter(status=S.PENDING).first()
        FollowUpTask.objects.filter(pk=open_task.pk).update(
            status=S.IN_PROGRESS, claimed_until=at(20)
        )
        FollowUpTask.objects.filter(pk=open_task.pk).update(status=S.PENDING, claimed_until=None)
        assert not EncounterKpiStale.objects.exists()
        # Moving an encounter to another department moves its figures.
        other = Department.objects.exclude(pk=world["ward"].pk).first()
        Encounter.objects.filter(pk=task.encounter_id).update(department=other)
        assert follow_up_by_department(NOVEMBER)[other.pk].eligible == 1
        # Deleting it removes them.
        Encounter.objects.filter(pk=task.encounter_id).delete()
        assert follow_up_figures(NOVEMBER).eligible == before.eligible - 1
        assert not EncounterKpi.objects.filter(encounter_id=task.encounter_id).exists()
        assert kpi_summary.verify()["missing"] == kpi_summary.verify()["extra"] == 0
        # Data loaded around the triggers (TRUNCATE) is recovered by a rebuild.
        EncounterKpi.objects.all().delete()
        assert kpi_summary.verify()["missing"] == 7
        kpi_summary.rebuild()
        assert kpi_summary.verify() == {"rows": 7, "missing": 0, "extra": 0}

    # A second clinic (made by cloning the template schema) has the triggers too, and its
    # summary holds none of the first one's encounters.
    with in_tenant(tenant_b):
        assert follow_up_figures(NOVEMBER).eligible == 0
        encounter = EncounterFactory(occurred_at=at(3), contact=ContactFactory())
        FollowUpTask.objects.create(
            encounter=encounter,
            contact=encounter.contact,
            name="B",
            channel="phone",
            status=S.PENDING,
            opens_at=at(3),
            due_at=at(6),
            closes_at=at(9),
        )
        assert follow_up_figures(NOVEMBER).eligible == 1
        assert kpi_summary.verify() == {"rows": 1, "missing": 0, "extra": 0}


def _targets_post(client, **values):
    """The targets form as shown, with `values` changed (fields: metric__<department id or
    clinic>)."""
    page = client.get("/reports/targets/")
    data = {
        name: "" if field.initial is None else str(field.initial)
        for name, field in page.context["form"].fields.items()
    }
    data |= values
    assert set(values) <= set(data), "unknown field"
    return client.post("/reports/targets/", data)


def test_an_admin_sets_clinic_and_department_targets(world, tenant_a, in_tenant, client_a):
    from crm.models import KpiTarget
    from tests.conftest import login

    with in_tenant(tenant_a):
        StaffFactory(email="kpi-admin@alpha.test", role="admin")
        ward = world["ward"].pk
    login(client_a, "kpi-admin@alpha.test")
    saved = _targets_post(
        client_a,
        follow_up_rate__clinic="85",
        **{f"follow_up_rate__{ward}": "30", "nps__clinic": "-5"},
    )
    assert saved.status_code == 302
    with in_tenant(tenant_a):
        targets = dict(KpiTarget.objects.filter(department=None).values_list("metric", "target"))
        assert KpiTarget.objects.get(metric="follow_up_rate", department=ward).target == 30
    assert targets["follow_up_rate"] == 85 and targets["nps"] == -5
    # The department is held to its own 30 %, which its 33.33 % meets; the clinic to 85 %.
    page = client_a.get("/reports/?period=month&day=2026-11-01")
    [row] = [row for row in page.context["departments"] if row["pk"] == ward]
    assert row["targets"]["follow_up_rate"] == {"target": Decimal("30.00"), "missed": False}
    assert page.context["targets"]["follow_up_rate"]["missed"] is True

    # Emptying the department's target hands it back to the clinic's.
    _targets_post(client_a, **{f"follow_up_rate__{ward}": ""})
    with in_tenant(tenant_a):
        assert not KpiTarget.objects.filter(department=ward).exists()


def test_a_target_out_of_range_saves_nothing(world, tenant_a, in_tenant, client_a):
    from crm.models import KpiTarget
    from tests.conftest import login

    with in_tenant(tenant_a):
        StaffFactory(email="kpi-admin2@alpha.test", role="admin")
        before = list(KpiTarget.objects.values_list("metric", "department_id", "target"))
    login(client_a, "kpi-admin2@alpha.test")
    refused = _targets_post(client_a, follow_up_rate__clinic="150", timeliness__clinic="90")
    assert refused.status_code == 200
    assert refused.context["form"].errors["follow_up_rate__clinic"]
    assert 'role="alert"' in refused.content.decode()  # "… nothing was saved."
    with in_tenant(tenant_a):
        assert list(KpiTarget.objects.values_list("metric", "department_id", "target")) == before


def test_targets_are_for_admins_of_their_own_clinic(
    world, tenant_a, tenant_b, in_tenant, client_a, admin_client_b
):
    from crm.models import KpiTarget
    from tests.conftest import login

    with in_tenant(tenant_a):
        StaffFactory(email="kpi-sup4@alpha.test", role="supervisor")
        before = list(KpiTarget.objects.values_list("metric", "department_id", "target"))
    login(client_a, "kpi-sup4@alpha.test")
    assert client_a.get("/reports/targets/").status_code == 403
    assert client_a.post("/reports/targets/", {"follow_up_rate__clinic": "1"}).status_code == 403
    # Beta's admin sets beta's targets; alpha's stay as they were.
    assert _targets_post(admin_client_b, follow_up_rate__clinic="12").status_code == 302
    with in_tenant(tenant_b):
        assert KpiTarget.objects.get(metric="follow_up_rate", department=None).target == 12
    with in_tenant(tenant_a):
        assert list(KpiTarget.objects.values_list("metric", "department_id", "target")) == before


def test_the_report_page_for_a_week_an_agent_and_a_custom_period(
    world, tenant_a, in_tenant, client_a
):
    from tests.conftest import login

    with in_tenant(tenant_a):
        StaffFactory(email="kpi-sup5@alpha.test", role="supervisor")
        agent = CallAttempt.objects.first().agent
        nurse = StaffFactory(email="kpi-nurse5@alpha.test", role="clinician")
        feedback.praise_record(source="survey", staff=nurse, department=world["ward"])
    login(client_a, "kpi-sup5@alpha.test")
    # The week of Monday 2 November holds the encounters of the 3rd, 5th and 7th (lost).
    week = client_a.get("/reports/", {"period": "week", "day": "2026-11-04"})
    assert week.context["period"] == Period(date(2026, 11, 2), date(2026, 11, 8))
    assert (week.context["figures"].eligible, week.context["figures"].followed_up) == (3, 2)
    assert "day=2026-10-26" in week.context["previous_query"]  # the week before
    ranking = week.context["ranking_lists"]
    assert ranking[0][1][0]["name"] == world["ward"].name  # lowest follow-up rate
    mine = client_a.get("/reports/", {"period": "month", "day": "2026-11-01", "agent": agent.pk})
    assert mine.context["figures"].eligible == 4
    text = mine.content.decode()
    assert 'id="kpi-quality"' in text and "kpi-complaints-received" not in text  # per department
    assert "kpi-complaints-received" in week.content.decode()

    bad = client_a.get(
        "/reports/", {"period": "custom", "start": "2026-11-30", "end": "2026-11-01"}
    )
    assert bad.status_code == 200 and bad.context["form"].non_field_errors()
    assert bad.context["period"].start.day == 1  # this month instead, with the reason shown
    both = client_a.get(
        "/reports/", {"period": "custom", "start": "2026-10-01", "end": "2026-11-30"}
    )
    assert both.context["figures"].eligible == 7  # October's and November's
    today = datetime.now(SHANGHAI).date()
    praised = client_a.get("/reports/", {"period": "day", "day": today.isoformat()})
    assert praised.context["praise"]["by_staff"] == [(nurse.get_full_name() or nurse.email, 1)]

"""Complaints: received, handled open → investigating → replied → closed with a history,
escalated once when overdue; praise counted per staff member and department."""

import importlib
from datetime import timedelta
from pathlib import Path

import chinese_calendar
import pytest
from django.apps import apps as django_apps
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone, translation

import crm.migrations
from crm import workdays
from crm.models import Complaint, Department, FollowUpTask, Message, Praise
from crm.services import feedback, staff
from crm.services.followup import followup_tick
from crm.services.planning import encounters_plan
from tests.clock import SHANGHAI, at
from tests.conftest import login
from tests.crm.conftest import in_english
from tests.factories import ContactFactory, EncounterFactory, RuleFactory, StaffFactory


@pytest.fixture
def supervisor_a(tenant_a, in_tenant):
    with in_tenant(tenant_a):
        return StaffFactory(
            email="sup@alpha.test", first_name="周", last_name="主任", role="supervisor"
        )


@pytest.fixture
def supervisor_client_a(client_a, supervisor_a):
    login(client_a, "sup@alpha.test")
    return client_a


@pytest.fixture
def complaint(tenant_a, in_tenant):
    with in_tenant(tenant_a):
        return feedback.complaint_open(
            summary="护士态度不好", source="call", category="attitude", contact=ContactFactory()
        )


def test_a_complaint_moves_through_its_statuses_with_a_history(
    complaint, supervisor_a, tenant_a, in_tenant
):
    with in_tenant(tenant_a), translation.override("en"):
        feedback.complaint_move(complaint, supervisor_a, "investigating")
        with pytest.raises(ValidationError) as no_reply:
            feedback.complaint_move(complaint, supervisor_a, "replied")
        assert "reply given to the customer" in str(no_reply.value)
        feedback.complaint_move(complaint, supervisor_a, "replied", reply="已致电道歉并改进排班")
        feedback.complaint_update(complaint, supervisor_a, severity="high")
        closed = feedback.complaint_move(complaint, supervisor_a, "closed")
        with pytest.raises(ValidationError) as final:
            feedback.complaint_move(closed, supervisor_a, "open")
        assert "cannot become" in str(final.value)

        assert closed.replied_at and closed.closed_at and closed.reply == "已致电道歉并改进排班"
        history = [(e.action, e.from_status, e.to_status) for e in closed.events.all()]
        assert history == [
            ("created", "", "open"),
            ("status", "open", "investigating"),
            ("replied", "investigating", "replied"),
            ("edited", "", ""),
            ("status", "replied", "closed"),
        ]
        assert closed.events.get(action="edited").changes == {"severity": ["Medium", "High"]}


def test_overdue_complaints_are_escalated_once_to_supervisors(
    complaint, supervisor_a, tenant_a, in_tenant, django_capture_on_commit_callbacks
):
    with in_tenant(tenant_a):
        Complaint.objects.filter(pk=complaint.pk).update(
            deadline=timezone.now() - timedelta(hours=1)
        )
        with django_capture_on_commit_callbacks(execute=True):
            assert followup_tick().complaints_escalated == 1
            assert followup_tick().complaints_escalated == 0
        complaint.refresh_from_db()
        assert complaint.escalated_at and complaint.events.filter(action="escalated").count() == 1
        alerts = Message.objects.filter(purpose="complaint_overdue")
        assert "sup@alpha.test" in {m.to for m in alerts}
    assert any(f"#{complaint.pk}" in m.subject for m in mail.outbox)


def test_a_staff_alert_template_cannot_walk_to_the_patients_number(
    complaint, supervisor_a, tenant_a, in_tenant, django_capture_on_commit_callbacks
):
    from crm.message_templates import render_text
    from crm.models import MessageTemplate

    with in_tenant(tenant_a):
        complaint.contact.phones.create(number="+8613800138777")
        MessageTemplate.objects.update_or_create(
            purpose="complaint_overdue",
            channel="email",
            language="zh-hans",
            defaults={
                "subject": "投诉 #{{ complaint.pk }}",
                "body": "号码：{{ complaint.contact.phones.first.number }}。{{ complaint_url }}",
            },
        )
        Complaint.objects.filter(pk=complaint.pk).update(
            deadline=timezone.now() - timedelta(hours=1)
        )
        with django_capture_on_commit_callbacks(execute=True):
            followup_tick()
        [alert] = Message.objects.filter(purpose="complaint_overdue")[:1]

        assert alert.subject == f"投诉 #{complaint.pk}"
        assert "13800138777" not in alert.body and alert.body.startswith("号码：。")
        with pytest.raises(TypeError, match="not a plain value"):
            render_text("{{ complaint }}", {"complaint": complaint})


def test_an_agent_receives_a_complaint_and_praise_from_the_call_page(
    agent_client_a, supervisor_a, tenant_a, in_tenant
):
    with in_tenant(tenant_a):
        RuleFactory(steps=[{"offset_days": 0, "due_days": 2}])
        encounter = EncounterFactory(occurred_at=timezone.now() - timedelta(days=1))
        encounters_plan([encounter.pk])
        task = FollowUpTask.objects.filter(encounter=encounter).first()
    page = agent_client_a.get(f"/tasks/{task.pk}/").content.decode()
    assert f"/complaints/new/?task={task.pk}" in page and f"/praise/new/?task={task.pk}" in page

    made = agent_client_a.post(
        f"/complaints/new/?task={task.pk}",
        {
            "source": "call",
            "kind": "complaint",
            "category": "fees",
            "severity": "medium",
            "summary": "收费不清楚",
        },
    )
    praised = agent_client_a.post(
        f"/praise/new/?task={task.pk}", {"staff": supervisor_a.pk, "text": "周主任很耐心"}
    )

    assert made.status_code == 302 and praised.status_code == 302
    with in_tenant(tenant_a):
        complaint = Complaint.objects.get()
        assert (complaint.task, complaint.contact, complaint.encounter) == (
            task,
            task.contact,
            encounter,
        )
        assert Praise.objects.get().staff == supervisor_a
    assert agent_client_a.get("/complaints/").status_code == 403  # handling is for supervisors


def test_a_complaint_without_a_summary_is_refused_and_nothing_saved(
    agent_client_a, tenant_a, in_tenant
):
    in_english(agent_client_a)
    response = agent_client_a.post(
        "/complaints/new/",
        {
            "source": "phone_in",
            "kind": "complaint",
            "category": "other",
            "severity": "low",
            "summary": "",
        },
    )
    assert response.status_code == 400 and "This field is required" in response.content.decode()
    with in_tenant(tenant_a):
        assert Complaint.objects.count() == 0


def test_the_supervisor_handles_a_complaint_in_the_ui(
    supervisor_client_a, complaint, tenant_a, in_tenant
):
    listed = supervisor_client_a.get("/complaints/").content.decode()
    assert "护士态度不好" not in listed and f"/complaints/{complaint.pk}/" in listed

    refused = supervisor_client_a.post(
        f"/complaints/{complaint.pk}/move/", {"to_status": "replied"}
    )
    assert refused.status_code == 400
    replied = supervisor_client_a.post(
        f"/complaints/{complaint.pk}/move/", {"to_status": "replied", "reply": "已回电致歉"}
    )
    assert replied.status_code == 302
    with in_tenant(tenant_a):
        complaint.refresh_from_db()
        assert complaint.status == "replied" and complaint.reply == "已回电致歉"


def test_praise_is_counted_per_staff_member_and_department(
    supervisor_client_a, supervisor_a, tenant_a, in_tenant
):
    from crm.models import Department

    with in_tenant(tenant_a):
        ward = Department.objects.first()
        for _ in range(2):
            feedback.praise_record(source="survey", staff=supervisor_a, department=ward)
    page = supervisor_client_a.get("/praise/")
    assert [r["count"] for r in page.context["by_staff"]] == [2]
    assert [(r["department__name"], r["count"]) for r in page.context["by_department"]] == [
        (ward.name, 2)
    ]


def test_another_clinic_cannot_see_or_change_a_complaint(
    admin_client_b, complaint, tenant_a, in_tenant
):
    assert admin_client_b.get(f"/complaints/{complaint.pk}/").status_code == 404
    moved = admin_client_b.post(f"/complaints/{complaint.pk}/move/", {"to_status": "closed"})
    assert moved.status_code == 404
    assert "护士态度不好" not in admin_client_b.get("/complaints/?list=all").content.decode()
    with in_tenant(tenant_a):
        complaint.refresh_from_db()
        assert complaint.status == "open"


def test_another_clinic_does_not_see_the_praise(admin_client_b, supervisor_a, tenant_a, in_tenant):
    with in_tenant(tenant_a):
        feedback.praise_record(source="survey", staff=supervisor_a, text="周主任很耐心")
    page = admin_client_b.get("/praise/")
    assert page.status_code == 200
    assert list(page.context["by_staff"]) == [] and "周主任很耐心" not in page.content.decode()


User = get_user_model()

# Complaint clocks in working days (DESIGN.md §7a.4). The clinic is in mainland China; its
# SLA is set here so that the reply falls on 2025's make-up Saturday.
NATIONAL_DAY_EVE = "2025-09-26 10:00"  # Friday; Oct 1–8 off, Sun Sep 28 and Sat Oct 11 worked
UNKNOWN_YEAR = max(chinese_calendar.holidays).year + 1


@pytest.fixture
def sla(tenant_a):
    """Acknowledge within 1 working day, reply within 6, counted on mainland China's days."""
    tenant_a.phone_region, tenant_a.timezone = "CN", "Asia/Shanghai"
    tenant_a.complaint_ack_days, tenant_a.complaint_reply_days = 1, 6
    tenant_a.save(
        update_fields=["phone_region", "timezone", "complaint_ack_days", "complaint_reply_days"]
    )
    return tenant_a


def _received(tenant, in_tenant, **details):
    with in_tenant(tenant):
        return feedback.complaint_open(summary="出院结算排队太久", source="phone_in", **details)


@pytest.mark.now(NATIONAL_DAY_EVE, tick=False)
def test_a_complaint_before_national_day_skips_the_holiday_and_counts_the_make_up_days(
    sla, in_tenant
):
    complaint = _received(sla, in_tenant)

    assert complaint.created_at == at(NATIONAL_DAY_EVE)
    assert complaint.acknowledge_by == at("2025-09-28 10:00")  # the make-up Sunday
    assert complaint.deadline == at("2025-10-11 10:00")  # the make-up Saturday
    assert complaint.holidays_unknown_year is None


@pytest.mark.now(NATIONAL_DAY_EVE, tick=False)
def test_a_clinic_outside_mainland_china_counts_weekends_only(sla, in_tenant):
    sla.phone_region = "SG"
    sla.save(update_fields=["phone_region"])

    complaint = _received(sla, in_tenant)

    assert complaint.acknowledge_by == at("2025-09-29 10:00")
    assert complaint.deadline == at("2025-10-06 10:00")


@pytest.mark.now(NATIONAL_DAY_EVE, tick=False)
def test_waiting_on_the_customer_stops_the_clock_and_moves_the_deadline(
    sla, supervisor_a, in_tenant, clock
):
    complaint = _received(sla, in_tenant)
    with in_tenant(sla), translation.override("en"):
        clock.move_to(at("2025-09-29 09:00"))
        waiting = feedback.complaint_move(
            complaint, supervisor_a, "waiting", note="请患者提供结算单号"
        )
        # Past the old deadline while waiting: not overdue, not escalated.
        clock.move_to(at("2025-10-12 09:00"))
        assert feedback.complaints_escalate() == 0
        assert Complaint.objects.filter(status__in=Complaint.UNANSWERED).count() == 0
        clock.move_to(at("2025-10-13 15:00"))
        answered = feedback.complaint_move(complaint, supervisor_a, "investigating")

        # Paused Mon Sep 29 09:00 to Mon Oct 13 15:00: 15 h + the 30th + Oct 9, 10, 11 + 15 h;
        # Sat Oct 11 10:00 plus that is Fri Oct 17 16:00 (Sunday the 12th is off).
        assert waiting.acknowledged_at == at("2025-09-29 09:00")
        assert (answered.paused_at, answered.paused_for) == (None, timedelta(days=5, hours=6))
        assert answered.deadline == at("2025-10-17 16:00")
        assert answered.acknowledge_by == at("2025-09-28 10:00")  # already met: not moved
        history = [(e.action, e.note, e.changes) for e in answered.events.all()]
        assert history == [
            ("created", "", {}),
            ("waiting", "请患者提供结算单号", {}),
            ("answered", "", {"deadline": ["2025-10-11 10:00", "2025-10-17 16:00"]}),
        ]


@pytest.mark.now(NATIONAL_DAY_EVE, tick=False)
def test_waiting_without_saying_what_was_asked_is_refused_and_nothing_changes(
    sla, supervisor_client_a, in_tenant
):
    complaint = _received(sla, in_tenant)
    in_english(supervisor_client_a)

    response = supervisor_client_a.post(
        f"/complaints/{complaint.pk}/move/", {"to_status": "waiting", "note": "  "}
    )

    assert response.status_code == 400
    assert "Write what you asked the customer" in response.content.decode()
    with in_tenant(sla):
        complaint.refresh_from_db()
        assert (complaint.status, complaint.paused_at, complaint.acknowledged_at) == (
            "open",
            None,
            None,
        )
        assert complaint.deadline == at("2025-10-11 10:00")
        assert [e.action for e in complaint.events.all()] == ["created"]


@pytest.mark.now(NATIONAL_DAY_EVE, tick=False)
@pytest.mark.parametrize(
    ("language", "texts"),
    [
        (
            "en",
            [
                "Acknowledge by",
                "2025-09-28 10:00",
                "Reply by",
                "2025-10-11 10:00",
                "mainland China's public holidays are skipped",
            ],
        ),
        ("zh-hans", ["确认受理期限", "2025-09-28 10:00", "答复期限", "2025-10-11 10:00", "调休"]),
    ],
)
def test_the_complaint_page_shows_both_milestones(
    sla, supervisor_client_a, in_tenant, language, texts
):
    complaint = _received(sla, in_tenant)
    supervisor_client_a.cookies["django_language"] = language

    page = supervisor_client_a.get(f"/complaints/{complaint.pk}/").content.decode()

    assert [text in page for text in texts] == [True] * len(texts)
    assert 'id="milestone-calendar-note"' not in page


@pytest.mark.now(f"{UNKNOWN_YEAR - 1}-12-30 10:00", tick=False)
def test_a_year_without_holiday_data_counts_weekends_and_says_so_on_the_page(
    sla, supervisor_client_a, in_tenant
):
    complaint = _received(sla, in_tenant)
    in_english(supervisor_client_a)

    page = supervisor_client_a.get(f"/complaints/{complaint.pk}/").content.decode()
    supervisor_client_a.cookies["django_language"] = "zh-hans"
    page_zh = supervisor_client_a.get(f"/complaints/{complaint.pk}/").content.decode()

    assert complaint.holidays_unknown_year == UNKNOWN_YEAR
    expected = workdays.add_working_days(
        complaint.created_at, 6, calendar=workdays.calendar_for("US"), zone=SHANGHAI
    )
    assert complaint.deadline == expected
    assert f"The public holidays of {UNKNOWN_YEAR} are not in CareBridge" in page
    assert f"{UNKNOWN_YEAR} 年的法定节假日" in page_zh


def _escalated(tenant, in_tenant, complaint, capture):
    with in_tenant(tenant):
        Complaint.objects.filter(pk=complaint.pk).update(
            deadline=timezone.now() - timedelta(hours=1)
        )
        with capture(execute=True):
            assert feedback.complaints_escalate() == 1
        return (
            complaint.events.get(action__startswith="escalated").action,
            sorted(m.to for m in Message.objects.filter(purpose="complaint_overdue")),
        )


def test_an_overdue_complaint_goes_to_its_departments_supervisors_first(
    tenant_a, in_tenant, admin_a, supervisor_a, django_capture_on_commit_callbacks
):
    with in_tenant(tenant_a):
        ward, other = Department.objects.order_by("pk")[:2]
        own = StaffFactory(email="ward-sup@alpha.test", role="supervisor")
        staff.staff_set_departments(user=own, departments=[ward])
        staff.staff_set_departments(user=supervisor_a, departments=[other])
        # A clinician of the ward is not a supervisor: not alerted.
        staff.staff_set_departments(
            user=StaffFactory(email="ward-doc@alpha.test", role="clinician"), departments=[ward]
        )
    complaint = _received(tenant_a, in_tenant, department=ward)

    action, alerted = _escalated(tenant_a, in_tenant, complaint, django_capture_on_commit_callbacks)

    assert (action, alerted) == ("escalated_department", ["ward-sup@alpha.test"])


def test_an_overdue_complaint_of_a_department_without_supervisors_goes_to_everyone(
    tenant_a, in_tenant, admin_a, supervisor_a, django_capture_on_commit_callbacks
):
    with in_tenant(tenant_a):
        ward, other = Department.objects.order_by("pk")[:2]
        staff.staff_set_departments(user=supervisor_a, departments=[other])
    complaint = _received(tenant_a, in_tenant, department=ward)

    action, alerted = _escalated(tenant_a, in_tenant, complaint, django_capture_on_commit_callbacks)

    with in_tenant(tenant_a):
        everyone = User.objects.filter(is_active=True, groups__name__in=["supervisor", "admin"])
        expected = sorted(everyone.values_list("email", flat=True).distinct())
    assert "admin@alpha.test" in expected and "sup@alpha.test" in expected
    assert (action, alerted) == ("escalated", expected)


def test_another_clinic_cannot_make_a_complaint_wait_nor_list_the_waiting_ones(
    admin_client_b, supervisor_a, complaint, tenant_a, in_tenant
):
    with in_tenant(tenant_a):
        feedback.complaint_move(complaint, supervisor_a, "waiting", note="请提供发票")
    answered = admin_client_b.post(
        f"/complaints/{complaint.pk}/move/", {"to_status": "investigating"}
    )
    waiting_b = admin_client_b.get("/complaints/?list=waiting")

    assert answered.status_code == 404
    assert waiting_b.status_code == 200 and list(waiting_b.context["page"]) == []
    with in_tenant(tenant_a):
        complaint.refresh_from_db()
        assert (complaint.status, complaint.events.count()) == ("waiting", 2)


def test_the_waiting_list_shows_the_complaints_waiting_on_the_customer(
    supervisor_client_a, supervisor_a, complaint, tenant_a, in_tenant
):
    with in_tenant(tenant_a):
        feedback.complaint_move(complaint, supervisor_a, "waiting", note="请提供发票")

    waiting = supervisor_client_a.get("/complaints/?list=waiting")
    unanswered = supervisor_client_a.get("/complaints/")

    assert [c.pk for c in waiting.context["page"]] == [complaint.pk]
    assert list(unanswered.context["page"]) == []


def _migration(name: str):
    """A migration module by its name, whatever number it carries when merged."""
    [path] = Path(crm.migrations.__file__).parent.glob(f"*_{name}.py")
    return importlib.import_module(f"crm.migrations.{path.stem}")


@pytest.mark.now(NATIONAL_DAY_EVE, tick=False)
def test_existing_complaints_get_their_acknowledge_milestone_from_the_migration(
    sla, supervisor_a, in_tenant, clock
):
    fill = _migration("complaint_milestones_and_pauses").milestones_fill
    with in_tenant(sla):
        waiting, taken_up, dropped = (
            feedback.complaint_open(summary=text, source="phone_in") for text in "abc"
        )
        clock.move_to(at("2025-09-29 09:00"))
        feedback.complaint_move(taken_up, supervisor_a, "investigating")
        feedback.complaint_move(dropped, supervisor_a, "closed")
        # As before the migration: the new columns empty.
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("ALTER TABLE crm_complaint ALTER COLUMN acknowledge_by DROP NOT NULL")
        Complaint.objects.update(acknowledge_by=None, acknowledged_at=None)

        fill(django_apps, None)

        assert list(
            Complaint.objects.order_by("pk").values_list("acknowledge_by", "acknowledged_at")
        ) == [
            (at("2025-09-28 10:00"), None),
            (at("2025-09-28 10:00"), at("2025-09-29 09:00")),
            (at("2025-09-28 10:00"), None),  # closed unanswered: never acknowledged
        ]
        assert waiting.deadline == Complaint.objects.get(pk=waiting.pk).deadline

"""Complaints: received, handled open → investigating → replied → closed with a history,
escalated once when overdue; praise counted per staff member and department."""

from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.utils import timezone, translation

from crm.models import Complaint, FollowUpTask, Message, Praise
from crm.services import feedback
from crm.services.followup import followup_tick
from crm.services.planning import encounters_plan
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
    from crm.messaging import render_text
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

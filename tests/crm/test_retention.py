"""Retention and erasure (issue 18, item 11): an import's file goes when the import ends and
its rejected rows 30 days later; contacts past the clinic's retention period are anonymised
by the tick, an administrator erases one on request; counts and past reports never change."""

import importlib
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.apps import apps as django_apps
from django.contrib.auth import get_user_model

from crm.models import (
    AuditEntry,
    CallAttempt,
    Complaint,
    Contact,
    ContactPhone,
    Encounter,
    FollowUpTask,
    ImportJob,
    Message,
    OutcomeCode,
    Praise,
)
from crm.reporting.period import month_period
from crm.reporting.report import report_build
from crm.services import retention
from crm.services.followup import followup_tick
from saas import clock as product_clock
from surveys.models import SurveyAnswer, SurveyResponse, SurveyTemplate
from tenants.models import Tenant
from tests.clock import at
from tests.conftest import login
from tests.crm.conftest import in_english
from tests.crm.test_imports import BAD, GOOD, csv_bytes, run_import
from tests.factories import ContactFactory, EncounterFactory

pytestmark = pytest.mark.now("2026-11-24 09:00")


# --- Import files -------------------------------------------------------------------------


def test_an_import_empties_its_file_when_it_ends_and_keeps_its_rejected_rows(
    admin_client_a, tenant_a, in_tenant, django_capture_on_commit_callbacks
):
    pk = run_import(admin_client_a, csv_bytes(GOOD + BAD[:1]), django_capture_on_commit_callbacks)

    with in_tenant(tenant_a):
        job = ImportJob.objects.get(pk=pk)
        assert job.status == ImportJob.Status.DONE, job.errors
        assert bytes(job.content) == b"", job.errors
        assert job.rejected_count == 1 == job.error_rows
        assert job.rejected_cells == {"5": BAD[0]}
    body = admin_client_a.get(f"/imports/{pk}/rejected.csv").content.decode("utf-8-sig")
    assert body.splitlines()[1].startswith("5,4,骨科,赵六,男,50,ZY004,骨折,2026-11-20,12345,")


def test_a_failed_import_empties_its_file_too(tenant_a, in_tenant, admin_a):
    from crm.services.import_jobs import import_fail

    with in_tenant(tenant_a):
        job = ImportJob.objects.create(
            filename="x.csv", content=csv_bytes(GOOD), status=ImportJob.Status.RUNNING
        )
        import_fail(job.pk, "worker lost")
        job.refresh_from_db()

    assert (job.status, bytes(job.content), job.failure) == ("failed", b"", "worker lost")
    assert job.finished_at is not None  # the 30 days of its rejected rows count from here


def test_rejected_rows_are_purged_30_days_after_the_import_and_the_download_says_so(
    admin_client_a, tenant_a, in_tenant, clock, django_capture_on_commit_callbacks
):
    pk = run_import(admin_client_a, csv_bytes(GOOD + BAD[:2]), django_capture_on_commit_callbacks)
    with in_tenant(tenant_a):
        followup_tick()  # 29 days early: kept
        assert ImportJob.objects.get(pk=pk).rejected_cells != {}

    clock.shift(timedelta(days=31))
    with in_tenant(tenant_a):
        followup_tick()
        job = ImportJob.objects.get(pk=pk)

    assert (job.errors, job.rejected_cells, job.preview) == ([], {}, {})
    assert (job.created_count, job.rejected_count, job.error_rows) == (3, 2, 2)
    login(admin_client_a, "admin@alpha.test")  # a month idle ended the session
    in_english(admin_client_a)
    response = admin_client_a.get(f"/imports/{pk}/rejected.csv", follow=True)
    assert response.redirect_chain == [(f"/imports/{pk}/", 302)]
    assert "The rejected rows were deleted 30 days after the import" in response.content.decode()


def test_the_migration_empties_the_files_of_imports_that_ended_before_it(tenant_a, in_tenant):
    migration = importlib.import_module("crm.migrations.0021_import_files_emptied")
    with in_tenant(tenant_a):
        old = ImportJob.objects.create(
            filename="old.csv",
            content=csv_bytes(GOOD + BAD[:1]),
            status=ImportJob.Status.DONE,
            errors=[{"row": 5, "column": "电话", "message": "bad phone"}],
        )
        waiting = ImportJob.objects.create(
            filename="next.csv", content=csv_bytes(GOOD), status=ImportJob.Status.MAPPED
        )
        migration.empty_ended_files(django_apps, None)
        old.refresh_from_db()
        waiting.refresh_from_db()

    assert (bytes(old.content), old.rejected_cells, old.rejected_count) == (b"", {"5": BAD[0]}, 1)
    assert bytes(waiting.content) == csv_bytes(GOOD)


# --- Retention policy ---------------------------------------------------------------------


def _history(day, *, name: str) -> Contact:
    """A contact with everything personal the product keeps about them, from ``day``."""
    agent = get_user_model().objects.filter(is_active=True).first()
    contact = ContactFactory(
        name=name, address="人民路 1 号", notes="怕打针", email="p@example.cn", phone=None
    )
    encounter = EncounterFactory(
        contact=contact,
        occurred_at=day,
        diagnosis="股骨颈骨折",
        bed="12床",
        notes="对青霉素过敏",
        diagnosis_code="S72.0",
    )
    task = FollowUpTask.objects.create(
        encounter=encounter,
        contact=contact,
        name="Day 3",
        channel="phone",
        opens_at=day,
        due_at=day + timedelta(days=3),
        closes_at=day + timedelta(days=5),
        status=FollowUpTask.Status.COMPLETED,
        completed_at=day + timedelta(days=1),
        reached_in_window=True,
        attempts_count=1,
        last_outcome="reached",
        result_summary="恢复良好",
    )
    reached = OutcomeCode.objects.filter(category="reached").first()
    CallAttempt.objects.create(
        task=task,
        agent=agent,
        channel="phone",
        started_at=day + timedelta(days=1),
        outcome=reached,
        category="reached",
        notes="女儿接的电话",
    )
    Complaint.objects.create(
        source="call",
        contact=contact,
        encounter=encounter,
        summary="护士态度差",
        reply="已道歉",
        deadline=day + timedelta(days=7),
        acknowledge_by=day + timedelta(days=1),
    )
    Praise.objects.create(source="call", contact=contact, text="感谢王医生")
    Message.objects.create(
        channel="sms",
        purpose="follow_up",
        to="+8613800138001",
        contact=contact,
        task=task,
        body=f"{name}您好",
        send_after=day,
        status=Message.Status.SENT,
    )
    survey = SurveyTemplate.objects.filter(published__isnull=False).first()
    response = SurveyResponse.objects.create(
        version=survey.published,
        template=survey,
        source="call",
        contact=contact,
        encounter=encounter,
        score=Decimal("4.00"),
        satisfaction="satisfied",
        submitted_at=day + timedelta(days=1),
    )
    SurveyAnswer.objects.create(response=response, question_key="q1", kind="rating", number=4)
    SurveyAnswer.objects.create(response=response, question_key="q2", kind="text", text="饭菜凉")
    return contact


def _figures(day: date) -> tuple:
    report = report_build(month_period(day))
    return (
        report.figures,
        report.satisfaction,
        report.complaints,
        report.praise,
        report.spot_checks,
    )


def _assert_anonymised(contact: Contact) -> None:
    contact.refresh_from_db()
    assert contact.anonymised_at is not None
    assert (contact.name, contact.record_no, contact.address, contact.notes, contact.email) == (
        "已匿名",
        "",
        "",
        "",
        "",
    )
    assert not ContactPhone.objects.filter(contact=contact).exists()
    encounter = Encounter.objects.get(contact=contact)
    assert (encounter.diagnosis, encounter.bed, encounter.notes) == ("", "", "")
    assert encounter.diagnosis_code == "S72.0"  # codes are counted, not a person
    assert FollowUpTask.objects.get(contact=contact).result_summary == ""
    assert CallAttempt.objects.get(task__contact=contact).notes == ""
    complaint = Complaint.objects.get(contact=contact)
    assert (complaint.summary, complaint.reply) == ("", "")
    assert Praise.objects.get(contact=contact).text == ""
    message = Message.objects.get(contact=contact)
    assert (message.to, message.body) == ("", "")
    answers = SurveyAnswer.objects.filter(response__contact=contact).order_by("question_key")
    assert [(a.number, a.text) for a in answers] == [(4, ""), (None, "")]


def test_the_tick_anonymises_contacts_past_the_retention_period_and_keeps_the_reports(
    tenant_a, in_tenant
):
    with in_tenant(tenant_a):
        Tenant.objects.filter(pk=tenant_a.pk).update(retention_years=2)
        old = _history(at("2024-10-10 10:00"), name="张老")
        recent = _history(at("2025-02-10 10:00"), name="李新")
        before = (_figures(date(2024, 10, 1)), _figures(date(2025, 2, 1)))

        from django.db import connection

        connection.tenant.refresh_from_db()
        result = followup_tick()

        assert result.anonymised == 1
        _assert_anonymised(old)
        recent.refresh_from_db()
        assert (recent.name, recent.anonymised_at, recent.phones.count()) == ("李新", None, 1)
        assert (_figures(date(2024, 10, 1)), _figures(date(2025, 2, 1))) == before
        assert old.anonymised_reason == Contact.Erasure.RETENTION
        # Once a day: a second tick the same day does not run it again, and a forced run
        # finds nothing more to do.
        assert followup_tick().anonymised == 0
        assert retention.retention_run(force=True).anonymised == 0
        assert Tenant.objects.get(pk=tenant_a.pk).retention_ran_on == date(2026, 11, 24)


def test_a_clinic_that_keeps_everything_anonymises_nothing(tenant_a, in_tenant):
    with in_tenant(tenant_a):
        from django.db import connection

        Tenant.objects.filter(pk=tenant_a.pk).update(retention_years=None)
        connection.tenant.refresh_from_db()
        old = _history(at("2010-10-10 10:00"), name="张老")

        assert retention.retention_run().anonymised == 0
        old.refresh_from_db()
        assert old.anonymised_at is None


def test_retention_works_through_many_contacts_in_batches_over_ticks(
    tenant_a, in_tenant, monkeypatch
):
    monkeypatch.setattr(retention, "PER_TICK", 3)
    monkeypatch.setattr(retention, "BATCH", 2)
    with in_tenant(tenant_a):
        from django.db import connection

        Tenant.objects.filter(pk=tenant_a.pk).update(retention_years=1)
        connection.tenant.refresh_from_db()
        for _ in range(5):
            EncounterFactory(occurred_at=at("2024-01-10 10:00"))

        first = retention.retention_run()
        second = retention.retention_run()

        assert (first.anonymised, first.done, second.anonymised, second.done) == (3, False, 2, True)
        assert Contact.objects.filter(anonymised_at__isnull=True).count() == 0


def test_an_anonymised_contact_is_never_planned_or_called_again(tenant_a, in_tenant):
    with in_tenant(tenant_a):
        encounter = EncounterFactory(occurred_at=product_clock.now() - timedelta(days=1))
        task = FollowUpTask.objects.create(
            encounter=encounter,
            contact=encounter.contact,
            name="Day 3",
            channel="phone",
            opens_at=product_clock.now(),
            due_at=product_clock.now() + timedelta(days=3),
            closes_at=product_clock.now() + timedelta(days=5),
        )

        retention.contact_anonymise(encounter.contact, reason=Contact.Erasure.LEGAL)
        task.refresh_from_db()

        assert (task.status, task.reason) == ("cancelled", "anonymised")
        assert encounter.contact.__class__.objects.get(pk=encounter.contact_id).reachable is False


# --- Erasure on request -------------------------------------------------------------------


def test_an_administrator_erases_a_patient_and_past_reports_do_not_change(
    admin_client_a, admin_a, tenant_a, in_tenant
):
    with in_tenant(tenant_a):
        contact = _history(at("2026-09-10 10:00"), name="王五")
        before = _figures(date(2026, 9, 1))

    page = admin_client_a.get(f"/contacts/{contact.pk}/erase/")
    response = admin_client_a.post(
        f"/contacts/{contact.pk}/erase/", {"reason": "patient_request", "confirm": "on"}
    )

    assert (page.status_code, response.status_code) == (200, 302)
    with in_tenant(tenant_a):
        _assert_anonymised(contact)
        assert _figures(date(2026, 9, 1)) == before
        entry = AuditEntry.objects.get(action=AuditEntry.Action.CONTACT_ERASED)
        assert (entry.actor_id, entry.contact_id, entry.object_id) == (
            admin_a.pk,
            contact.pk,
            "patient_request",
        )
    detail = admin_client_a.get(f"/contacts/{contact.pk}/").content.decode()
    assert 'id="anonymised"' in detail
    assert "王五" not in detail


def test_an_erasure_without_confirmation_is_refused_and_changes_nothing(
    admin_client_a, tenant_a, in_tenant
):
    with in_tenant(tenant_a):
        contact = ContactFactory(name="王五")
    in_english(admin_client_a)

    response = admin_client_a.post(f"/contacts/{contact.pk}/erase/", {"reason": "patient_request"})

    assert response.status_code == 400
    assert "Tick the box to confirm the erasure." in response.content.decode()
    with in_tenant(tenant_a):
        contact.refresh_from_db()
        assert (contact.name, contact.anonymised_at) == ("王五", None)
        assert not AuditEntry.objects.filter(action=AuditEntry.Action.CONTACT_ERASED).exists()


def test_only_administrators_of_the_clinic_may_erase(
    agent_client_a, admin_client_b, tenant_a, in_tenant
):
    with in_tenant(tenant_a):
        contact = ContactFactory(name="王五")
    posted = {"reason": "patient_request", "confirm": "on"}

    as_agent = agent_client_a.post(f"/contacts/{contact.pk}/erase/", posted)
    as_other_clinic = admin_client_b.post(f"/contacts/{contact.pk}/erase/", posted)

    assert (as_agent.status_code, as_other_clinic.status_code) == (403, 404)
    with in_tenant(tenant_a):
        contact.refresh_from_db()
        assert (contact.name, contact.anonymised_at) == ("王五", None)


def test_retention_years_are_set_on_the_settings_page_within_1_to_30(admin_client_a, tenant_a):
    from tenants.forms import TenantSettingsForm

    values = TenantSettingsForm.initial_for(Tenant.objects.get(pk=tenant_a.pk))
    in_english(admin_client_a)

    refused = admin_client_a.post("/settings/", {**values, "retention_years": "31"})
    saved = admin_client_a.post("/settings/", {**values, "retention_years": "5"})

    assert refused.status_code == 200
    assert "less than or equal to 30" in refused.content.decode()
    assert saved.status_code == 302
    assert Tenant.objects.get(pk=tenant_a.pk).retention_years == 5

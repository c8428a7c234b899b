"""Work whose message never reached a worker (the broker was away when it committed, the
worker died before it started) is found and done by the tick: encounters left without their
follow-ups, workbooks left "reading". In these tests the on-commit messages are not sent,
as when the broker was down."""

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from crm.models import Encounter, EncounterPlanPending, FollowUpRule, FollowUpTask, ImportJob
from crm.services import import_jobs, planning
from crm.tasks import followup_tick_task
from tests.crm.test_import_workbooks import workbook
from tests.crm.test_imports import (
    GOOD,
    HEADERS,
    csv_bytes,
    imports_lock,
    job_id,
    other_session_holding,
    run_import,
)
from tests.factories import EncounterFactory, RuleFactory

pytestmark = pytest.mark.now("2026-11-24 09:00")


def _rule():
    FollowUpRule.objects.update(active=False)
    RuleFactory(steps=[{"offset_days": 1, "due_days": 3, "channel": "phone"}])


def test_an_encounter_whose_planning_was_lost_is_planned_by_the_tick(tenant_a, in_tenant, clock):
    with in_tenant(tenant_a):
        _rule()
        encounter = EncounterFactory(occurred_at=timezone.now() - timedelta(days=1))
        assert EncounterPlanPending.objects.filter(encounter_id=encounter.pk).exists()

        clock.shift(timedelta(minutes=20))  # its planning may still be queued behind others
        assert planning.encounters_unplanned() == []
        clock.shift(timedelta(minutes=11))
        assert planning.encounters_unplanned() == [encounter.pk]

        ticked = followup_tick_task()
        assert ticked["encounters_planned_late"] == 1
        assert FollowUpTask.objects.filter(encounter=encounter).count() == 1
        assert not EncounterPlanPending.objects.exists()
        assert followup_tick_task()["encounters_planned_late"] == 0


def test_planning_that_finds_no_rule_still_counts_as_planned(tenant_a, in_tenant):
    with in_tenant(tenant_a):
        FollowUpRule.objects.update(active=False)
        encounter = EncounterFactory()

        planning.encounters_plan([encounter.pk])

        assert not FollowUpTask.objects.filter(encounter=encounter).exists()
        assert not EncounterPlanPending.objects.exists()


def test_an_import_leaves_nothing_pending_and_another_clinics_tick_plans_nothing_of_it(
    admin_client_a, tenant_a, tenant_b, in_tenant, django_capture_on_commit_callbacks, clock
):
    with in_tenant(tenant_a):
        _rule()
    run_import(admin_client_a, csv_bytes(GOOD), django_capture_on_commit_callbacks)
    with in_tenant(tenant_a):
        assert Encounter.objects.count() == 3
        assert not EncounterPlanPending.objects.exists()  # every row planned as it came
        lost = EncounterFactory()
    clock.shift(timedelta(hours=1))

    with in_tenant(tenant_b):
        assert followup_tick_task()["encounters_planned_late"] == 0
    with in_tenant(tenant_a):
        assert EncounterPlanPending.objects.get().encounter_id == lost.pk


def test_a_workbook_whose_reading_was_lost_is_read_by_the_tick(
    admin_client_a, tenant_a, in_tenant, clock
):
    content = workbook([HEADERS, *GOOD])
    response = admin_client_a.post("/imports/", {"file": SimpleUploadedFile("名单.xlsx", content)})
    pk = job_id(response)  # its reading message was never sent
    with in_tenant(tenant_a):
        assert ImportJob.objects.get(pk=pk).status == "reading"
        clock.shift(timedelta(minutes=11))

        with other_session_holding(imports_lock(tenant_a, pk)):  # a worker reading it now
            assert import_jobs.imports_unread() == []
            assert import_jobs.import_read(pk).status == "reading"  # a second message: hands off
        assert import_jobs.imports_unread() == [pk]
        ticked = followup_tick_task()

        job = ImportJob.objects.get(pk=pk)
        assert ticked["imports_read_again"] == 1
        assert (job.status, job.total_rows) == ("uploaded", 3)
        assert import_jobs.imports_unread() == []

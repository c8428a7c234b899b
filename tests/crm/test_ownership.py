"""Calls routed to whom the regulations name (issue 19 §2): an aesthetic clinic's teams, a
hospital's responsible nurse (责任护士) on the encounter, from the page, the import and the API."""

import pytest
from django.utils import translation

import crm.tasks  # noqa: F401  (registers the tasks services enqueue by name)
from crm.models import Department, Encounter, FollowUpRule, FollowUpTask, ImportJob, RuleStep
from crm.services.planning import encounters_plan
from crm.services.seeding import rules_seed
from crm.services.staff import departments_seed
from tests.crm.test_imports import csv_bytes, run_import
from tests.crm.test_rules_pages import rule_post
from tests.factories import EncounterFactory, RuleFactory, StaffFactory

pytestmark = pytest.mark.now("2026-11-24 09:00")


@pytest.fixture
def alpha(tenant_a, in_tenant):
    with in_tenant(tenant_a):
        FollowUpRule.objects.update(active=False)
        yield tenant_a


def test_a_new_aesthetic_clinic_routes_each_call_to_the_team_the_regulation_names(alpha):
    # What provisioning an aesthetic clinic runs (tenants.presets.PRESET_STEPS), in order.
    FollowUpRule.objects.all().delete()
    departments_seed(kind="aesthetic", locale="zh-hans")
    rules_seed(kind="aesthetic", locale="zh-hans")
    teams = {
        rule.name: [(step.assignee_policy, step.team.name) for step in rule.steps.all()]
        for rule in FollowUpRule.objects.prefetch_related("steps__team")
    }
    assert teams == {
        "术后回访": [("team", "术后护理组")] * 3,
        "出院回访": [("team", "客服中心")],
        "疗程回访": [("team", "医疗美容组")],
        "咨询回访": [("team", "咨询中心")],
    }
    surgery = EncounterFactory(kind="surgery", discharge_outcome="")
    encounters_plan([surgery.pk])
    assert {
        (t.assignee_id, t.department.code) for t in FollowUpTask.objects.filter(encounter=surgery)
    } == {(None, "post-op-care")}


def test_the_nurse_policy_routes_to_the_responsible_nurse_else_the_department(alpha):
    ward = Department.objects.get(code="orthopaedics")
    nurse = StaffFactory(role="clinician", first_name="芳", last_name="王")
    RuleFactory(steps=[{"tier": 1, "assignee_policy": "nurse"}])
    nursed = EncounterFactory(department=ward, responsible_nurse=nurse)
    orphan = EncounterFactory(department=ward)
    encounters_plan([nursed.pk, orphan.pk])
    routed = {
        t.encounter_id: (t.assignee, t.department, t.tier) for t in FollowUpTask.objects.all()
    }
    assert routed == {nursed.pk: (nurse, ward, 1), orphan.pk: (None, ward, 1)}


def test_the_team_policy_sends_the_call_to_the_team_whatever_the_department(alpha):
    team = Department.objects.get(code="internal")
    RuleFactory(steps=[{"assignee_policy": "team", "team": team}])
    encounter = EncounterFactory(department=Department.objects.get(code="orthopaedics"))
    encounters_plan([encounter.pk])
    [task] = FollowUpTask.objects.filter(encounter=encounter)
    assert (task.assignee, task.department) == (None, team)


def test_a_team_step_without_a_team_is_refused(admin_client_a, tenant_a, in_tenant):
    data = rule_post([{"assignee_policy": "team"}], name="团队规则")
    response = admin_client_a.post("/rules/new/", data)
    assert response.status_code == 200
    assert response.context["steps"].forms[0].errors["team"] == ["请选择负责这些回访的团队。"]
    with in_tenant(tenant_a):
        assert not FollowUpRule.objects.filter(name="团队规则").exists()


def test_a_rule_step_saves_its_team(admin_client_a, tenant_a, in_tenant):
    with in_tenant(tenant_a):
        team = Department.objects.get(code="internal")
    data = rule_post([{"assignee_policy": "team", "team": str(team.pk)}], name="团队规则")
    assert admin_client_a.post("/rules/new/", data).status_code == 302
    with in_tenant(tenant_a):
        step = RuleStep.objects.get(rule__name="团队规则")
        assert (step.assignee_policy, step.team) == ("team", team)


HEADERS = ["姓名", "住院号", "科室", "出院时间", "电话", "转归", "责任护士"]


def test_the_import_reads_the_responsible_nurse_and_refuses_a_name_nobody_has(
    admin_client_a, tenant_a, in_tenant, django_capture_on_commit_callbacks
):
    with in_tenant(tenant_a):
        nurse = StaffFactory(role="clinician", first_name="芳", last_name="王")
    rows = [
        ["张三", "ZY101", "骨科", "2026-11-20", "13800138001", "治愈", "芳 王"],
        ["李四", "ZY102", "骨科", "2026-11-20", "13800138002", "治愈", "护士长"],
        ["王五", "ZY103", "骨科", "2026-11-20", "13800138003", "好转", ""],
    ]
    # The rows' errors are written by the import's worker, in the clinic's language.
    tenant_a.locale = "en"
    tenant_a.save()
    with translation.override("zh-hans"):
        pk = run_import(
            admin_client_a, csv_bytes(rows, headers=HEADERS), django_capture_on_commit_callbacks
        )
    with in_tenant(tenant_a):
        job = ImportJob.objects.get(pk=pk)
        assert job.mapping["责任护士"] == "responsible_nurse"
        assert (job.status, job.created_count, job.error_rows) == ("done", 2, 1)
        assert [(e["row"], e["column"], e["message"]) for e in job.errors] == [
            (
                3,
                "责任护士",
                "No active staff member is called “护士长” (responsible nurse): add them under "
                "Staff, or correct the name.",
            )
        ]
        nursed = {
            e.contact.record_no: (e.responsible_nurse, e.responsible_nurse_name)
            for e in Encounter.objects.select_related("contact")
        }
        assert nursed == {"ZY101": (nurse, "芳 王"), "ZY103": (None, "")}


def test_an_import_in_one_clinic_does_not_match_another_clinics_staff(
    admin_client_b, tenant_a, tenant_b, in_tenant, django_capture_on_commit_callbacks
):
    with in_tenant(tenant_a):
        StaffFactory(role="clinician", first_name="Fang", last_name="Wang")
    rows = [["Zhang San", "B101", "", "2026-11-20", "13800138001", "cured", "Fang Wang"]]
    pk = run_import(
        admin_client_b, csv_bytes(rows, headers=HEADERS), django_capture_on_commit_callbacks
    )
    with in_tenant(tenant_b):
        job = ImportJob.objects.get(pk=pk)
        assert (job.created_count, job.error_rows) == (0, 1)
        assert not Encounter.objects.filter(contact__record_no="B101").exists()

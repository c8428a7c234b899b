"""Calls routed to whom the regulations name (issue 19 §2): an aesthetic clinic's teams, a
hospital's responsible nurse (责任护士) on the encounter, from the page, the import and the API."""

from datetime import timedelta

import pytest
from django.utils import translation

import crm.tasks  # noqa: F401  (registers the tasks services enqueue by name)
from crm.models import Department, Encounter, FollowUpRule, FollowUpTask, ImportJob, RuleStep
from crm.services.followup import followup_tick
from crm.services.planning import encounters_plan
from crm.services.seeding import rules_seed
from crm.services.staff import departments_seed
from saas.clock import now
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


# The hospital preset as a new hospital gets it (tenant_a was provisioned from it): who calls
# a discharge depends on how the patient left (issue 19 §2).
@pytest.fixture
def ward(tenant_a, in_tenant):
    with in_tenant(tenant_a):
        yield Department.objects.get(code="orthopaedics")


def discharge_tasks(*encounters):
    encounters_plan([e.pk for e in encounters])
    return {
        e.pk: [
            (t.rule.name, t.assignee, t.department, t.tier, t.status)
            for t in FollowUpTask.objects.filter(encounter=e).select_related(
                "rule", "assignee", "department"
            )
        ]
        for e in encounters
    }


def test_the_hospital_preset_sends_each_discharge_to_whom_the_regulations_name(ward):
    nurse = StaffFactory(role="clinician", first_name="芳", last_name="王")
    doctor = StaffFactory(role="clinician", first_name="强", last_name="李")
    staff = {"department": ward, "attending": doctor, "responsible_nurse": nurse}
    cured = EncounterFactory(discharge_outcome="cured", **staff)
    improved = EncounterFactory(discharge_outcome="improved", **staff)
    transferred = EncounterFactory(discharge_outcome="transferred", **staff)
    unchanged = EncounterFactory(discharge_outcome="unchanged", **staff)
    unrecorded = EncounterFactory(discharge_outcome="", **staff)
    left = EncounterFactory(discharge_outcome="self_discharged", **staff)

    planned = discharge_tasks(cured, improved, transferred, unchanged, unrecorded, left)

    # One discharge follow-up each: the exclusive rules keep the centre's from calling again.
    assert planned == {
        cured.pk: [("出院回访（治愈）", nurse, ward, 1, "pending")],
        improved.pk: [("出院回访（好转/转院）", doctor, ward, 1, "pending")],
        transferred.pk: [("出院回访（好转/转院）", doctor, ward, 1, "pending")],
        unchanged.pk: [("出院回访", None, None, 2, "pending")],
        unrecorded.pk: [("出院回访", None, None, 2, "pending")],
        left.pk: [("出院回访", None, None, 2, "excluded")],
    }


def test_a_cured_discharge_without_a_nurse_waits_in_its_ward_then_goes_to_the_centre(ward):
    # The nurse policy's fallback: the encounter's department queue, still tier 1; a tier-1
    # call nobody made by its due date moves to the follow-up centre (the tick).
    encounter = EncounterFactory(discharge_outcome="cured", department=ward)
    assert discharge_tasks(encounter) == {
        encounter.pk: [("出院回访（治愈）", None, ward, 1, "pending")]
    }
    task = FollowUpTask.objects.get(encounter=encounter)
    followup_tick(now=task.due_at)
    task.refresh_from_db()
    assert (task.assignee, task.department, task.tier) == (None, None, 2)
    assert task.escalated_at == task.due_at


def test_a_cured_chronic_patient_keeps_the_chronic_follow_up(ward):
    nurse = StaffFactory(role="clinician")
    encounter = EncounterFactory(
        discharge_outcome="cured", department=ward, responsible_nurse=nurse, tags=["chronic"]
    )
    names = {name for name, *_rest in discharge_tasks(encounter)[encounter.pk]}
    assert names == {"出院回访（治愈）", "慢病随访"}


def test_a_privacy_sensitive_cured_discharge_is_excluded_not_given_to_the_nurse(ward):
    nurse = StaffFactory(role="clinician")
    encounter = EncounterFactory(
        discharge_outcome="cured", responsible_nurse=nurse, tags=["privacy-sensitive"]
    )
    [(name, assignee, _dept, _tier, status)] = discharge_tasks(encounter)[encounter.pk]
    assert (name, status) == ("出院回访（治愈）", "excluded")
    assert FollowUpTask.objects.get(encounter=encounter).reason == "tag"


def test_a_clinic_that_has_rules_keeps_them_when_the_presets_change(tenant_b, in_tenant):
    # Presets seed new clinics only: another clinic (beta, a dental clinic) is not given the
    # hospital's discharge rules, and its own stay as they were.
    with in_tenant(tenant_b):
        before = list(FollowUpRule.objects.values_list("pk", "name", "updated_at"))
        rules_seed(kind="hospital", locale="en")
        assert list(FollowUpRule.objects.values_list("pk", "name", "updated_at")) == before
        assert not RuleStep.objects.filter(assignee_policy="nurse").exists()


def test_a_new_car_dealer_routes_its_calls_and_calls_lapsed_customers_from_after_sales(alpha):
    FollowUpRule.objects.all().delete()
    departments_seed(kind="service", locale="zh-hans")
    rules_seed(kind="service", locale="zh-hans")
    lapsed = FollowUpRule.objects.get(name="流失客户回访")
    assert (lapsed.trigger, lapsed.lapse_days, lapsed.match_kinds) == (
        "lapsed",
        180,
        ["sale", "maintenance"],
    )
    sale = EncounterFactory(
        kind="sale", discharge_outcome="", occurred_at=now() - timedelta(days=179)
    )
    encounters_plan([sale.pk])
    routed = {(t.name, t.department.code) for t in FollowUpTask.objects.filter(encounter=sale)}
    assert routed == {
        ("销售回访 · 购车后 3 天", "customer-service"),
        ("销售回访 · 首保提醒（3 个月）", "after-sales"),
    }
    # Two days on, the customer has not come back: the tick plans the lapsed call.
    assert followup_tick(now=now() + timedelta(days=2)).lapsed_planned == 1
    task = FollowUpTask.objects.get(encounter=sale, rule=lapsed)
    assert (task.name, task.department.code, task.status) == (
        "流失客户回访 · 半年未到店",
        "after-sales",
        "pending",
    )

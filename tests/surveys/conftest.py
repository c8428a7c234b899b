from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from crm.models import FollowUpRule, FollowUpTask
from crm.services.planning import encounters_plan
from surveys.links import invitation_create
from surveys.models import SurveyQuestion, SurveyTemplate
from surveys.services.templates import template_publish
from tests.crm.conftest import admin_client_a, admin_client_b, agent_client_a  # noqa: F401
from tests.factories import ContactFactory, EncounterFactory, RuleFactory, StaffFactory


def survey_with(questions: list[dict], **options) -> SurveyTemplate:
    template = SurveyTemplate.objects.create(name="满意度调查", **options)
    for position, spec in enumerate(questions, start=1):
        SurveyQuestion.objects.create(
            template=template, position=position, key=f"q{position}", **spec
        )
    template_publish(template)
    template.refresh_from_db()
    return template


STANDARD = [
    {"kind": "rating", "text_zh": "总体满意度", "text_en": "Overall", "dimension": "overall"},
    {"kind": "rating", "text_zh": "医生", "text_en": "Doctor", "dimension": "doctor"},
    {"kind": "nps", "text_zh": "推荐", "text_en": "Recommend", "required": False},
    {
        "kind": "single",
        "text_zh": "恢复",
        "text_en": "Recovery",
        "choices": [["良好", "Well"], ["不适", "Unwell"]],
        "required": False,
    },
    {"kind": "staff", "text_zh": "表扬", "text_en": "Praise", "required": False},
    {
        "kind": "text",
        "text_zh": "投诉",
        "text_en": "Complaint",
        "required": False,
        "raises_complaint": True,
    },
]


@pytest.fixture
def survey(tenant_a, in_tenant):
    with in_tenant(tenant_a):
        return survey_with(STANDARD)


@pytest.fixture
def nurse(tenant_a, in_tenant):
    with in_tenant(tenant_a):
        return StaffFactory(
            email="nurse@alpha.test", first_name="李", last_name="护士", role="clinician"
        )


def _task_of_new_discharge(tenant, in_tenant, step: dict, name: str, phone: str) -> FollowUpTask:
    """The one follow-up a rule of this single step plans for a discharge of yesterday."""
    with in_tenant(tenant):
        FollowUpRule.objects.update(active=False)
        RuleFactory(steps=[{"offset_days": 0, **step}])
        encounter = EncounterFactory(
            contact=ContactFactory(name=name, phone=phone),
            occurred_at=timezone.now() - timedelta(days=1),
        )
        encounters_plan([encounter.pk])
        return FollowUpTask.objects.get(encounter=encounter)


@pytest.fixture
def survey_task(tenant_a, in_tenant, survey):
    """An open survey-link follow-up of a new discharge (window opened yesterday)."""
    step = {"due_days": 3, "channel": "survey_link", "survey": survey}
    return _task_of_new_discharge(tenant_a, in_tenant, step, "王芳", "+8613800138111")


@pytest.fixture
def call_task(tenant_a, in_tenant, survey):
    """An open call follow-up of yesterday's discharge whose step asks STANDARD's survey (q1
    overall and q2 doctor ratings required; q3 NPS, q4 single choice, q5 staff to praise, q6
    complaint text optional), in a clinic that may call at any hour."""
    connection.set_schema_to_public()
    tenant_a.calling_hours = [["00:00", "24:00"]]
    tenant_a.save()
    step = {"due_days": 2, "survey": survey}
    return _task_of_new_discharge(tenant_a, in_tenant, step, "赵六", "+8613800138333")


@pytest.fixture
def link(tenant_a, in_tenant, survey_task, survey):
    """(invitation, token) of the task's contact."""
    with in_tenant(tenant_a):
        return invitation_create(survey, survey_task.contact, task=survey_task)

from datetime import timedelta

import pytest
from django.utils import timezone

from crm.models import FollowUpRule, FollowUpTask
from crm.services.planning import encounters_plan
from surveys.models import SurveyQuestion, SurveyTemplate
from surveys.services import invitation_create, template_publish
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


@pytest.fixture
def survey_task(tenant_a, in_tenant, survey):
    """An open survey-link follow-up of a new discharge (window opened yesterday)."""
    with in_tenant(tenant_a):
        FollowUpRule.objects.update(active=False)
        RuleFactory(
            steps=[{"offset_days": 0, "due_days": 3, "channel": "survey_link", "survey": survey}]
        )
        encounter = EncounterFactory(
            contact=ContactFactory(name="王芳", phone="+8613800138111"),
            occurred_at=timezone.now() - timedelta(days=1),
        )
        encounters_plan([encounter.pk])
        return FollowUpTask.objects.get(encounter=encounter)


@pytest.fixture
def link(tenant_a, in_tenant, survey_task, survey):
    """(invitation, token) of the task's contact."""
    with in_tenant(tenant_a):
        return invitation_create(survey, survey_task.contact, task=survey_task)

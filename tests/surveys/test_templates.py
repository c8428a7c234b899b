"""Survey templates: edited as a draft, published as versions; responses keep theirs."""

import pytest
from django.core.exceptions import ValidationError

from surveys.models import SurveyQuestion, SurveyTemplate, SurveyVersion
from surveys.services.responses import response_submit
from surveys.services.templates import template_publish
from tests.crm.conftest import in_english
from tests.factories import ContactFactory
from tests.surveys.conftest import STANDARD, survey_with


def test_a_template_edit_after_responses_makes_a_new_version(tenant_a, in_tenant):
    with in_tenant(tenant_a):
        template = survey_with(STANDARD[:2])
        first = template.published
        contact = ContactFactory()
        old = response_submit(first, {"q1": 4, "q2": 5}, contact=contact, source="call")
        SurveyQuestion.objects.filter(template=template, key="q2").update(text_zh="主治医生")

        second = template_publish(template)

        old.refresh_from_db()
        assert old.version == first and first.questions[1]["text_zh"] == "医生"
        assert second.number == 2 and second.questions[1]["text_zh"] == "主治医生"
        template.refresh_from_db()
        assert template.published == second and not template.draft_changed


def test_score_is_the_overall_item_else_the_mean_of_dimensions(tenant_a, in_tenant):
    with in_tenant(tenant_a):
        with_overall = survey_with(STANDARD[:2]).published
        dimensions = survey_with(
            [
                {"kind": "rating", "text_zh": "医生", "dimension": "doctor"},
                {"kind": "rating", "text_zh": "护士", "dimension": "nurse"},
                {"kind": "text", "text_zh": "建议", "required": False},
            ]
        ).published
        contact = ContactFactory()
        assert (
            response_submit(
                with_overall, {"q1": 3, "q2": 5}, contact=contact, source="call"
            ).satisfaction
            == "neutral"
        )
        mean = response_submit(dimensions, {"q1": 4, "q2": 5}, contact=contact, source="call")
        assert (mean.score, mean.satisfaction) == (4.5, "satisfied")
        none = response_submit(dimensions, {"q3": "挺好"}, contact=contact, source="call")
        assert (none.score, none.satisfaction) == (None, "")  # a response without any rating


@pytest.mark.parametrize(
    "question,message",
    [
        ({"kind": "single", "text_zh": "选择", "choices": [["一", ""]]}, "at least two choices"),
        ({"kind": "text", "text_zh": "", "text_en": ""}, "Write the question"),
        ({"kind": "nps", "text_zh": "推荐", "dimension": "doctor"}, "Only a rating question"),
    ],
)
def test_publishing_refuses_a_broken_draft(tenant_a, in_tenant, question, message, settings):
    from django.utils import translation

    with in_tenant(tenant_a), translation.override("en"):
        template = SurveyTemplate.objects.create(name="Broken")
        SurveyQuestion.objects.create(template=template, key="q1", **question)
        with pytest.raises(ValidationError) as error:
            template_publish(template)
        assert message in str(error.value)
        assert not SurveyVersion.objects.filter(template=template).exists()


def test_the_admin_builds_and_publishes_a_survey_in_the_ui(admin_client_a, tenant_a, in_tenant):
    form = {
        "name": "Post-op",
        "description": "",
        "satisfied_threshold": "4",
        "low_score_threshold": "2",
        "complaint_on_low_score": "on",
        "link_days": "14",
        "active": "on",
        "questions-TOTAL_FORMS": "2",
        "questions-INITIAL_FORMS": "0",
        "questions-MIN_NUM_FORMS": "0",
        "questions-MAX_NUM_FORMS": "1000",
        "questions-0-kind": "rating",
        "questions-0-text_zh": "总体",
        "questions-0-text_en": "Overall",
        "questions-0-dimension": "overall",
        "questions-0-required": "on",
        "questions-0-ORDER": "1",
        "questions-1-kind": "single",
        "questions-1-text_zh": "恢复",
        "questions-1-choices_text": "良好 | Well\n不适 | Unwell",
        "questions-1-ORDER": "2",
    }
    response = admin_client_a.post("/surveys/new/", {**form, "publish": "1"})

    assert response.status_code == 302
    with in_tenant(tenant_a):
        template = SurveyTemplate.objects.get(name="Post-op")
        assert template.published.number == 1
        assert [q["key"] for q in template.published.questions] == ["q1", "q2"]
        assert template.published.questions[1]["choices"] == [["良好", "Well"], ["不适", "Unwell"]]


def test_a_bad_threshold_is_refused_with_a_message(admin_client_a, tenant_a, in_tenant):
    in_english(admin_client_a)
    response = admin_client_a.post(
        "/surveys/new/",
        {
            "name": "X",
            "satisfied_threshold": "2",
            "low_score_threshold": "3",
            "link_days": "14",
            "questions-TOTAL_FORMS": "0",
            "questions-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 400
    assert "must be below" in response.content.decode()
    with in_tenant(tenant_a):
        assert not SurveyTemplate.objects.filter(name="X").exists()


def test_presets_seed_published_surveys_attached_to_the_first_follow_up(tenant_a, in_tenant):
    from crm.models import RuleStep

    with in_tenant(tenant_a):  # alpha is a hospital provisioned with presets
        inpatient = SurveyTemplate.objects.get(name="住院患者满意度调查")
        dimensions = {q["dimension"] for q in inpatient.published.questions}
        assert {"doctor", "nurse", "environment", "fees", "administration"} <= dimensions
        # The discharge calls, whoever makes them, and surgery's week-1 call.
        attached = RuleStep.objects.filter(survey=inpatient)
        assert sorted(attached.values_list("rule__name", "name")) == [
            ("出院回访", "出院 3–7 天"),
            ("出院回访（好转/转院）", "出院 3–7 天"),
            ("出院回访（治愈）", "出院 3–7 天"),
            ("手术患者回访", "术后 1 周"),
        ]
        assert SurveyTemplate.objects.filter(published__isnull=True).count() == 0


def test_another_clinic_cannot_see_or_edit_a_survey(admin_client_b, survey):
    assert admin_client_b.get(f"/surveys/{survey.pk}/").status_code == 404
    assert admin_client_b.get(f"/surveys/{survey.pk}/responses/").status_code == 404
    assert admin_client_b.post(f"/surveys/{survey.pk}/publish/").status_code == 404

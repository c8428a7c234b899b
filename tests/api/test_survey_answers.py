"""A call-centre system records the survey answers of a call with the attempt, checked as the
call page checks an agent's: a refused answer records nothing, neither attempt nor response."""

from datetime import timedelta

from django.contrib.auth.models import Permission
from django.utils import timezone

from crm.models import CallAttempt, Complaint, FollowUpRule, FollowUpTask, OutcomeCode, Praise
from surveys.models import SurveyAnswer, SurveyResponse
from surveys.services.responses import response_submit
from tests.api.conftest import ApiClient, make_key
from tests.api.test_attempts import open_task
from tests.factories import RuleFactory, StaffFactory
from tests.surveys.conftest import survey_with


def codes(tenant, in_tenant):
    with in_tenant(tenant):
        return {
            "reached": OutcomeCode.objects.filter(category="reached").first().code,
            "no_answer": OutcomeCode.objects.filter(category="no_answer").first().code,
        }


def cti_agent(tenant, in_tenant):
    with in_tenant(tenant):
        return StaffFactory(email="cti-agent@alpha.test", role="agent")


def call_logged(api, task, tenant, in_tenant, answers, outcome="reached", **extra):
    """The CTI system logs a call of ``outcome`` on ``task`` with these survey answers."""
    return api.post(
        f"/tasks/{task.pk}/attempts",
        {
            "outcome": codes(tenant, in_tenant)[outcome],
            "agent": "cti-agent@alpha.test",
            "answers": answers,
            **extra,
        },
    )


def assert_nothing_recorded(task, tenant, in_tenant):
    with in_tenant(tenant):
        task.refresh_from_db()
        assert (task.status, task.attempts_count) == ("pending", 0)
        assert not CallAttempt.objects.exists()
        assert not SurveyResponse.objects.exists()
        assert not Complaint.objects.exists()


def test_the_task_survey_lists_questions_and_what_to_send(api_a, call_task, nurse):
    response = api_a.get(f"/tasks/{call_task.pk}/survey")

    assert response.status_code == 200
    body = response.json()
    assert (body["task_id"], body["version"], body["language"], body["response_id"]) == (
        call_task.pk,
        1,
        "zh-hans",
        None,
    )
    questions = {q["key"]: q for q in body["questions"]}
    assert list(questions) == ["q1", "q2", "q3", "q4", "q5", "q6"]
    assert {k: (q["kind"], q["required"], q["min"], q["max"]) for k, q in questions.items()} == {
        "q1": ("rating", True, 1, 5),
        "q2": ("rating", True, 1, 5),
        "q3": ("nps", False, 0, 10),
        "q4": ("single", False, None, None),
        "q5": ("staff", False, None, None),
        "q6": ("text", False, None, None),
    }
    assert questions["q1"]["dimension"] == "overall"
    assert questions["q4"]["choices"] == [
        {"value": "良好", "label_zh": "良好", "label_en": "Well"},
        {"value": "不适", "label_zh": "不适", "label_en": "Unwell"},
    ]
    assert {"value": nurse.pk, "label_zh": "李 护士", "label_en": "李 护士"} in questions["q5"][
        "choices"
    ]
    assert questions["q6"]["raises_complaint"] is True


def test_a_reached_call_records_its_answers_with_the_attempt(
    api_a, call_task, nurse, tenant_a, in_tenant
):
    agent = cti_agent(tenant_a, in_tenant)
    at = timezone.now() - timedelta(minutes=20)

    response = call_logged(
        api_a,
        call_task,
        tenant_a,
        in_tenant,
        {"q1": 4, "q2": 5, "q3": 9, "q4": "良好", "q5": nurse.pk, "q6": None},
        at=at.isoformat(),
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    with in_tenant(tenant_a):
        survey_response = SurveyResponse.objects.get()
        assert body["survey_response_id"] == survey_response.pk
        assert (survey_response.source, survey_response.task_id) == ("call", call_task.pk)
        assert (survey_response.answered_by, survey_response.submitted_at) == (agent, at)
        assert (survey_response.score, survey_response.nps) == (4, 9)
        assert survey_response.satisfaction == "satisfied"
        answers = SurveyAnswer.objects.filter(response=survey_response)
        assert {a.question_key: a.number or a.choices or a.staff_id for a in answers} == {
            "q1": 4,
            "q2": 5,
            "q3": 9,
            "q4": ["良好"],
            "q5": nurse.pk,
        }
        assert Praise.objects.get().staff == nurse
        task = FollowUpTask.objects.get(pk=call_task.pk)
        assert (task.status, task.attempts_count, task.completed_at) == ("completed", 1, at)
    # The survey says it is answered now.
    assert (
        api_a.get(f"/tasks/{call_task.pk}/survey").json()["response_id"]
        == body["survey_response_id"]
    )


def test_yes_no_answers_take_true_and_false(api_a, tenant_a, in_tenant):
    with in_tenant(tenant_a):
        yes_no = survey_with(
            [
                {"kind": "rating", "text_zh": "总体", "dimension": "overall"},
                {"kind": "yes_no", "text_zh": "按时复诊？"},
            ]
        )
        FollowUpRule.objects.update(active=False)
        RuleFactory(steps=[{"offset_days": 0, "due_days": 2, "survey": yes_no}])
    task = open_task(tenant_a, in_tenant)
    cti_agent(tenant_a, in_tenant)

    response = call_logged(api_a, task, tenant_a, in_tenant, {"q1": 5, "q2": False})

    assert response.status_code == 201
    with in_tenant(tenant_a):
        answers = SurveyAnswer.objects.filter(response__task=task)
        assert {a.question_key: a.number for a in answers} == {"q1": 5, "q2": 0}


def test_a_nul_character_in_a_text_answer_is_dropped_not_a_server_error(
    api_a, call_task, tenant_a, in_tenant
):
    cti_agent(tenant_a, in_tenant)

    response = call_logged(
        api_a, call_task, tenant_a, in_tenant, {"q1": 4, "q2": 4, "q6": "候诊\u0000太久"}
    )

    assert response.status_code == 201
    with in_tenant(tenant_a):
        assert SurveyAnswer.objects.get(question_key="q6").text == "候诊太久"


def test_refused_answers_name_the_field_and_record_nothing(
    api_a, call_task, nurse, tenant_a, in_tenant
):
    cti_agent(tenant_a, in_tenant)
    reached = codes(tenant_a, in_tenant)["reached"]
    cases = [
        ({"q1": 4, "q2": 5, "q9": 1}, "answers.q9", "unknown_question"),
        ({"q1": "four", "q2": 5}, "answers.q1", "wrong_type"),
        ({"q1": 4.5, "q2": 5}, "answers.q1", "wrong_type"),
        ({"q1": True, "q2": 5}, "answers.q1", "wrong_type"),
        ({"q1": 4, "q2": 5, "q4": ["良好"]}, "answers.q4", "wrong_type"),
        ({"q1": 4, "q2": 5, "q6": 3}, "answers.q6", "wrong_type"),
        ({"q1": 9, "q2": 5}, "answers.q1", "invalid_answer"),
        ({"q1": 4, "q2": 5, "q3": 11}, "answers.q3", "invalid_answer"),
        ({"q1": 4, "q2": 5, "q4": "很好"}, "answers.q4", "invalid_answer"),
        ({"q1": 4, "q2": 5, "q5": 999_999}, "answers.q5", "invalid_answer"),
        ({"q2": 5}, "answers.q1", "answer_required"),
        ({"q1": None, "q2": 5}, "answers.q1", "answer_required"),
    ]
    for answers, field, error in cases:
        response = api_a.post(
            f"/tasks/{call_task.pk}/attempts",
            {"outcome": reached, "agent": "cti-agent@alpha.test", "answers": answers},
        )
        body = response.json()
        assert (response.status_code, body["code"], body["field"]) == (
            422,
            "invalid_answers",
            field,
        ), answers
        assert [(e["field"], e["code"]) for e in body["errors"]] == [(field, error)], answers
        assert body["errors"][0]["message"]
    assert_nothing_recorded(call_task, tenant_a, in_tenant)


def test_every_refused_answer_is_listed(api_a, call_task, tenant_a, in_tenant):
    cti_agent(tenant_a, in_tenant)

    response = call_logged(api_a, call_task, tenant_a, in_tenant, {"q1": 0, "q3": "ten", "nope": 1})

    assert response.status_code == 422
    assert {(e["field"], e["code"]) for e in response.json()["errors"]} == {
        ("answers.q1", "invalid_answer"),
        ("answers.q2", "answer_required"),
        ("answers.q3", "wrong_type"),
        ("answers.nope", "unknown_question"),
    }
    assert_nothing_recorded(call_task, tenant_a, in_tenant)


def test_answers_with_a_call_that_did_not_reach_the_contact_are_refused(
    api_a, call_task, tenant_a, in_tenant
):
    cti_agent(tenant_a, in_tenant)

    response = call_logged(
        api_a, call_task, tenant_a, in_tenant, {"q1": 4, "q2": 5}, outcome="no_answer"
    )

    body = response.json()
    assert (response.status_code, body["code"], body["field"]) == (
        422,
        "answers_need_reached",
        "answers",
    )
    assert_nothing_recorded(call_task, tenant_a, in_tenant)


def test_answers_for_a_task_without_a_survey_are_refused(api_a, tenant_a, in_tenant):
    with in_tenant(tenant_a):
        FollowUpRule.objects.update(active=False)
        RuleFactory(steps=[{"offset_days": 0, "due_days": 2}])
    task = open_task(tenant_a, in_tenant)
    cti_agent(tenant_a, in_tenant)

    response = call_logged(api_a, task, tenant_a, in_tenant, {"q1": 4})

    body = response.json()
    assert (response.status_code, body["code"], body["field"]) == (422, "no_survey", "answers")
    assert_nothing_recorded(task, tenant_a, in_tenant)
    survey = api_a.get(f"/tasks/{task.pk}/survey")
    assert (survey.status_code, survey.json()["code"]) == (404, "no_survey")


def test_a_survey_already_answered_keeps_the_call_unrecorded(
    api_a, call_task, survey, tenant_a, in_tenant
):
    cti_agent(tenant_a, in_tenant)
    with in_tenant(tenant_a):
        earlier = response_submit(
            survey.published, {"q1": 5, "q2": 5}, contact=call_task.contact, source="call",
            task=call_task,
        )  # fmt: skip

    response = call_logged(api_a, call_task, tenant_a, in_tenant, {"q1": 1, "q2": 1})

    body = response.json()
    assert (response.status_code, body["code"]) == (409, "already_answered")
    with in_tenant(tenant_a):
        # The attempt was written first and rolled back with the refused response.
        assert not CallAttempt.objects.exists()
        assert list(SurveyResponse.objects.values_list("pk", "score")) == [(earlier.pk, 5)]
        call_task.refresh_from_db()
        assert (call_task.status, call_task.attempts_count) == ("pending", 0)


def test_an_agent_who_may_not_fill_surveys_cannot_send_answers(
    api_a, call_task, tenant_a, in_tenant
):
    # Someone who works follow-ups but may not fill in surveys (permissions of their own).
    agent = cti_agent(tenant_a, in_tenant)
    with in_tenant(tenant_a):
        agent.groups.clear()
        agent.user_permissions.add(Permission.objects.get(codename="add_callattempt"))

    response = call_logged(api_a, call_task, tenant_a, in_tenant, {"q1": 4, "q2": 5})

    body = response.json()
    assert (response.status_code, body["code"], body["field"]) == (
        422,
        "agent_cannot_fill_surveys",
        "agent",
    )
    assert_nothing_recorded(call_task, tenant_a, in_tenant)


def test_tenant_b_can_neither_read_nor_answer_tenant_as_survey(
    call_task, tenant_a, tenant_b, in_tenant
):
    cti_agent(tenant_a, in_tenant)
    with in_tenant(tenant_b):
        StaffFactory(email="cti-agent@alpha.test", role="agent")  # same email, other clinic
        reached = OutcomeCode.objects.filter(category="reached").first().code
    _key, key = make_key(tenant_b, in_tenant)
    api_b = ApiClient(tenant_b, key)

    read = api_b.get(f"/tasks/{call_task.pk}/survey")
    answer = api_b.post(
        f"/tasks/{call_task.pk}/attempts",
        {"outcome": reached, "agent": "cti-agent@alpha.test", "answers": {"q1": 1, "q2": 1}},
    )

    assert (read.status_code, read.json()["code"]) == (404, "not_found")
    assert (answer.status_code, answer.json()["code"]) == (404, "not_found")
    assert "满意" not in read.content.decode()
    assert_nothing_recorded(call_task, tenant_a, in_tenant)
    with in_tenant(tenant_b):
        assert not SurveyResponse.objects.exists() and not CallAttempt.objects.exists()
    # And tenant A's key is refused on tenant B's domain.
    _key_a, key_a = make_key(tenant_a, in_tenant)
    refused = ApiClient(tenant_b, key_a).get(f"/tasks/{call_task.pk}/survey")
    assert (refused.status_code, refused.json()["code"]) == (401, "invalid_key")

"""The patient's survey page: a one-time, signed, expiring link on the clinic's domain."""

from datetime import timedelta

import pytest
from django.utils import timezone, translation

from crm import workdays
from crm.calendar import tenant_zone
from crm.models import Complaint, FollowUpTask, Praise
from surveys.models import SurveyAnswer, SurveyInvitation, SurveyResponse

VALID = {"q_q1": "5", "q_q2": "4", "q_q3": "9", "q_q4": "良好", "q_q6": ""}


def _url(token):
    return f"/s/{token}/"


def test_the_patient_answers_and_the_follow_up_is_done(client_a, link, tenant_a, in_tenant):
    invitation, token = link
    page = client_a.get(_url(token))
    assert page.status_code == 200
    assert "总体满意度" in page.content.decode()  # the contact's language: the clinic's Chinese
    assert "no-store" in page["Cache-Control"] and page["Referrer-Policy"] == "same-origin"

    done = client_a.post(_url(token), VALID)

    assert done.status_code == 302 and done["Location"].endswith("?done=1")
    assert "感谢" in client_a.get(done["Location"]).content.decode()
    with in_tenant(tenant_a):
        response = SurveyResponse.objects.get()
        assert (response.source, response.score, response.satisfaction) == ("link", 5, "satisfied")
        assert response.nps == 9 and response.version == invitation.template.published
        assert {a.question_key: a.number or a.choices for a in SurveyAnswer.objects.all()} == {
            "q1": 5,
            "q2": 4,
            "q3": 9,
            "q4": ["良好"],
        }
        task = FollowUpTask.objects.get(pk=invitation.task_id)
        assert task.status == FollowUpTask.Status.COMPLETED and task.reached_in_window
        assert Complaint.objects.count() == 0


def test_a_link_answers_once(client_a, link, tenant_a, in_tenant):
    _invitation, token = link
    client_a.post(_url(token), VALID)

    again = client_a.post(_url(token), {**VALID, "q_q1": "1"})

    assert again.status_code == 200
    assert "已经" in again.content.decode()  # "already answered"
    with in_tenant(tenant_a):
        assert SurveyResponse.objects.count() == 1
        assert SurveyResponse.objects.get().score == 5


def test_missing_and_out_of_range_answers_are_refused_and_nothing_is_saved(
    client_a, link, tenant_a, in_tenant
):
    _invitation, token = link
    with translation.override("en"):
        page = client_a.post(_url(token), {"q_q1": "7", "q_q4": "别的"})

    assert page.status_code == 400
    text = page.content.decode()
    assert "1" in text and "5" in text
    errors = page.context["questions"]
    assert [q["key"] for q in errors if q["error"]] == ["q1", "q2", "q4"]
    with in_tenant(tenant_a):
        assert SurveyResponse.objects.count() == 0
        assert SurveyInvitation.objects.get().answered_at is None


def test_expired_tampered_and_other_clinic_links_each_get_a_clear_page(
    client_a, client_b, link, tenant_a, in_tenant
):
    invitation, token = link
    assert client_b.get(_url(token)).status_code == 404  # another clinic: not valid there
    tampered = client_a.get(_url(token[:-2] + ("AA" if token[-2:] != "AA" else "BB")))
    assert tampered.status_code == 404 and "无效" in tampered.content.decode()
    assert client_b.post(_url(token), VALID).status_code == 404
    with in_tenant(tenant_a):
        SurveyInvitation.objects.filter(pk=invitation.pk).update(
            expires_at=timezone.now() - timedelta(minutes=1)
        )
    expired = client_a.post(_url(token), VALID)
    assert expired.status_code == 410
    with in_tenant(tenant_a):
        assert SurveyResponse.objects.count() == 0


def test_a_dissatisfied_answer_raises_a_complaint_with_the_clinics_deadline(
    client_a, link, tenant_a, in_tenant
):
    _invitation, token = link
    client_a.post(_url(token), {**VALID, "q_q1": "1", "q_q2": "2"})

    with in_tenant(tenant_a):
        complaint = Complaint.objects.get()
        response = SurveyResponse.objects.get()
        assert response.satisfaction == "dissatisfied"
        assert complaint.survey_response == response and complaint.source == "survey"
        assert complaint.contact.name == "王芳"
        expected = workdays.add_working_days(
            complaint.created_at,
            tenant_a.complaint_reply_days,
            calendar=workdays.calendar_for(tenant_a.phone_region),
            zone=tenant_zone(tenant_a),
        )
        assert complaint.deadline == expected and tenant_a.complaint_reply_days == 5
        assert complaint.events.get().action == "created"


def test_a_complaint_answer_and_a_named_nurse(client_a, link, nurse, tenant_a, in_tenant):
    _invitation, token = link
    client_a.post(_url(token), {**VALID, "q_q5": str(nurse.pk), "q_q6": "等了两个小时"})

    with in_tenant(tenant_a):
        assert Complaint.objects.get().summary == "等了两个小时"
        praise = Praise.objects.get()
        assert praise.staff == nurse and praise.source == "survey"


def test_opt_out_asks_first_then_stops_everything(client_a, link, survey_task, tenant_a, in_tenant):
    _invitation, token = link
    page = client_a.get(f"/s/{token}/stop/")
    assert page.status_code == 200
    with in_tenant(tenant_a):
        survey_task.refresh_from_db()
        assert survey_task.is_open  # a GET (a mail scanner) changes nothing

    client_a.post(f"/s/{token}/stop/")

    with in_tenant(tenant_a):
        survey_task.refresh_from_db()
        assert survey_task.status == "cancelled" and survey_task.reason == "do_not_contact"
        assert survey_task.contact.do_not_contact


@pytest.mark.parametrize("language,text", [("en", "Overall"), ("zh-hans", "总体满意度")])
def test_the_page_speaks_the_contacts_language(client_a, link, tenant_a, in_tenant, language, text):
    invitation, token = link
    with in_tenant(tenant_a):
        SurveyInvitation.objects.filter(pk=invitation.pk).update(language=language)
    page = client_a.get(_url(token)).content.decode()
    assert text in page
    assert ("Send my answers" in page) == (language == "en")


def test_guessing_links_at_volume_is_stopped(client_a, link, monkeypatch):
    from django.core.cache import cache

    cache.clear()
    monkeypatch.setattr("surveys.views.public.INVALID_LINKS_PER_HOUR", 3)
    statuses = [client_a.get(f"/s/guess{i}:x/").status_code for i in range(5)]
    assert statuses == [404, 404, 404, 429, 429]
    _invitation, token = link
    assert client_a.get(_url(token)).status_code == 200  # a real link still opens
    cache.clear()


def test_another_clinic_cannot_read_a_response(
    client_a, client_b, admin_b, link, tenant_a, in_tenant
):
    from tests.conftest import login

    _invitation, token = link
    client_a.post(_url(token), VALID)
    with in_tenant(tenant_a):
        response_id = SurveyResponse.objects.get().pk
    login(client_b, "admin@beta.test")
    assert client_b.get(f"/surveys/responses/{response_id}/").status_code == 404

"""Short survey links for SMS: /s/<10 characters> on the clinic's host, stored as a keyed hash,
refused before the lookup once an address (or, in a flood, a clinic) has guessed too often."""

import hashlib
import re
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from crm.models import FollowUpRule, FollowUpTask, Message
from crm.services.followup import followup_tick
from crm.services.planning import encounters_plan
from surveys import links
from surveys.models import SurveyInvitation, SurveyResponse
from tests.conftest import host_of
from tests.factories import ContactFactory, EncounterFactory, RuleFactory
from tests.fake_sms import FakeSms
from tests.surveys.conftest import STANDARD, survey_with

SHORT = re.compile(r"https?://(?P<host>[^/\s]+)(?P<path>/s/(?P<code>[2-9a-zA-Z]{10}))(?=\s|$)")
ANSWERS = {"q_q1": "5", "q_q2": "4"}


@pytest.fixture
def fake_sms(settings):
    fake = FakeSms()
    settings.SMS_API_BASE = fake.base
    settings.SMS_ACCOUNT_SID = fake.account_sid
    settings.SMS_AUTH_TOKEN = fake.auth_token
    settings.SMS_FROM = "+8610690000"
    yield fake
    fake.close()


@pytest.fixture(autouse=True)
def _no_counts_left():
    cache.clear()
    yield
    cache.clear()


def _client(tenant, address="198.51.100.7") -> Client:
    return Client(HTTP_HOST=host_of(tenant), REMOTE_ADDR=address)


def _sent_survey(tenant, in_tenant, capture, *, channel="survey_link", **contact):
    """A survey-link follow-up of yesterday's discharge, sent by the tick: (task, message)."""
    tenant.message_hours = [["00:00", "24:00"]]
    tenant.save()
    with in_tenant(tenant):
        survey = survey_with(STANDARD[:2])
        FollowUpRule.objects.update(active=False)
        RuleFactory(steps=[{"offset_days": 0, "due_days": 3, "channel": channel, "survey": survey}])
        encounter = EncounterFactory(
            contact=ContactFactory(name="王芳", **contact),
            occurred_at=timezone.now() - timedelta(days=1),
        )
        encounters_plan([encounter.pk])
        with capture(execute=True):
            followup_tick()
        task = FollowUpTask.objects.get(encounter=encounter)
        return task, Message.objects.get(task=task)


def test_an_sms_survey_carries_a_short_link_that_answers_it(
    tenant_a, in_tenant, fake_sms, django_capture_on_commit_callbacks
):
    task, message = _sent_survey(
        tenant_a, in_tenant, django_capture_on_commit_callbacks, phone="+8613800138401"
    )
    body = fake_sms.sent[0]["Body"]
    link = SHORT.search(body)
    assert link is not None, body
    assert link["host"] == host_of(tenant_a)
    assert message.variables and f"{link['path']}/stop" in message.variables  # opt-out short too
    client = _client(tenant_a)

    page = client.get(link["path"])
    answered = client.post(link["path"], ANSWERS)

    assert page.status_code == 200 and "总体满意度" in page.content.decode()
    assert answered.status_code == 302 and answered["Location"] == f"{link['path']}?done=1"
    assert client.get(answered["Location"]).status_code == 200
    with in_tenant(tenant_a):
        task.refresh_from_db()
        assert task.status == "completed"
        assert SurveyResponse.objects.get().invitation.task == task


def test_the_code_is_stored_only_as_a_keyed_hash(
    tenant_a, in_tenant, fake_sms, django_capture_on_commit_callbacks
):
    _sent_survey(tenant_a, in_tenant, django_capture_on_commit_callbacks, phone="+8613800138402")
    code = SHORT.search(fake_sms.sent[0]["Body"])["code"]

    with in_tenant(tenant_a):
        stored = SurveyInvitation.objects.values().get()

    assert code not in str(stored)
    # Not a plain digest either: 58 bits could be searched offline from a copy of the table.
    assert stored["secret_hash"] != hashlib.sha256(code.encode()).hexdigest()
    assert len(stored["secret_hash"]) == 64


def test_an_email_survey_keeps_the_long_signed_link(
    tenant_a, in_tenant, django_capture_on_commit_callbacks
):
    from django.core import mail

    _sent_survey(
        tenant_a,
        in_tenant,
        django_capture_on_commit_callbacks,
        channel="email",
        phone="",
        email="wang@example.com",
    )
    body = mail.outbox[-1].body

    assert SHORT.search(body) is None
    path = body[body.index("/s/") :].split()[0]
    assert ":" in path and path.endswith("/")
    assert _client(tenant_a).get(path).status_code == 200


def test_the_short_opt_out_link_asks_then_stops_everything(tenant_a, in_tenant, survey_task):
    with in_tenant(tenant_a):
        _invitation, code = links.invitation_create(
            survey_task.step.survey, survey_task.contact, task=survey_task, short=True
        )
    client = _client(tenant_a)

    asked = client.get(f"/s/{code}/stop")
    done = client.post(f"/s/{code}/stop")

    assert asked.status_code == 200 and done.status_code == 200
    with in_tenant(tenant_a):
        survey_task.refresh_from_db()
        survey_task.contact.refresh_from_db()
        assert survey_task.contact.do_not_contact
        assert (survey_task.status, survey_task.reason) == ("cancelled", "do_not_contact")


def test_an_expired_short_link_says_so(tenant_a, in_tenant, survey_task, clock):
    with in_tenant(tenant_a):
        _invitation, code = links.invitation_create(
            survey_task.step.survey, survey_task.contact, task=survey_task, short=True
        )
    clock.shift(timedelta(days=survey_task.step.survey.link_days, minutes=1))

    response = _client(tenant_a).post(f"/s/{code}", ANSWERS)

    assert response.status_code == 410
    with in_tenant(tenant_a):
        assert SurveyResponse.objects.count() == 0


def test_a_guessed_short_link_is_404_then_the_address_is_refused_even_a_right_one(
    tenant_a, in_tenant, survey_task, monkeypatch
):
    monkeypatch.setattr("surveys.views.public.INVALID_LINKS_PER_HOUR", 3)
    with in_tenant(tenant_a):
        _invitation, code = links.invitation_create(
            survey_task.step.survey, survey_task.contact, task=survey_task, short=True
        )
    guesser = _client(tenant_a, "2001:db8:1:2::10")
    guesses = [f"/s/{'abcdefgh' + pair}" for pair in ("23", "34", "45", "56")]

    statuses = [guesser.get(path).status_code for path in guesses]
    right_one = guesser.get(f"/s/{code}").status_code
    # The same /64 is the same subscriber: a new address in it changes nothing.
    neighbour = _client(tenant_a, "2001:db8:1:2::99").get(f"/s/{code}").status_code
    patient = _client(tenant_a, "203.0.113.5").get(f"/s/{code}").status_code

    assert statuses == [404, 404, 404, 429]
    assert (right_one, neighbour, patient) == (429, 429, 200)
    with in_tenant(tenant_a):
        assert SurveyInvitation.objects.get().opened_at is not None  # by the patient only


def test_in_a_flood_of_wrong_short_links_each_guessing_address_gets_one_guess(
    tenant_a, in_tenant, survey_task, monkeypatch
):
    monkeypatch.setattr("surveys.views.public.WRONG_SHORT_LINKS_PER_HOUR", 2)
    with in_tenant(tenant_a):
        _invitation, code = links.invitation_create(
            survey_task.step.survey, survey_task.contact, task=survey_task, short=True
        )
    for n, address in enumerate(("192.0.2.1", "192.0.2.2")):
        assert _client(tenant_a, address).get(f"/s/zzzzzzzzz{n + 2}").status_code == 404

    bot = _client(tenant_a, "192.0.2.3")
    first_guess = bot.get("/s/zzzzzzzzz9").status_code
    then_right = bot.get(f"/s/{code}").status_code
    patient = _client(tenant_a, "203.0.113.6").get(f"/s/{code}").status_code

    assert (first_guess, then_right, patient) == (404, 429, 200)


def test_another_clinics_short_link_never_resolves_here(tenant_a, tenant_b, in_tenant, survey_task):
    with in_tenant(tenant_b):
        survey_b = survey_with(STANDARD[:2])
        _invitation, code_b = links.invitation_create(survey_b, ContactFactory(), short=True)

    on_a = _client(tenant_a).get(f"/s/{code_b}")
    posted_on_a = _client(tenant_a, "203.0.113.7").post(f"/s/{code_b}", ANSWERS)
    on_b = _client(tenant_b).get(f"/s/{code_b}")

    assert (on_a.status_code, posted_on_a.status_code, on_b.status_code) == (404, 404, 200)
    with in_tenant(tenant_b):
        assert SurveyResponse.objects.count() == 0
        assert SurveyInvitation.objects.get().answered_at is None
    with in_tenant(tenant_a):
        assert SurveyResponse.objects.count() == 0


def test_a_long_link_made_before_short_links_still_opens(tenant_a, in_tenant, link):
    _invitation, token = link

    assert not links.is_short(token)
    assert _client(tenant_a).get(f"/s/{token}/").status_code == 200

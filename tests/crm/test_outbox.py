"""Message follow-ups, the outbox and the SMS provider: real HTTP to a fake Twilio-compatible
server on 127.0.0.1, signed callbacks, the clinic's message hours."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone, translation

from crm import crypto
from crm.gateways.twilio import signature
from crm.models import AuditEntry, Contact, FollowUpRule, FollowUpTask, InboundMessage, Message
from crm.services import outbox
from crm.services.followup import followup_tick
from crm.services.planning import encounters_plan
from surveys.models import SurveyResponse
from tests.crm.conftest import in_english
from tests.factories import ContactFactory, EncounterFactory, RuleFactory
from tests.fake_sms import FakeSms
from tests.surveys.conftest import STANDARD, survey_with


@pytest.fixture
def fake_sms(settings):
    fake = FakeSms()
    settings.SMS_API_BASE = fake.base
    settings.SMS_ACCOUNT_SID = fake.account_sid
    settings.SMS_AUTH_TOKEN = fake.auth_token
    settings.SMS_FROM = "+8610690000"
    yield fake
    fake.close()


@pytest.fixture
def all_day(tenant_a):
    tenant_a.message_hours = [["00:00", "24:00"]]
    tenant_a.save()
    return tenant_a


def _message_task(tenant_a, in_tenant, *, channel="sms", survey=None, **contact):
    with in_tenant(tenant_a):
        FollowUpRule.objects.update(active=False)
        RuleFactory(steps=[{"offset_days": 0, "due_days": 3, "channel": channel, "survey": survey}])
        encounter = EncounterFactory(
            contact=ContactFactory(name="王芳", **contact),
            occurred_at=timezone.now() - timedelta(days=1),
        )
        encounters_plan([encounter.pk])
        return FollowUpTask.objects.get(encounter=encounter)


def test_an_sms_follow_up_is_sent_when_its_window_opens(
    tenant_a, in_tenant, all_day, fake_sms, django_capture_on_commit_callbacks
):
    task = _message_task(tenant_a, in_tenant, phone="+8613800138222")
    with in_tenant(tenant_a), django_capture_on_commit_callbacks(execute=True):
        assert followup_tick().messages == 1
        assert followup_tick().messages == 0  # the next tick does not send it again

    assert len(fake_sms.sent) == 1
    sent = fake_sms.sent[0]
    assert sent["To"] == "+8613800138222" and sent["From"] == "+8610690000"
    assert "王芳" in sent["Body"] and "Alpha 人民医院" in sent["Body"]
    assert sent["StatusCallback"].endswith("/hooks/sms/status/")
    with in_tenant(tenant_a):
        message = Message.objects.get()
        assert (message.status, message.provider_id, message.attempts) == ("sent", sent["sid"], 1)
        task.refresh_from_db()
        assert task.status == "completed"


def test_outside_message_hours_a_message_waits(tenant_a, in_tenant, fake_sms):
    now = timezone.localtime(timezone.now())
    start = (now + timedelta(hours=2)).strftime("%H:%M")
    end = (now + timedelta(hours=3)).strftime("%H:%M")
    if start >= end:
        pytest.skip("the two hours straddle midnight")
    tenant_a.message_hours = [[start, end]]
    tenant_a.save()
    _message_task(tenant_a, in_tenant, phone="+8613800138223")
    with in_tenant(tenant_a):
        followup_tick()
        message = Message.objects.get()
        assert message.status == "queued" and message.send_after > timezone.now()
        assert outbox.message_send(message.pk) is None  # not due: a worker leaves it
        assert outbox.outbox_due() == []
    assert fake_sms.sent == []


def test_a_survey_link_goes_by_sms_and_its_answer_completes_the_task(
    client_a, tenant_a, in_tenant, all_day, fake_sms, django_capture_on_commit_callbacks
):
    with in_tenant(tenant_a):
        survey = survey_with(STANDARD[:2])
    task = _message_task(
        tenant_a, in_tenant, channel="survey_link", survey=survey, phone="+8613800138224"
    )
    with in_tenant(tenant_a), django_capture_on_commit_callbacks(execute=True):
        followup_tick()
    body = fake_sms.sent[0]["Body"]
    path = body[body.index("/s/") :].split()[0]

    client_a.post(path, {"q_q1": "5", "q_q2": "5"})

    with in_tenant(tenant_a):
        task.refresh_from_db()
        assert task.status == "completed" and SurveyResponse.objects.get().task == task


def test_a_provider_failure_is_retried_then_failed_with_the_error_kept(
    tenant_a, in_tenant, all_day, fake_sms
):
    task = _message_task(tenant_a, in_tenant, phone="+8613800138225")
    fake_sms.script = [500] * outbox.MAX_ATTEMPTS
    with in_tenant(tenant_a):
        followup_tick()
        message = Message.objects.get()
        later = timezone.now()
        for attempt in range(1, outbox.MAX_ATTEMPTS + 1):
            status = outbox.message_send(message.pk, now=later)
            message.refresh_from_db()
            assert message.attempts == attempt and "HTTP 500" in message.last_error
            later = message.send_after + timedelta(seconds=1)
        assert status == "failed" and message.status == "failed" and message.failed_at
        task.refresh_from_db()
        assert (task.status, task.reason) == ("unreachable", "message_failed")
    assert fake_sms.sent == [] and fake_sms.requests == outbox.MAX_ATTEMPTS


def test_retries_outlive_an_outage_of_hours_and_do_not_arrive_together():
    waits = [outbox.retry_delay(n, key=41) for n in range(1, outbox.MAX_ATTEMPTS)]

    assert sum(waits, timedelta()) >= timedelta(hours=5)
    assert max(waits) <= timedelta(minutes=72)  # an hour at most, and a fifth
    others = [outbox.retry_delay(n, key=42) for n in range(1, outbox.MAX_ATTEMPTS)]
    assert others != waits  # two messages retried after the same outage are spread


def test_a_timeout_then_a_retry_reaches_the_phone_once(
    tenant_a, in_tenant, all_day, fake_sms, monkeypatch
):
    """The first request times out on our side but the provider took it; the retry carries
    the same idempotency token, so the phone gets one SMS."""
    import crm.gateways.twilio

    _message_task(tenant_a, in_tenant, phone="+8613800138226")
    original = crm.gateways.twilio.TwilioCompatibleSms.__init__

    def short_timeout(self, **kwargs):
        original(self, **{**kwargs, "timeout": 0.3})

    monkeypatch.setattr(crm.gateways.twilio.TwilioCompatibleSms, "__init__", short_timeout)
    fake_sms.script = [("sleep", 0.6)]
    with in_tenant(tenant_a):
        followup_tick()
        message = Message.objects.get()
        assert outbox.message_send(message.pk) == "queued"
        message.refresh_from_db()
        assert "Timeout" in message.last_error
        assert outbox.message_send(message.pk, now=message.send_after) == "sent"
        assert outbox.message_send(message.pk, now=message.send_after) is None  # already sent
    assert fake_sms.requests == 2 and len(fake_sms.sent) == 1


def test_a_refused_number_fails_at_once(tenant_a, in_tenant, all_day, fake_sms):
    _message_task(tenant_a, in_tenant, phone="+8613800138227")
    fake_sms.script = [400]
    with in_tenant(tenant_a):
        followup_tick()
        message = Message.objects.get()
        assert outbox.message_send(message.pk) == "failed"
        message.refresh_from_db()
        assert message.attempts == 1 and "HTTP 400" in message.last_error


def test_an_email_follow_up_goes_through_djangos_mail(
    tenant_a, in_tenant, all_day, django_capture_on_commit_callbacks
):
    _message_task(tenant_a, in_tenant, channel="email", phone="", email="wang@example.com")
    with in_tenant(tenant_a):
        with django_capture_on_commit_callbacks(execute=True):
            followup_tick()
        assert Message.objects.get().status == "sent"
    assert mail.outbox[-1].to == ["wang@example.com"] and "王芳" in mail.outbox[-1].body


def _signed_post(client, path, params, token):
    url = f"http://{client.defaults['HTTP_HOST']}{path}"
    return client.post(path, params, HTTP_X_TWILIO_SIGNATURE=signature(url, params, token))


def test_delivery_reports_are_signed(
    client_a, tenant_a, in_tenant, all_day, fake_sms, django_capture_on_commit_callbacks
):
    _message_task(tenant_a, in_tenant, phone="+8613800138228")
    with in_tenant(tenant_a), django_capture_on_commit_callbacks(execute=True):
        followup_tick()
    sid = fake_sms.sent[0]["sid"]
    report = {"MessageSid": sid, "MessageStatus": "delivered"}

    forged = client_a.post("/hooks/sms/status/", report, HTTP_X_TWILIO_SIGNATURE="Zm9yZ2Vk")
    assert forged.status_code == 403
    with in_tenant(tenant_a):
        assert Message.objects.get().status == "sent"

    assert (
        _signed_post(client_a, "/hooks/sms/status/", report, fake_sms.auth_token).status_code == 204
    )
    with in_tenant(tenant_a):
        message = Message.objects.get()
        assert message.status == "delivered" and message.delivered_at


def test_a_digit_reply_answers_the_one_question_sms(
    client_a, tenant_a, in_tenant, all_day, fake_sms, django_capture_on_commit_callbacks
):
    with in_tenant(tenant_a):
        one = survey_with([{"kind": "rating", "text_zh": "打分", "dimension": "overall"}])
    task = _message_task(tenant_a, in_tenant, channel="sms", survey=one, phone="+8613800138229")
    with in_tenant(tenant_a), django_capture_on_commit_callbacks(execute=True):
        followup_tick()
    assert "回复1-5" in fake_sms.sent[0]["Body"]
    reply = {"MessageSid": "SMin1", "From": "13800138229", "Body": " 4 "}

    assert (
        _signed_post(client_a, "/hooks/sms/inbound/", reply, fake_sms.auth_token).status_code == 200
    )
    _signed_post(client_a, "/hooks/sms/inbound/", reply, fake_sms.auth_token)  # redelivered

    with in_tenant(tenant_a):
        response = SurveyResponse.objects.get()
        assert (response.source, response.score, response.task) == ("sms_reply", 4, task)
        assert InboundMessage.objects.get().result == "answered"
        task.refresh_from_db()
        assert task.status == "completed"


def test_td_opts_out_and_an_unknown_number_changes_nothing(client_a, tenant_a, in_tenant, fake_sms):
    task = _message_task(tenant_a, in_tenant, channel="phone", phone="+8613800138230")
    stop = {"MessageSid": "SMin2", "From": "+8613800138230", "Body": "TD"}
    stranger = {"MessageSid": "SMin3", "From": "+8613900000000", "Body": "TD"}

    _signed_post(client_a, "/hooks/sms/inbound/", stranger, fake_sms.auth_token)
    with in_tenant(tenant_a):
        assert InboundMessage.objects.get().result == "unmatched"
        task.refresh_from_db()
        assert task.is_open

    _signed_post(client_a, "/hooks/sms/inbound/", stop, fake_sms.auth_token)
    with in_tenant(tenant_a):
        task.refresh_from_db()
        assert task.status == "cancelled" and task.contact.do_not_contact


def test_another_clinic_sees_no_message_and_cannot_answer_for_it(
    client_b,
    tenant_a,
    tenant_b,
    in_tenant,
    all_day,
    fake_sms,
    admin_client_b,
    django_capture_on_commit_callbacks,
):
    with in_tenant(tenant_a):
        one = survey_with([{"kind": "rating", "text_zh": "打分", "dimension": "overall"}])
    _message_task(tenant_a, in_tenant, channel="sms", survey=one, phone="+8613800138231")
    with in_tenant(tenant_a), django_capture_on_commit_callbacks(execute=True):
        followup_tick()
    reply = {"MessageSid": "SMin4", "From": "+8613800138231", "Body": "1"}

    _signed_post(admin_client_b, "/hooks/sms/inbound/", reply, fake_sms.auth_token)

    assert "王芳" not in admin_client_b.get("/outbox/").content.decode()
    with in_tenant(tenant_a):
        assert SurveyResponse.objects.count() == 0
    with in_tenant(tenant_b):
        assert InboundMessage.objects.get().result == "unmatched"


def test_sms_beyond_the_plans_monthly_allowance_wait_for_next_month(
    tenant_a, in_tenant, all_day, fake_sms, account_a, plans, django_capture_on_commit_callbacks
):
    from billing import entitlements
    from billing.models import Plan

    Plan.objects.filter(pk=plans["starter"].pk).update(sms_per_month=1)
    # The worker that sends writes in the clinic's language, whatever the caller's.
    tenant_a.locale = "en"
    tenant_a.save()
    first = _message_task(tenant_a, in_tenant, phone="+8613800138232")
    with in_tenant(tenant_a):
        second = EncounterFactory(
            contact=ContactFactory(name="李雷", phone="+8613800138233"),
            occurred_at=timezone.now() - timedelta(days=1),
        )
        encounters_plan([second.pk])
        with translation.override("zh-hans"), django_capture_on_commit_callbacks(execute=True):
            followup_tick()
        sent, held = Message.objects.order_by("pk")
        assert sent.status == "sent" and sent.task_id == first.pk
        assert (held.status, held.attempts) == ("queued", 0)
        assert "allowance is used up" in held.last_error
        assert held.send_after.day == 1 and held.send_after > timezone.now()
    assert len(fake_sms.sent) == 1
    assert entitlements.usage_used(tenant_a, "sms") == 1


def test_a_survey_sms_carries_the_steps_articles_and_the_thanks_page_lists_them(
    client_a, tenant_a, in_tenant, all_day, fake_sms, django_capture_on_commit_callbacks
):
    from cms.models import ArticlePage

    with in_tenant(tenant_a):
        survey = survey_with(STANDARD[:2])
        article = ArticlePage.objects.get(slug="discharge-home-care", depth=4)
    task = _message_task(
        tenant_a,
        in_tenant,
        channel="survey_link",
        survey=survey,
        phone="+8613800138234",
        email="wang@example.com",
    )
    with in_tenant(tenant_a):
        task.step.articles.set([article])
        from crm.models import MessageTemplate

        MessageTemplate.objects.create(  # the clinic's own SMS text, with the reading list
            purpose="survey",
            channel="sms",
            language="zh-hans",
            body="{{ contact_name }}：{{ survey_link }} 健康宣教：{{ education_links }}",
        )
        with django_capture_on_commit_callbacks(execute=True):
            followup_tick()
    body = fake_sms.sent[0]["Body"]
    assert "/health/e/" in body
    path = body[body.index("/s/") :].split()[0]

    done = client_a.post(path, {"q_q1": "5", "q_q2": "5"}, follow=True)

    page = done.content.decode()
    assert article.title in page and "/health/e/" in page


def test_another_clinic_cannot_read_or_edit_a_message_template(
    admin_client_a, admin_client_b, tenant_a, in_tenant
):
    customised = admin_client_a.post(
        "/messages/templates/customise/",
        {"purpose": "survey", "channel": "sms", "language": "zh-hans"},
    )
    template_id = int(customised["Location"].rstrip("/").split("/")[-1])
    with in_tenant(tenant_a):
        from crm.models import MessageTemplate

        MessageTemplate.objects.filter(pk=template_id).update(
            body="Alpha 专用短信 {{ survey_link }}"
        )

    assert admin_client_b.get(f"/messages/templates/{template_id}/").status_code == 404
    assert (
        admin_client_b.post(
            f"/messages/templates/{template_id}/", {"subject": "", "body": "changed"}
        ).status_code
        == 404
    )
    assert "Alpha 专用短信" not in admin_client_b.get("/messages/templates/").content.decode()
    with in_tenant(tenant_a):
        assert MessageTemplate.objects.get(pk=template_id).body.startswith("Alpha 专用短信")


def test_the_outbox_page_and_the_logs_never_show_a_live_survey_link(
    client_a,
    admin_client_a,
    tenant_a,
    in_tenant,
    all_day,
    fake_sms,
    caplog,
    django_capture_on_commit_callbacks,
):
    import logging

    with in_tenant(tenant_a):
        survey = survey_with(STANDARD[:2])
    _message_task(tenant_a, in_tenant, channel="survey_link", survey=survey, phone="+8613800138225")
    with in_tenant(tenant_a), django_capture_on_commit_callbacks(execute=True):
        followup_tick()
    body = fake_sms.sent[0]["Body"]
    path = body[body.index("/s/") :].split()[0]
    token = path.split("/")[2]

    page = admin_client_a.get("/outbox/").content.decode()
    with caplog.at_level(logging.INFO):
        client_a.get(path.replace(token, token + "x"))  # a mistyped link: Django logs a 404

    assert "/s/••••" in page and token not in page
    assert "/s/" in caplog.text and token not in caplog.text


def _failed_by_outage(fake_sms, *, message_id: int, now) -> None:
    fake_sms.script = [500] * outbox.MAX_ATTEMPTS
    for _attempt in range(outbox.MAX_ATTEMPTS):
        outbox.message_send(message_id, now=now)
        now = Message.objects.get(pk=message_id).send_after + timedelta(seconds=1)
    assert Message.objects.get(pk=message_id).status == "failed"


def test_requeue_failed_sends_again_what_an_outage_failed_and_reopens_its_follow_up(
    tenant_a, in_tenant, all_day, fake_sms, admin_client_a, clock
):
    task = _message_task(tenant_a, in_tenant, phone="+8613800138231")
    with in_tenant(tenant_a):
        followup_tick()
        message = Message.objects.get()
        _failed_by_outage(fake_sms, message_id=message.pk, now=timezone.now())
        task.refresh_from_db()
        assert (task.status, task.reason) == ("unreachable", "message_failed")

    page = in_english(admin_client_a).get("/outbox/").content.decode()
    assert "1 message failed in the last week after all its retries" in page
    response = admin_client_a.post("/outbox/requeue/", follow=True)
    assert "1 failed message is queued again" in response.content.decode()
    with in_tenant(tenant_a):
        requeued = AuditEntry.objects.get(action="outbox_requeued")
        assert (requeued.actor.email, requeued.detail) == ("admin@alpha.test", {"count": 1})

    with in_tenant(tenant_a):
        message.refresh_from_db()
        task.refresh_from_db()
        assert (message.status, message.attempts, message.failed_at) == ("queued", 0, None)
        assert (task.status, task.reason, task.completed_at) == ("pending", "", None)
        fake_sms.script = []
        assert outbox.outbox_due() == [message.pk]
        outbox.messages_send(outbox.outbox_due())
        message.refresh_from_db()
        task.refresh_from_db()
        assert message.status == "sent" and task.status == "completed"
    assert len(fake_sms.sent) == 1


def test_requeue_leaves_refused_numbers_opted_out_contacts_old_failures_and_closed_windows(
    tenant_a, in_tenant, all_day, fake_sms, admin_client_a, clock
):
    with in_tenant(tenant_a):
        FollowUpRule.objects.update(active=False)
        RuleFactory(steps=[{"offset_days": 0, "due_days": 3, "channel": "sms"}])
        numbers = ["+8613800138232", "+8613800138233", "+8613800138234", "+8613800138235"]
        encounters = [
            EncounterFactory(
                contact=ContactFactory(phone=number),
                occurred_at=timezone.now() - timedelta(days=1),
            )
            for number in numbers
        ]
        encounters_plan([e.pk for e in encounters])
        followup_tick()
        refused, opted_out, old, closed = (
            Message.objects.get(to_index=crypto.blind_phone(number)).pk for number in numbers
        )
        fake_sms.script = [400]
        outbox.message_send(refused)
        for message_id in (opted_out, old, closed):
            _failed_by_outage(fake_sms, message_id=message_id, now=timezone.now())
        Contact.objects.filter(messages__pk=opted_out).update(do_not_contact=True)
        Message.objects.filter(pk=old).update(failed_at=timezone.now() - timedelta(days=8))
        FollowUpTask.objects.filter(messages__pk=closed).update(closes_at=timezone.now())

        assert outbox.outbox_requeueable().count() == 0
        assert outbox.outbox_requeue_failed() == 0
        assert set(Message.objects.values_list("status", flat=True)) == {"failed"}


def test_only_message_managers_requeue_and_only_their_own_clinics_messages(
    tenant_a, tenant_b, in_tenant, all_day, fake_sms, agent_client_a, admin_client_b
):
    _message_task(tenant_a, in_tenant, phone="+8613800138236")
    with in_tenant(tenant_a):
        followup_tick()
        message = Message.objects.get()
        _failed_by_outage(fake_sms, message_id=message.pk, now=timezone.now())

    assert agent_client_a.post("/outbox/requeue/").status_code == 403
    assert admin_client_b.get("/outbox/requeue/").status_code == 405
    assert admin_client_b.post("/outbox/requeue/").status_code == 302
    with in_tenant(tenant_a):
        assert Message.objects.get().status == "failed"


def _sms(to: str, *, task=None) -> Message:
    return outbox.message_queue(
        channel="sms", purpose="follow_up", to=to, body="请按时复诊", task=task
    )


def test_a_number_gets_at_most_the_clinics_sms_a_day_the_next_waits_its_turn(
    tenant_a, in_tenant, all_day, fake_sms, clock
):
    # The service, called here without a worker, writes in the language active.
    with in_tenant(tenant_a), translation.override("en"):
        first = _sms("+8613800138241")
        outbox.messages_send([first.pk])
        clock.shift(timedelta(hours=2))
        more = [_sms("+8613800138241") for _ in range(3)]
        other = _sms("+8613800138242")  # another number is not held back
        outbox.messages_send([m.pk for m in [*more, other]])

        statuses = [Message.objects.get(pk=m.pk).status for m in [*more, other]]
        assert statuses == ["sent", "sent", "queued", "sent"]
        held = Message.objects.get(pk=more[2].pk)
        assert (held.attempts, held.failed_at) == (0, None)
        assert held.send_after == Message.objects.get(pk=first.pk).sent_at + timedelta(hours=24)
        assert "3 SMS in 24 hours" in held.last_error
        assert outbox.outbox_due() == []

        clock.move_to(held.send_after)
        outbox.messages_send(outbox.outbox_due())
        assert Message.objects.get(pk=held.pk).status == "sent"
    assert len(fake_sms.sent) == 5


def test_over_the_clinics_30_day_limit_an_sms_is_not_sent_and_says_why(
    tenant_a, in_tenant, all_day, fake_sms, clock
):
    task = _message_task(tenant_a, in_tenant, phone="+8613800138243")
    # The service, called here without a worker, writes in the language active.
    with in_tenant(tenant_a), translation.override("en"):
        tenant_a.sms_per_number_month = 2
        tenant_a.save()
        for days_ago in (31, 20, 10):  # the first is outside the 30 days
            sent_at = timezone.now() - timedelta(days=days_ago)
            Message.objects.create(
                channel="sms",
                purpose="follow_up",
                to="+8613800138243",
                body="复诊提醒",
                status="sent",
                send_after=sent_at,
                sent_at=sent_at,
            )
        followup_tick()
        message = Message.objects.get(task=task)
        outbox.messages_send([message.pk])

        message.refresh_from_db()
        task.refresh_from_db()
        assert message.status == "failed"
        assert "2 SMS in 30 days" in message.last_error
        assert (task.status, task.reason) == ("unreachable", "message_failed")
    assert fake_sms.sent == []


def test_another_clinics_limits_and_messages_do_not_count(
    tenant_a, tenant_b, in_tenant, all_day, fake_sms
):
    with in_tenant(tenant_b):
        tenant_b.sms_per_number_day = 1
        tenant_b.message_hours = [["00:00", "24:00"]]
        tenant_b.save()
        outbox.messages_send([_sms("+8613800138244").pk])
    with in_tenant(tenant_a):
        sent = [_sms("+8613800138244") for _ in range(3)]
        outbox.messages_send([m.pk for m in sent])
        assert set(Message.objects.values_list("status", flat=True)) == {"sent"}

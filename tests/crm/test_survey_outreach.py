"""What holds survey messages back and what follows them (DESIGN.md §7a.8): one reminder to
non-responders, at most one survey per contact per N days, nothing while a return visit is
booked; and the "return visit booked" encounter kind that says so."""

import re
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from crm.models import Encounter, FollowUpRule, FollowUpTask, Message
from crm.selectors import contact_held_back
from crm.services.followup import followup_tick
from crm.services.kinds import encounter_kind_add
from crm.services.planning import encounters_plan
from surveys.links import invitation_create
from surveys.models import SurveyInvitation, SurveyResponse
from tests.conftest import host_of, login
from tests.crm.conftest import in_english
from tests.factories import ContactFactory, EncounterFactory, RuleFactory
from tests.fake_sms import FakeSms
from tests.surveys.conftest import STANDARD, survey_with

SHORT_PATH = re.compile(r"/s/[2-9a-zA-Z]{10}(?=\s|$)")


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
def _all_day(tenant_a, tenant_b):
    for tenant in (tenant_a, tenant_b):
        tenant.message_hours = [["00:00", "24:00"]]
        tenant.save()
    cache.clear()


def _survey_task(tenant, in_tenant, *, contact=None, phone="+8613800138501"):
    """A survey-link follow-up of yesterday's discharge, its window open."""
    with in_tenant(tenant):
        survey = survey_with(STANDARD[:2])
        FollowUpRule.objects.update(active=False)
        RuleFactory(
            steps=[{"offset_days": 0, "due_days": 10, "channel": "survey_link", "survey": survey}]
        )
        encounter = EncounterFactory(
            contact=contact or ContactFactory(name="王芳", phone=phone),
            occurred_at=timezone.now() - timedelta(days=1),
        )
        encounters_plan([encounter.pk])
        return FollowUpTask.objects.get(encounter=encounter)


def _tick(tenant, in_tenant, capture):
    with in_tenant(tenant), capture(execute=True):
        return followup_tick()


def _reminders(tenant, in_tenant):
    with in_tenant(tenant):
        return list(Message.objects.filter(purpose="survey_reminder").order_by("pk"))


# --- One reminder ------------------------------------------------------------------------------


@pytest.mark.now("2026-11-20 10:00")
def test_one_reminder_after_the_clinics_days_with_a_short_link_of_its_own(
    tenant_a, in_tenant, fake_sms, clock, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    task = _survey_task(tenant_a, in_tenant)
    _tick(tenant_a, in_tenant, capture)  # the survey SMS
    clock.shift(timedelta(days=2, hours=23))
    assert _tick(tenant_a, in_tenant, capture).survey_reminders == 0  # not yet: 3 days

    clock.shift(timedelta(hours=1))
    first = _tick(tenant_a, in_tenant, capture).survey_reminders
    clock.shift(timedelta(days=1))
    again = _tick(tenant_a, in_tenant, capture).survey_reminders

    assert (first, again) == (1, 0)
    [reminder] = _reminders(tenant_a, in_tenant)
    assert (reminder.status, reminder.channel, reminder.to) == ("sent", "sms", "+8613800138501")
    assert reminder.task_id == task.pk
    survey_path = SHORT_PATH.search(fake_sms.sent[0]["Body"])[0]
    reminder_path = SHORT_PATH.search(fake_sms.sent[1]["Body"])[0]
    assert "前几天我们请您评价" in fake_sms.sent[1]["Body"] and reminder_path != survey_path
    # Either link answers the same survey, once.
    client = Client(HTTP_HOST=host_of(tenant_a))
    assert client.post(reminder_path, {"q_q1": "5", "q_q2": "5"}).status_code == 302
    assert client.get(survey_path).status_code == 200  # "already answered" page
    with in_tenant(tenant_a):
        assert SurveyResponse.objects.count() == 1
        task.refresh_from_db()
        assert task.status == "completed"


@pytest.mark.now("2026-11-20 10:00")
def test_no_reminder_for_a_survey_already_answered(
    tenant_a, in_tenant, fake_sms, clock, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    _survey_task(tenant_a, in_tenant)
    _tick(tenant_a, in_tenant, capture)
    path = SHORT_PATH.search(fake_sms.sent[0]["Body"])[0]
    Client(HTTP_HOST=host_of(tenant_a)).post(path, {"q_q1": "4", "q_q2": "4"})
    clock.shift(timedelta(days=4))

    assert _tick(tenant_a, in_tenant, capture).survey_reminders == 0
    assert _reminders(tenant_a, in_tenant) == [] and len(fake_sms.sent) == 1
    with in_tenant(tenant_a):
        assert SurveyInvitation.objects.get().reminded_at is None


@pytest.mark.now("2026-11-20 10:00")
def test_no_reminder_for_an_expired_link_nor_to_an_opted_out_contact(
    tenant_a, in_tenant, fake_sms, clock, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    expired = _survey_task(tenant_a, in_tenant, phone="+8613800138502")
    _tick(tenant_a, in_tenant, capture)
    opted_out = _survey_task(tenant_a, in_tenant, phone="+8613800138503")
    _tick(tenant_a, in_tenant, capture)
    with in_tenant(tenant_a):
        SurveyInvitation.objects.filter(task=expired).update(
            expires_at=timezone.now() + timedelta(days=2)
        )
        opted_out.contact.do_not_contact = True
        opted_out.contact.save()
    clock.shift(timedelta(days=3, hours=1))

    assert _tick(tenant_a, in_tenant, capture).survey_reminders == 0
    assert _reminders(tenant_a, in_tenant) == [] and len(fake_sms.sent) == 2


@pytest.mark.now("2026-11-20 10:00")
def test_a_reminder_setting_of_zero_sends_none(
    tenant_a, in_tenant, fake_sms, clock, django_capture_on_commit_callbacks
):
    tenant_a.survey_reminder_days = 0
    tenant_a.save()
    _survey_task(tenant_a, in_tenant)
    _tick(tenant_a, in_tenant, django_capture_on_commit_callbacks)
    clock.shift(timedelta(days=5))

    assert _tick(tenant_a, in_tenant, django_capture_on_commit_callbacks).survey_reminders == 0
    assert len(fake_sms.sent) == 1


@pytest.mark.now("2026-11-20 10:00")
def test_another_clinics_tick_never_reminds_this_clinics_contacts(
    tenant_a, tenant_b, in_tenant, fake_sms, clock, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    _survey_task(tenant_a, in_tenant)
    _tick(tenant_a, in_tenant, capture)
    clock.shift(timedelta(days=4))

    assert _tick(tenant_b, in_tenant, capture).survey_reminders == 0

    assert _reminders(tenant_a, in_tenant) == [] and len(fake_sms.sent) == 1
    with in_tenant(tenant_a):
        assert SurveyInvitation.objects.get().reminded_at is None
    with in_tenant(tenant_b):
        assert Message.objects.count() == 0


# --- Survey fatigue ----------------------------------------------------------------------------


@pytest.mark.now("2026-11-20 10:00")
def test_a_contact_surveyed_within_the_clinics_days_gets_the_message_without_a_survey(
    tenant_a, in_tenant, fake_sms, clock, django_capture_on_commit_callbacks
):
    with in_tenant(tenant_a):
        contact = ContactFactory(name="李雷", phone="+8613800138504")
        invitation_create(survey_with(STANDARD[:1]), contact)
    clock.shift(timedelta(days=89))
    task = _survey_task(tenant_a, in_tenant, contact=contact)

    _tick(tenant_a, in_tenant, django_capture_on_commit_callbacks)

    with in_tenant(tenant_a):
        message = Message.objects.get(task=task)
        assert message.purpose == "follow_up" and "/s/" not in message.body
        assert SurveyInvitation.objects.filter(task=task).count() == 0
        task.refresh_from_db()
        assert task.status == "completed"  # done once sent, as any message follow-up
    assert "/s/" not in fake_sms.sent[0]["Body"]


@pytest.mark.now("2026-11-20 10:00")
def test_after_the_clinics_days_the_survey_goes_again(
    tenant_a, in_tenant, fake_sms, clock, django_capture_on_commit_callbacks
):
    tenant_a.survey_interval_days = 30
    tenant_a.save()
    with in_tenant(tenant_a):
        contact = ContactFactory(name="李雷", phone="+8613800138505")
        invitation_create(survey_with(STANDARD[:1]), contact)
    clock.shift(timedelta(days=31))
    task = _survey_task(tenant_a, in_tenant, contact=contact)

    _tick(tenant_a, in_tenant, django_capture_on_commit_callbacks)

    with in_tenant(tenant_a):
        assert Message.objects.get(task=task).purpose == "survey"
    assert SHORT_PATH.search(fake_sms.sent[0]["Body"])


# --- A return visit booked ---------------------------------------------------------------------


@pytest.mark.now("2026-11-20 10:00")
def test_no_follow_up_message_while_a_return_visit_is_booked(
    tenant_a, in_tenant, fake_sms, django_capture_on_commit_callbacks
):
    task = _survey_task(tenant_a, in_tenant)
    with in_tenant(tenant_a):
        EncounterFactory(
            contact=task.contact, kind="appointment", occurred_at=timezone.now() + timedelta(days=2)
        )

    _tick(tenant_a, in_tenant, django_capture_on_commit_callbacks)

    with in_tenant(tenant_a):
        task.refresh_from_db()
        assert (task.status, task.reason) == ("cancelled", "return_visit_booked")
        assert Message.objects.count() == 0 and SurveyInvitation.objects.count() == 0
    assert fake_sms.sent == []


@pytest.mark.now("2026-11-20 10:00")
def test_a_clinic_kind_that_books_a_return_visit_holds_messages_back_too(
    tenant_a, in_tenant, fake_sms, django_capture_on_commit_callbacks
):
    task = _survey_task(tenant_a, in_tenant)
    with in_tenant(tenant_a):
        booked = encounter_kind_add(name="保养预约", books_return_visit=True)
        EncounterFactory(
            contact=task.contact, kind=booked.code, occurred_at=timezone.now() + timedelta(days=2)
        )

    _tick(tenant_a, in_tenant, django_capture_on_commit_callbacks)

    with in_tenant(tenant_a):
        task.refresh_from_db()
        assert (task.status, task.reason) == ("cancelled", "return_visit_booked")
        assert Message.objects.count() == 0 and SurveyInvitation.objects.count() == 0
    assert fake_sms.sent == []


@pytest.mark.now("2026-11-20 10:00")
def test_a_return_visit_already_past_holds_nothing_back(
    tenant_a, in_tenant, fake_sms, django_capture_on_commit_callbacks
):
    task = _survey_task(tenant_a, in_tenant)
    with in_tenant(tenant_a):
        EncounterFactory(
            contact=task.contact,
            kind="appointment",
            occurred_at=timezone.now() - timedelta(hours=1),
        )

    _tick(tenant_a, in_tenant, django_capture_on_commit_callbacks)

    assert len(fake_sms.sent) == 1


@pytest.mark.now("2026-11-20 10:00")
def test_no_reminder_once_a_return_visit_is_booked(
    tenant_a, in_tenant, fake_sms, clock, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    task = _survey_task(tenant_a, in_tenant)
    _tick(tenant_a, in_tenant, capture)
    with in_tenant(tenant_a):
        EncounterFactory(
            contact=task.contact, kind="appointment", occurred_at=timezone.now() + timedelta(days=9)
        )
    clock.shift(timedelta(days=3, hours=1))

    _tick(tenant_a, in_tenant, capture)
    _tick(tenant_a, in_tenant, capture)

    assert _reminders(tenant_a, in_tenant) == [] and len(fake_sms.sent) == 1
    with in_tenant(tenant_a):
        # Dropped, once: the tick does not look at it again.
        assert SurveyInvitation.objects.get().reminded_at is not None


# --- What the contact's history says was held back --------------------------------------------


def _history(client, contact, language: str) -> str:
    client.cookies["django_language"] = language
    return client.get(f"/contacts/{contact.pk}/").content.decode()


@pytest.mark.now("2026-11-20 10:00")
def test_the_contacts_history_says_the_survey_was_left_out_and_when_they_had_one(
    tenant_a,
    tenant_b,
    in_tenant,
    admin_a,
    client_a,
    fake_sms,
    clock,
    django_capture_on_commit_callbacks,
):
    with in_tenant(tenant_a):
        contact = ContactFactory(name="李雷", phone="+8613800138506")
        invitation_create(survey_with(STANDARD[:1]), contact)
    clock.shift(timedelta(days=30))
    task = _survey_task(tenant_a, in_tenant, contact=contact)
    _tick(tenant_a, in_tenant, django_capture_on_commit_callbacks)
    login(in_english(client_a), "admin@alpha.test")

    english = _history(client_a, contact, "en")
    chinese = _history(client_a, contact, "zh-hans")

    assert "Survey not sent: the contact was sent or answered one on 2026-11-20." in english
    assert "未发送问卷：该联系人已于 2026-11-20 收到或填写过问卷。" in chinese
    with in_tenant(tenant_a):
        assert contact_held_back(contact.pk)[task.pk].why == "surveyed"
    with in_tenant(tenant_b):  # another clinic's history of the same id holds nothing
        assert contact_held_back(contact.pk) == {}


@pytest.mark.now("2026-11-20 10:00")
def test_the_contacts_history_names_the_booked_return_visit(
    tenant_a, in_tenant, admin_a, client_a, fake_sms, django_capture_on_commit_callbacks
):
    task = _survey_task(tenant_a, in_tenant)
    with in_tenant(tenant_a):
        EncounterFactory(
            contact=task.contact, kind="appointment", occurred_at=timezone.now() + timedelta(days=2)
        )
    _tick(tenant_a, in_tenant, django_capture_on_commit_callbacks)
    login(client_a, "admin@alpha.test")

    english = _history(client_a, task.contact, "en")
    chinese = _history(client_a, task.contact, "zh-hans")

    assert "No message sent: a return visit is booked on 2026-11-22." in english
    assert "未发送消息：已预约 2026-11-22 复诊。" in chinese


@pytest.mark.now("2026-11-20 10:00")
def test_a_survey_sent_as_planned_is_not_said_to_be_held_back(
    tenant_a, in_tenant, admin_a, client_a, fake_sms, django_capture_on_commit_callbacks
):
    task = _survey_task(tenant_a, in_tenant)
    _tick(tenant_a, in_tenant, django_capture_on_commit_callbacks)
    login(client_a, "admin@alpha.test")

    assert "Survey not sent" not in _history(client_a, task.contact, "en")
    with in_tenant(tenant_a):
        assert contact_held_back(task.contact_id) == {}


def test_a_rule_for_every_kind_does_not_follow_up_a_booking(tenant_a, in_tenant):
    with in_tenant(tenant_a):
        FollowUpRule.objects.update(active=False)
        RuleFactory(match_kinds=[])
        booked = EncounterFactory(
            kind="appointment", occurred_at=timezone.now() + timedelta(days=7)
        )
        named = RuleFactory(match_kinds=["appointment"])

        encounters_plan([booked.pk])

        assert list(
            FollowUpTask.objects.filter(encounter=booked).values_list("rule", flat=True)
        ) == [named.pk]


def test_the_import_takes_a_booked_return_visit_in_the_future_and_nothing_else(tenant_a, in_tenant):
    from crm.registers import RowContext, row_check

    with in_tenant(tenant_a):
        ctx = RowContext(
            zone=timezone.get_current_timezone(),
            region="CN",
            tenant_kind="hospital",
            departments={},
            staff={},
            now=timezone.now(),
        )
        ahead = (timezone.now() + timedelta(days=10)).strftime("%Y-%m-%d")
        booked = row_check(1, {"name": "张三", "occurred_at": ahead, "kind": "预约复诊"}, ctx)
        discharge = row_check(2, {"name": "李四", "occurred_at": ahead, "kind": "出院"}, ctx)

    assert booked.errors == [] and booked.values["kind"] == Encounter.Kind.APPOINTMENT
    assert discharge.codes == ["future_date"]

"""The anti-fraud pre-notice (DESIGN.md §7a.3): an SMS the day before a phone follow-up's
window opens names the clinic and the number it will call from; the report compares the
"hung up, suspected fraud" rate of follow-ups announced that way with the others."""

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import translation

from crm.models import CallAttempt, FollowUpRule, FollowUpTask, Message, OutcomeCode, RuleStep
from crm.reporting.figures.followup import pre_notice_figures
from crm.reporting.period import month_period
from crm.services.followup import followup_tick
from crm.services.planning import encounters_plan
from tests.clock import at
from tests.conftest import login
from tests.crm.conftest import in_english
from tests.factories import ContactFactory, EncounterFactory, RuleFactory, StaffFactory

DISCHARGED = "2026-11-19 10:00"


@pytest.fixture(autouse=True)
def _caller_numbers(tenant_a, tenant_b):
    connection.set_schema_to_public()
    for tenant, number in ((tenant_a, "010-6512 3456"), (tenant_b, "021-5555 0000")):
        tenant.caller_number = number
        tenant.message_hours = [["08:00", "20:00"]]
        tenant.save()
    yield
    connection.set_schema_to_public()
    for tenant in (tenant_a, tenant_b):
        tenant.caller_number = ""
        tenant.save()


def _phone_task(tenant, in_tenant, *, pre_notice=True, offset_days=2, **contact) -> FollowUpTask:
    """A phone follow-up of a discharge on DISCHARGED, opening ``offset_days`` later."""
    with in_tenant(tenant):
        FollowUpRule.objects.update(active=False)
        RuleFactory(
            steps=[
                {"offset_days": offset_days, "due_days": offset_days + 2, "pre_notice": pre_notice}
            ]
        )
        encounter = EncounterFactory(
            contact=ContactFactory(**{"name": "王芳", "phone": "+8613800138501", **contact}),
            occurred_at=at(DISCHARGED),
        )
        encounters_plan([encounter.pk])
        return FollowUpTask.objects.select_related("contact").get(encounter=encounter)


def _tick(tenant, in_tenant):
    with in_tenant(tenant):
        return followup_tick()


def _notices(tenant, in_tenant) -> list[Message]:
    with in_tenant(tenant):
        return list(Message.objects.filter(purpose="pre_notice").order_by("pk"))


@pytest.mark.now("2026-11-20 07:00")
def test_the_day_before_the_window_opens_one_sms_names_the_number_and_waits_for_message_hours(
    tenant_a, in_tenant
):
    task = _phone_task(tenant_a, in_tenant)  # window opens 2026-11-21 00:00

    first = _tick(tenant_a, in_tenant)
    second = _tick(tenant_a, in_tenant)

    assert (first.pre_notices, second.pre_notices) == (1, 0)
    [notice] = _notices(tenant_a, in_tenant)
    assert (notice.channel, notice.to, notice.task_id) == ("sms", "+8613800138501", task.pk)
    assert notice.body == (
        "【Alpha 人民医院】王芳您好，Alpha 人民医院随访中心将用010-6512 3456给您来电，"
        "回访您2026年11月19日出院（就诊）后的恢复情况，请放心接听。退订回TD"
    )
    assert notice.send_after == at("2026-11-20 08:00")  # the clinic's message hours
    assert notice.language == "zh-hans"


@pytest.mark.now("2026-11-20 09:00")
def test_an_english_speaking_contact_gets_the_english_text(tenant_a, in_tenant):
    _phone_task(tenant_a, in_tenant, language="en")

    _tick(tenant_a, in_tenant)

    [notice] = _notices(tenant_a, in_tenant)
    assert notice.body == (
        "Alpha 人民医院: Dear 王芳, the follow-up centre of Alpha 人民医院 will call you from "
        "010-6512 3456 about your discharge (visit) on Nov. 19, 2026. Reply STOP to opt out."
    )


@pytest.mark.now("2026-11-20 09:00")
def test_not_before_the_day_before_and_then_once(tenant_a, in_tenant, clock):
    _phone_task(tenant_a, in_tenant, offset_days=3)  # opens 2026-11-22 00:00

    _tick(tenant_a, in_tenant)
    assert _notices(tenant_a, in_tenant) == []

    clock.move_to(at("2026-11-21 00:30"))
    _tick(tenant_a, in_tenant)
    _tick(tenant_a, in_tenant)
    assert len(_notices(tenant_a, in_tenant)) == 1


@pytest.mark.now("2026-11-20 09:00")
@pytest.mark.parametrize(
    "contact",
    [{"do_not_contact": True}, {"deceased": True}, {"phone": ""}],
    ids=["opted-out", "deceased", "no-phone"],
)
def test_no_notice_to_opted_out_deceased_or_unreachable_contacts(tenant_a, in_tenant, contact):
    task = _phone_task(tenant_a, in_tenant, **contact)

    _tick(tenant_a, in_tenant)

    assert _notices(tenant_a, in_tenant) == []
    with in_tenant(tenant_a):
        task.refresh_from_db()
        assert task.attempts_count == 0  # the phone follow-up itself is left as it was


@pytest.mark.now("2026-11-20 09:00")
def test_no_notice_without_the_flag_without_a_caller_number_or_after_a_first_call(
    tenant_a, in_tenant
):
    _phone_task(tenant_a, in_tenant, pre_notice=False)
    _tick(tenant_a, in_tenant)
    assert _notices(tenant_a, in_tenant) == []

    called = _phone_task(tenant_a, in_tenant)
    with in_tenant(tenant_a):
        FollowUpTask.objects.filter(pk=called.pk).update(attempts_count=1)
    _tick(tenant_a, in_tenant)
    assert _notices(tenant_a, in_tenant) == []

    _phone_task(tenant_a, in_tenant)
    connection.set_schema_to_public()
    tenant_a.caller_number = ""
    tenant_a.save()
    _tick(tenant_a, in_tenant)
    assert _notices(tenant_a, in_tenant) == []


@pytest.mark.now("2026-11-20 09:00")
def test_each_clinic_announces_its_own_calls_with_its_own_number(tenant_a, tenant_b, in_tenant):
    _phone_task(tenant_a, in_tenant)
    _phone_task(tenant_b, in_tenant)

    _tick(tenant_a, in_tenant)

    assert _notices(tenant_b, in_tenant) == []
    _tick(tenant_b, in_tenant)
    [beta] = _notices(tenant_b, in_tenant)
    assert "021-5555 0000" in beta.body and "Alpha" not in beta.body
    assert len(_notices(tenant_a, in_tenant)) == 1


def test_only_a_phone_step_can_be_announced(tenant_a, in_tenant):
    with in_tenant(tenant_a):
        rule = RuleFactory(steps=[])
        step = RuleStep(rule=rule, name="短信", offset_days=1, due_days=1, channel="sms")
        step.pre_notice = True
        with pytest.raises(ValidationError) as error:
            step.full_clean()
        with translation.override("en"):
            assert error.value.message_dict == {
                "pre_notice": ["Only a phone call is announced by an SMS beforehand."]
            }
        with translation.override("zh-hans"):
            assert error.value.message_dict == {
                "pre_notice": ["只有电话回访才能提前发送来电通知短信。"]
            }
        assert not RuleStep.objects.filter(rule=rule).exists()


def test_a_caller_number_that_is_not_a_number_is_refused_and_nothing_saved(
    client_a, admin_a, tenant_a
):
    login(in_english(client_a), "admin@alpha.test")
    page = client_a.get("/settings/")
    form = {k: v for k, v in page.context["form"].initial.items() if v is not None}
    form["calling_hours"] = "08:00-12:00"
    form["message_hours"] = "08:00-20:00"
    form["caller_number"] = "call us!"
    form["name"] = "改了名字"

    response = client_a.post("/settings/", form)

    assert response.status_code == 200
    assert response.context["form"].errors["caller_number"] == [
        "Write the number as patients see it: digits, spaces or dashes, e.g. 010-6512 3456."
    ]
    connection.set_schema_to_public()
    tenant_a.refresh_from_db()
    assert (tenant_a.caller_number, tenant_a.name) == ("010-6512 3456", "Alpha 人民医院")


@pytest.mark.now("2026-11-25 10:00")
def test_the_report_compares_fraud_hang_ups_with_and_without_the_notice(
    tenant_a, in_tenant, admin_a, client_a
):
    announced = _phone_task(tenant_a, in_tenant)
    unannounced = [_phone_task(tenant_a, in_tenant, pre_notice=False) for _ in range(2)]
    with in_tenant(tenant_a):
        agent = StaffFactory(role="agent")
        Message.objects.create(
            channel="sms",
            purpose="pre_notice",
            to="+8613800138501",
            body="…",
            task=announced,
            contact=announced.contact,
            send_after=at("2026-11-20 08:00"),
            status=Message.Status.SENT,
        )
        fraud = OutcomeCode.objects.get(category="hung_up_suspected_fraud")
        reached = OutcomeCode.objects.get(category="reached")
        for task, code in [
            (announced, reached),
            (unannounced[0], fraud),
            (unannounced[1], reached),
        ]:
            CallAttempt.objects.create(
                task=task,
                agent=agent,
                channel="phone",
                started_at=at("2026-11-21 09:00"),
                outcome=code,
                category=code.category,
            )
        # A second call of the same follow-up: still one follow-up in the rate.
        CallAttempt.objects.create(
            task=unannounced[0],
            agent=agent,
            channel="phone",
            started_at=at("2026-11-22 09:00"),
            outcome=fraud,
            category=fraud.category,
        )
        figures = pre_notice_figures(month_period(at("2026-11-01 10:00").date()))

    assert (figures["noticed"], figures["noticed_fraud"]) == (1, 0)
    assert (figures["other"], figures["other_fraud"]) == (2, 1)
    assert (figures["noticed_rate"], str(figures["other_rate"])) == (0, "50.00")
    login(in_english(client_a), "admin@alpha.test")
    page = client_a.get("/reports/?month=2026-11").content.decode()
    assert "0.00 % with an SMS before the first call (0 / 1)" in page
    assert "50.00 % without (1 / 2)" in page

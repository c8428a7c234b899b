"""Lapsed-customer rules (issue 19 §2): the tick plans a call for a contact whose last
encounter is N days old with nothing after it (the car dealer's "no visit for 6 months", the
dental recall nobody booked), once per lapse, and cancels it when the contact comes back."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import IntegrityError, transaction

import crm.tasks  # noqa: F401  (registers the tasks services enqueue by name)
from crm.models import FollowUpRule, FollowUpTask
from crm.services.followup import followup_tick
from crm.services.planning import encounters_plan, lapsed_customers_plan
from saas.clock import now
from tests.crm.test_rules_pages import rule_post
from tests.factories import ContactFactory, EncounterFactory, RuleFactory

SHANGHAI = ZoneInfo("Asia/Shanghai")
Status = FollowUpTask.Status
Reason = FollowUpTask.Reason

pytestmark = pytest.mark.now("2026-11-20 10:00")


@pytest.fixture
def alpha(tenant_a, in_tenant):
    """Inside alpha (Asia/Shanghai) with its preset rules switched off."""
    with in_tenant(tenant_a):
        FollowUpRule.objects.update(active=False)
        yield tenant_a


def lapsed_rule(days=180, **options):
    return RuleFactory(
        name="久未到店",
        trigger="lapsed",
        lapse_days=days,
        match_kinds=["sale", "maintenance"],
        steps=[{"name": "Call", "offset_days": 0, "due_days": 14}],
        **options,
    )


def sale(days_ago: int, contact=None, kind="sale"):
    occurred = datetime(2026, 11, 20, 10, tzinfo=SHANGHAI) - timedelta(days=days_ago)
    return EncounterFactory(
        kind=kind, discharge_outcome="", occurred_at=occurred, contact=contact or ContactFactory()
    )


def lapse_tasks():
    return list(FollowUpTask.objects.filter(rule__trigger="lapsed").order_by("id"))


def test_a_lapsed_customer_is_planned_once_over_two_ticks(alpha):
    lapsed_rule()
    bought = sale(days_ago=185)
    assert followup_tick(now=now()).lapsed_planned == 1
    [task] = lapse_tasks()
    assert (task.encounter, task.status, task.name) == (bought, Status.PENDING, "久未到店 · Call")
    # Day 0 is the day the customer lapsed: 180 days after the sale's local date.
    assert task.opens_at == datetime(2026, 11, 15, tzinfo=SHANGHAI)
    assert task.due_at == datetime(2026, 11, 30, tzinfo=SHANGHAI)
    again = followup_tick(now=now())
    assert (again.lapsed_planned, again.lapsed_came_back) == (0, 0)
    assert lapse_tasks() == [task]


def test_a_customer_not_yet_lapsed_is_not_planned_even_when_the_encounter_is(alpha):
    lapsed_rule()
    recent = sale(days_ago=179)
    encounters_plan([recent.pk])  # what an import does
    assert lapsed_customers_plan(now=now()).planned == 0
    assert lapse_tasks() == []


def test_a_later_encounter_means_no_lapse(alpha):
    lapsed_rule()
    contact = ContactFactory()
    sale(days_ago=300, contact=contact)
    serviced = sale(days_ago=20, contact=contact, kind="maintenance")
    assert lapsed_customers_plan(now=now()).planned == 0
    encounters_plan([serviced.pk])
    assert lapse_tasks() == []


def test_a_booked_return_visit_means_no_lapse(alpha):
    """The dental recall: nobody is called who already booked."""
    lapsed_rule()
    contact = ContactFactory()
    sale(days_ago=200, contact=contact)
    sale(days_ago=-10, contact=contact, kind="appointment")
    assert lapsed_customers_plan(now=now()).planned == 0


def test_a_customer_who_comes_back_is_not_called_and_a_new_lapse_plans_again(alpha, clock):
    lapsed_rule()
    contact = ContactFactory()
    first = sale(days_ago=181, contact=contact)
    lapsed_customers_plan(now=now())
    [call] = lapse_tasks()
    back = sale(days_ago=0, contact=contact, kind="maintenance")
    result = lapsed_customers_plan(now=now())
    assert (result.planned, result.came_back) == (0, 1)
    call.refresh_from_db()
    # Never called: it leaves the report's denominators, like a rule's exclusion.
    assert (call.status, call.reason) == (Status.EXCLUDED, Reason.NOT_LAPSED)
    # Re-planning the first encounter keeps it so, with that reason.
    encounters_plan([first.pk])
    call.refresh_from_db()
    assert (call.status, call.reason) == (Status.EXCLUDED, Reason.NOT_LAPSED)
    # 180 days after the service, with nothing since, they have lapsed again.
    clock.move_to(datetime(2027, 5, 19, 9, tzinfo=SHANGHAI))
    assert lapsed_customers_plan(now=now()).planned == 1
    assert [(t.encounter_id, t.status) for t in lapse_tasks()] == [
        (first.pk, Status.EXCLUDED),
        (back.pk, Status.PENDING),
    ]


def test_a_lapse_whose_window_has_passed_is_not_planned(alpha):
    """A rule created today does not plan calls that are already too late."""
    lapsed_rule()
    sale(days_ago=3 * 365)
    assert lapsed_customers_plan(now=now()).planned == 0


@pytest.mark.parametrize(
    ("contact", "status", "reason"),
    [
        ({"deceased": True}, Status.EXCLUDED, Reason.DECEASED),
        ({"do_not_contact": True}, Status.EXCLUDED, Reason.DO_NOT_CONTACT),
        ({"phone": ""}, Status.UNREACHABLE, Reason.NO_CONTACT),
    ],
)
def test_a_lapsed_call_keeps_the_exclusions_and_opt_outs(alpha, contact, status, reason):
    lapsed_rule()
    sale(days_ago=200, contact=ContactFactory(**contact))
    lapsed_customers_plan(now=now())
    [task] = lapse_tasks()
    assert (task.status, task.reason) == (status, reason)


def test_an_erased_contact_is_never_called_as_lapsed(alpha):
    lapsed_rule()
    sale(days_ago=200, contact=ContactFactory(anonymised_at=now()))
    assert lapsed_customers_plan(now=now()).planned == 0


def test_the_lapsed_rule_matches_only_what_it_names(alpha):
    lapsed_rule(match_tags=["vip"])
    sale(days_ago=200)
    vip = EncounterFactory(
        kind="sale",
        discharge_outcome="",
        tags=["vip"],
        occurred_at=datetime(2026, 5, 20, 10, tzinfo=SHANGHAI),
    )
    assert lapsed_customers_plan(now=now()).planned == 1
    assert [t.encounter_id for t in lapse_tasks()] == [vip.pk]


def test_the_database_refuses_a_lapsed_rule_without_a_positive_n(alpha):
    for days in (None, 0):
        with pytest.raises(IntegrityError), transaction.atomic():
            FollowUpRule.objects.create(name="x", trigger="lapsed", lapse_days=days)


@pytest.mark.parametrize("days", ["0", "-5", ""])
def test_the_rule_form_refuses_a_lapse_of_zero_or_negative_days(
    admin_client_a, tenant_a, in_tenant, days
):
    data = rule_post([{}], trigger="lapsed", lapse_days=days, name="流失客户")
    response = admin_client_a.post("/rules/new/", data)
    assert response.status_code == 200
    assert response.context["form"].errors["lapse_days"] == [
        "请填写客户多少天没有新的就诊即视为流失：须为不小于 1 的整数天数。"
    ]
    with in_tenant(tenant_a):
        assert not FollowUpRule.objects.filter(name="流失客户").exists()


def test_the_rule_form_saves_a_lapsed_rule_and_the_list_says_so(
    admin_client_a, tenant_a, in_tenant
):
    data = rule_post([{}], trigger="lapsed", lapse_days="180", name="流失客户")
    assert admin_client_a.post("/rules/new/", data).status_code == 302
    with in_tenant(tenant_a):
        rule = FollowUpRule.objects.get(name="流失客户")
        assert (rule.trigger, rule.lapse_days) == ("lapsed", 180)
    page = admin_client_a.get("/rules/").content.decode()
    assert "180 天未再到访" in page


def test_an_ordinary_rule_forgets_a_lapse_typed_into_it(admin_client_a, tenant_a, in_tenant):
    data = rule_post([{}], trigger="encounter", lapse_days="90", name="普通规则")
    assert admin_client_a.post("/rules/new/", data).status_code == 302
    with in_tenant(tenant_a):
        assert FollowUpRule.objects.get(name="普通规则").lapse_days is None


def test_another_clinic_neither_plans_nor_sees_the_lapse(
    tenant_a, tenant_b, in_tenant, admin_client_b
):
    with in_tenant(tenant_a):
        FollowUpRule.objects.update(active=False)
        rule = lapsed_rule()
        sale(days_ago=200)
    with in_tenant(tenant_b):
        assert lapsed_customers_plan(now=now()).planned == 0
        assert not FollowUpTask.objects.filter(rule__trigger="lapsed").exists()
    assert admin_client_b.get(f"/rules/{rule.pk}/").status_code == 404
    with in_tenant(tenant_a):
        assert lapse_tasks() == []
        assert lapsed_customers_plan(now=now()).planned == 1


def test_a_lapse_already_called_stays_in_the_figures_when_the_customer_comes_back(alpha):
    """Only a call nobody made leaves the denominators; one that was tried keeps its attempt."""
    lapsed_rule()
    contact = ContactFactory()
    sale(days_ago=181, contact=contact)
    lapsed_customers_plan(now=now())
    [call] = lapse_tasks()
    FollowUpTask.objects.filter(pk=call.pk).update(attempts_count=1)
    sale(days_ago=0, contact=contact, kind="maintenance")
    assert lapsed_customers_plan(now=now()).came_back == 1
    call.refresh_from_db()
    assert (call.status, call.reason) == (Status.CANCELLED, Reason.NOT_LAPSED)

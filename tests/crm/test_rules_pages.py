"""Follow-up rules and outcome codes, edited by the clinic's administrator; the preview."""

import pytest
from django.utils import translation

from crm.models import FollowUpRule, FollowUpTask, OutcomeCode, RuleStep
from crm.services.planning import encounters_plan
from tests.crm.conftest import in_english
from tests.factories import EncounterFactory

STEP = {
    "name": "Day 3",
    "offset_days": "3",
    "due_days": "5",
    "grace_days": "7",
    "channel": "phone",
    "tier": "2",
    "assignee_policy": "centre",
    "max_attempts": "3",
    "retry_gap_hours": "4",
    "repeat_every_days": "",
    "repeat_limit": "",
    "stop_when": "limit",
    "script": "您好，这里是回访中心。",
}


def rule_post(steps: list[dict], **rule) -> dict:
    data = {
        "name": "骨科术后",
        "active": "on",
        "position": "5",
        "match_kinds": ["surgery"],
        "match_codes": "m17, M16",
        "match_tags": "",
        "exclude_tags": "privacy-sensitive",
        "exclude_outcomes": ["died"],
        "min_age": "",
        "max_age": "",
        "calling_hours": "18:00-20:30",
        "steps-TOTAL_FORMS": str(len(steps)),
        "steps-INITIAL_FORMS": "0",
        "steps-MIN_NUM_FORMS": "0",
        "steps-MAX_NUM_FORMS": "1000",
        **rule,
    }
    for i, step in enumerate(steps):
        data.update({f"steps-{i}-{k}": v for k, v in {**STEP, **step}.items()})
    return data


def test_admin_creates_a_rule_with_steps(admin_client_a, tenant_a, in_tenant):
    response = admin_client_a.post(
        "/rules/new/",
        rule_post([{}, {"name": "Month 1", "offset_days": "30", "due_days": "33"}]),
    )
    assert response.status_code == 302
    with in_tenant(tenant_a):
        rule = FollowUpRule.objects.get(name="骨科术后")
        assert rule.match_codes == ["M17", "M16"]
        assert rule.calling_hours == [["18:00", "20:30"]]
        assert rule.exclude_outcomes == ["died"]
        assert list(rule.steps.values_list("name", "position")) == [("Day 3", 0), ("Month 1", 1)]


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        ([{"offset_days": "-1"}], "Ensure this value is greater than or equal to 0."),
        ([{"offset_days": "5", "due_days": "3"}], "A step cannot be due before it opens."),
        (
            [{}, {"name": "Day 4", "offset_days": "4", "due_days": "6"}],
            "The windows of “Day 3” and “Day 4” overlap.",
        ),
        (
            [{"repeat_every_days": "30"}],
            "A repeating step needs a limit.",
        ),
        (
            [
                {"repeat_every_days": "30", "repeat_limit": "3"},
                {"name": "Day 60", "offset_days": "62", "due_days": "64"},
            ],
            "The windows of “Day 3” and “Day 60” overlap.",
        ),
        ([], "A rule needs at least one step."),
    ],
)
def test_bad_steps_are_refused_with_a_clear_message(
    admin_client_a, tenant_a, in_tenant, steps, message
):
    with translation.override("en"):
        response = in_english(admin_client_a).post("/rules/new/", rule_post(steps))
        assert response.status_code == 200
        assert message in response.content.decode()
    with in_tenant(tenant_a):
        assert not FollowUpRule.objects.filter(name="骨科术后").exists()
        assert not RuleStep.objects.filter(name="Day 3").exists()


def test_bad_calling_hours_are_refused(admin_client_a, tenant_a, in_tenant):
    response = admin_client_a.post("/rules/new/", rule_post([{}], calling_hours="20:00-18:00"))
    assert response.status_code == 200
    with in_tenant(tenant_a):
        assert not FollowUpRule.objects.filter(name="骨科术后").exists()


def test_preview_shows_the_tasks_a_sample_encounter_would_get(admin_client_a):
    response = admin_client_a.get(
        "/rules/preview/",
        {
            "kind": "discharge",
            "occurred_at": "2026-11-20T10:00",
            "discharge_outcome": "improved",
            "tags": "chronic",
            "has_phone": "on",
        },
    )
    planned = response.context["planned"]
    names = [p.name for p in planned]
    # An improved patient is the attending doctor's call (the hospital preset).
    assert "出院回访（好转/转院） · 出院 3–7 天" in names
    assert "慢病随访 · 首次随访" in names
    assert "出院回访 · 出院 3–7 天" not in names  # not the centre's as well
    page = response.content.decode()
    assert '<td data-label="开始">2026-11-23</td>' in page  # day 3, local
    assert '<td data-label="到期">2026-11-27</td>' in page  # the last day of the window


def test_preview_shows_exclusions_with_the_reason(admin_client_a):
    response = admin_client_a.get(
        "/rules/preview/",
        {"kind": "discharge", "occurred_at": "2026-11-20T10:00", "discharge_outcome": "died"},
    )
    [planned] = response.context["planned"]
    assert planned.reason == FollowUpTask.Reason.DECEASED


def test_preview_without_a_phone_shows_unreachable_not_excluded(admin_client_a):
    """Issue 19: the preview says what planning will do: unreachable, no contact information."""
    response = in_english(admin_client_a).get(
        "/rules/preview/",
        {"kind": "discharge", "occurred_at": "2026-11-20T10:00", "has_phone": ""},
    )
    [planned] = response.context["planned"]
    assert (planned.status, planned.reason) == (
        FollowUpTask.Status.UNREACHABLE,
        FollowUpTask.Reason.NO_CONTACT,
    )
    assert "Unreachable: No contact information" in response.content.decode()


def test_editing_a_rule_does_not_touch_open_tasks_until_replanned(
    admin_client_a, tenant_a, in_tenant
):
    with in_tenant(tenant_a):
        encounter = EncounterFactory(discharge_outcome="unchanged")
        encounters_plan([encounter.pk])
        rule = FollowUpRule.objects.get(name="出院回访")
        step = rule.steps.get()
        task = encounter.tasks.get()
        before = task.due_at
    data = rule_post(
        [{"id": str(step.pk), "rule": str(rule.pk), "name": step.name, "due_days": "10"}],
        name=rule.name,
        match_kinds=["discharge"],
        match_codes="",
        exclude_tags="",
        calling_hours="",
        **{"steps-INITIAL_FORMS": "1"},
    )
    assert admin_client_a.post(f"/rules/{rule.pk}/", data).status_code == 302
    with in_tenant(tenant_a):
        task.refresh_from_db()
        assert task.due_at == before
    admin_client_a.post(f"/rules/{rule.pk}/replan/")
    with in_tenant(tenant_a):
        task.refresh_from_db()
        assert (task.due_at - before).days == 3


def test_agent_cannot_open_rules(agent_client_a):
    assert agent_client_a.get("/rules/").status_code == 403
    assert agent_client_a.post("/rules/new/", rule_post([{}])).status_code == 403
    assert agent_client_a.get("/outcomes/").status_code == 403


def test_admin_adds_an_outcome_code_on_a_fixed_category(admin_client_a, tenant_a, in_tenant):
    response = admin_client_a.post(
        "/outcomes/",
        {
            "label": "家属代答",
            "code": "family-answered",
            "category": "reached",
            "position": "1",
            "active": "on",
        },
    )
    assert response.status_code == 302
    with in_tenant(tenant_a):
        assert OutcomeCode.objects.get(code="family-answered").category == "reached"


def test_an_unknown_category_is_refused(admin_client_a, tenant_a, in_tenant):
    response = admin_client_a.post(
        "/outcomes/", {"label": "x", "code": "x", "category": "maybe", "position": "1"}
    )
    assert response.status_code == 200
    with in_tenant(tenant_a):
        assert not OutcomeCode.objects.filter(code="x").exists()


def test_another_tenant_cannot_see_or_change_these_rules(admin_client_b, tenant_a, in_tenant):
    with in_tenant(tenant_a):
        rule = FollowUpRule.objects.get(name="出院回访")
    page = admin_client_b.get("/rules/").content.decode()
    assert "出院回访" not in page
    admin_client_b.post(f"/rules/{rule.pk}/", rule_post([{}], name="hijacked"))
    with in_tenant(tenant_a):
        rule.refresh_from_db()
        assert rule.name == "出院回访"


def test_another_tenant_cannot_see_or_change_these_outcome_codes(
    admin_client_a, admin_client_b, tenant_a, in_tenant
):
    admin_client_a.post(
        "/outcomes/",
        {
            "label": "家属代答",
            "code": "family-answered",
            "category": "reached",
            "position": "1",
            "active": "on",
        },
    )
    with in_tenant(tenant_a):
        code = OutcomeCode.objects.get(code="family-answered")
    assert "家属代答" not in admin_client_b.get("/outcomes/").content.decode()
    admin_client_b.post(
        f"/outcomes/{code.pk}/",
        {"label": "hijacked", "code": "family-answered", "category": "refused", "position": "1"},
    )
    with in_tenant(tenant_a):
        code.refresh_from_db()
        assert (code.label, code.category) == ("家属代答", "reached")


def test_the_rule_list_names_encounter_kinds_in_the_clinics_language(admin_client_a):
    page = admin_client_a.get("/rules/").content.decode()

    assert "出院" in page
    for code in ("discharge", "surgery", "outpatient"):
        assert f">{code}" not in page and f", {code}" not in page

"""Accessibility measured: axe-core (WCAG 2.2 AA rules) over every page of every staff role, in
Chinese and in English (the drop-down menus open too); on a phone, the sign-in pages, the
patient pages (health articles, a survey link, its opt-out, pages for a bad link) and a doctor's
worklist and call page. No violation of impact "serious" or "critical" is allowed. Then an agent
works a call from the worklist with the keyboard alone, the focus visible at every stop.

The pages are listed once, in PAGES: a new page is one line there. Every entry of a role's
menu must be in it, so a page added to the menu cannot escape the walk.

axe runs through Playwright's evaluate (the DevTools protocol), which the pages' policy does
not govern: the product's Content-Security-Policy stays as it is, with no inline script.

It runs in a clinic of its own, provisioned for this module and dropped afterwards, because
everything the live server writes is committed."""

from datetime import timedelta

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.contrib.auth import get_user_model
from django.utils import timezone
from django_tenants.utils import tenant_context

from crm.message_templates import DEFAULTS
from crm.models import (
    CallAttempt,
    Complaint,
    Department,
    FollowUpTask,
    ImportJob,
    MessageTemplate,
    OutcomeCode,
)
from crm.services.feedback import complaint_open
from crm.services.import_jobs import import_upload
from crm.services.planning import encounters_plan
from surveys.links import invitation_create
from surveys.models import SurveyResponse, SurveyTemplate
from surveys.services.responses import response_submit
from tenants.services import tenant_provision
from tests.conftest import committed, committed_tenant
from tests.e2e.test_phone_calls import FOCUSED
from tests.e2e.test_shell import sign_in
from tests.factories import ContactFactory, EncounterFactory, RuleFactory, StaffFactory

User = get_user_model()
pytestmark = [pytest.mark.e2e, pytest.mark.django_db]

SLUG = "e2e-a11y"
PHONE = {"width": 390, "height": 844}
WCAG_22_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
AXE_OPTIONS = {"runOnly": {"type": "tag", "values": WCAG_22_AA}, "resultTypes": ["violations"]}
BLOCKING = {"serious", "critical"}

ALL = ("admin", "supervisor", "agent", "clinician")
RECORDS = ("admin", "supervisor", "agent")
QUALITY = ("admin", "supervisor")
ADMIN = ("admin",)

# Every staff page and the roles that may open it; the names in braces are the clinic's own
# records (_records below; {tier1_task} is the clinician's own follow-up).
PAGES: list[tuple[str, tuple[str, ...]]] = [
    ("/", ALL),
    ("/worklist/", ALL),
    ("/worklist/today/", ALL),
    ("/tasks/{task}/", RECORDS),
    ("/tasks/{tier1_task}/", ("clinician",)),
    ("/contacts/", ALL),
    ("/contacts/{contact}/", ALL),
    ("/contacts/new/", RECORDS),
    ("/contacts/{contact}/edit/", RECORDS),
    ("/contacts/{contact}/encounters/new/", RECORDS),
    ("/contacts/{contact}/erase/", ADMIN),
    ("/encounters/{encounter}/edit/", RECORDS),
    ("/complaints/", QUALITY),
    ("/complaints/new/", ALL),
    ("/complaints/{complaint}/", QUALITY),
    ("/praise/", QUALITY),
    ("/praise/new/", ALL),
    ("/imports/", QUALITY),
    ("/imports/{import_job}/", QUALITY),
    ("/exports/", ADMIN),
    ("/reports/dashboard/", QUALITY),
    ("/reports/", QUALITY),
    ("/reports/list/?figure=eligible", QUALITY),
    ("/reports/list/?figure=complaints", QUALITY),
    ("/reports/live/", QUALITY),
    ("/reports/targets/", ADMIN),
    ("/reports/sign-off/", ("supervisor", "clinician")),
    ("/audit/", QUALITY),
    ("/rules/", ADMIN),
    ("/rules/new/", ADMIN),
    ("/rules/{rule}/", ADMIN),
    ("/outcomes/", ADMIN),
    ("/outcomes/{outcome}/", ADMIN),
    ("/surveys/", QUALITY),
    ("/surveys/new/", ADMIN),
    ("/surveys/{survey}/", ADMIN),
    ("/surveys/{survey}/responses/", QUALITY),
    ("/surveys/responses/{response}/", QUALITY),
    ("/outbox/", QUALITY),
    ("/messages/templates/", ADMIN),
    ("/messages/templates/{message_template}/", ADMIN),
    ("/cms/reach/", ADMIN),
    ("/staff/", ADMIN),
    ("/staff/invite/", ADMIN),
    ("/staff/{agent}/departments/", ADMIN),
    ("/departments/", ADMIN),
    ("/departments/new/", ADMIN),
    ("/departments/{department}/", ADMIN),
    ("/settings/", ADMIN),
    ("/settings/sms/", ADMIN),
    ("/settings/wechat/", ADMIN),
    ("/settings/api-keys/", ADMIN),
    ("/settings/webhooks/", ADMIN),
    ("/billing/", ADMIN),
    ("/accounts/two-step/", ALL),
]


# Pages without signing in, on a phone: patients' (a survey link, its opt-out, a link gone
# bad, the health articles) and the doors to the staff side; with the status they answer.
PUBLIC_PAGES: list[tuple[str, int]] = [
    ("/accounts/login/", 200),
    ("/accounts/password_reset/", 200),
    ("/health/", 200),
    ("/s/{survey_token}/", 200),
    ("/s/{survey_token}/stop/", 200),
    ("/s/no-such-link/", 404),
    ("/no-such-page/", 404),
]


@pytest.fixture(scope="module")
def clinic(django_db_setup, django_db_blocker):
    def create():
        tenant = tenant_provision(
            name="E2E 无障碍医院", slug=SLUG, kind="hospital", admin_email="owner@e2e-a11y.test"
        ).tenant
        tenant.calling_hours = [["00:00", "24:00"]]  # "call now" whatever hour the test runs
        tenant.save()
        with tenant_context(tenant):
            staff = {role: StaffFactory(email=f"{role}@e2e-a11y.test", role=role) for role in ALL}
            for index, name in enumerate(["欧阳建国", "张伟"]):
                encounter = EncounterFactory(
                    contact=ContactFactory(name=name, phone=f"+861390013902{index}"),
                    kind="discharge",
                    # No outcome recorded: the follow-up centre's call (the hospital preset
                    # gives a cured patient to the responsible nurse).
                    discharge_outcome="",
                    occurred_at=timezone.now() - timedelta(days=4),
                )
                encounters_plan([encounter.pk])
            complaint_open(summary="候诊时间太长", source="phone_in", contact=encounter.contact)
            register = "name,phone\n王芳,13900139030\n".encode()
            import_upload(filename="出院登记.csv", content=register, user=staff["admin"])
            Department.objects.create(name="骨科")
            # A clinic's own text of a message, started from the default as the page does.
            (purpose, channel, language), (subject, body) = next(iter(DEFAULTS.items()))
            MessageTemplate.objects.create(
                purpose=purpose, channel=channel, language=language, subject=subject, body=body
            )
            survey = SurveyTemplate.objects.filter(active=True).first()
            response_submit(survey.published, {"q1": 5}, contact=encounter.contact, source="call")
            # The second patient's first follow-up is the clinician's own, tier 1.
            first = FollowUpTask.objects.filter(contact=encounter.contact).order_by("opens_at")
            first.filter(pk=first.first().pk).update(tier=1, assignee=staff["clinician"])
        return tenant

    yield from committed_tenant(django_db_blocker, create)


def _records(tenant) -> dict:
    """The ids the pages' addresses need, and a survey link sent to a patient."""
    with tenant_context(tenant):
        task = FollowUpTask.objects.filter(tier__gt=1).order_by("opens_at", "pk").first()
        survey = SurveyTemplate.objects.filter(active=True).first()
        rule = RuleFactory() if not task.rule_id else task.rule
        return {
            "task": task.pk,
            "tier1_task": FollowUpTask.objects.get(assignee__username="clinician@e2e-a11y.test").pk,
            "contact": task.contact_id,
            "encounter": task.encounter_id,
            "complaint": Complaint.objects.get().pk,
            "rule": rule.pk,
            "survey": survey.pk,
            "response": SurveyResponse.objects.get().pk,
            "import_job": ImportJob.objects.get().pk,
            "outcome": OutcomeCode.objects.order_by("pk").first().pk,
            "message_template": MessageTemplate.objects.order_by("pk").first().pk,
            "department": Department.objects.order_by("pk").first().pk,
            "agent": User.objects.get(username="agent@e2e-a11y.test").pk,
            "survey_token": invitation_create(survey, task.contact)[1],
        }


@pytest.fixture(scope="module")
def records(clinic, django_db_blocker):
    with django_db_blocker.unblock():
        return committed(_records, clinic)


@pytest.fixture(scope="module")
def axe():
    return Axe()


def _too_faint(result: dict) -> list[dict]:
    """Of axe's undecided contrast checks, those it measured below the threshold: it leaves
    text of one character undecided (a 是/否, a ✓), which in Chinese is a whole word."""
    if result["id"] != "color-contrast":
        return []
    faint = []
    for node in result["nodes"]:
        data = (node["any"] or [{}])[0].get("data") or {}
        ratio, expected = data.get("contrastRatio"), data.get("expectedContrastRatio")
        if ratio and expected and ratio < float(expected.split(":")[0]):
            faint.append(node)
    return faint


def _violations(axe, page, where: str) -> list[str]:
    """The page's serious and critical violations, one line each, with the elements at fault."""
    response = axe.run(page, options=AXE_OPTIONS).response
    found = [(v, v["nodes"]) for v in response["violations"] if v["impact"] in BLOCKING]
    found += [(v, nodes) for v in response["incomplete"] if (nodes := _too_faint(v))]
    return [
        f"{where}: [{v['impact']}] {v['id']}: {v['help']} → "
        + " | ".join(" ".join(node["target"]) for node in nodes[:5])
        for v, nodes in found
    ]


def _check(axe, page, url: str, where: str, status: int = 200) -> list[str]:
    response = page.goto(url)
    page.wait_for_load_state("load")
    if response.status != status:
        return [f"{where}: answered {response.status}"]
    return _violations(axe, page, where)


def _menu_paths(page) -> set[str]:
    return set(
        page.eval_on_selector_all(
            "#main-nav .nav-items a", "links => links.map(link => link.getAttribute('href'))"
        )
    )


@pytest.mark.parametrize("role", ALL)
def test_every_page_of_a_role_in_both_languages_has_no_serious_violation(
    role, clinic, records, browser, axe, tenant_url
):
    context = browser.new_context()
    page = context.new_page()
    try:
        sign_in(page, tenant_url(SLUG, "/accounts/login/"), f"{role}@e2e-a11y.test")
        paths = [path.format(**records) for path, roles in PAGES if role in roles]
        missing = _menu_paths(page) - {path.split("?")[0] for path, _ in PAGES}
        assert not missing, f"menu pages missing from PAGES: {missing}"

        problems = []
        for language in ("zh-hans", "en"):
            page.goto(tenant_url(SLUG, "/"))
            if page.locator("html").get_attribute("lang") != language:
                page.click(f"button[name=language][value={language}]")
                page.wait_for_load_state("load")
            assert page.locator("html").get_attribute("lang") == language
            for path in paths:
                problems += _check(axe, page, tenant_url(SLUG, path), f"{role} {language} {path}")
            # The drop-downs (menus, the account's) are hidden until opened: measured open.
            page.goto(tenant_url(SLUG, "/"))
            page.eval_on_selector_all("header details", "all => all.forEach(d => d.open = true)")
            problems += _violations(axe, page, f"{role} {language} / with its menus open")
    finally:
        context.close()
    assert problems == [], "\n".join(problems)


def test_patient_pages_and_a_doctor_s_pages_on_a_phone_have_no_serious_violation(
    clinic, records, browser, axe, tenant_url
):
    context = browser.new_context(viewport=PHONE, is_mobile=True)
    page = context.new_page()
    problems = []
    try:
        for path, status in PUBLIC_PAGES:
            url = tenant_url(SLUG, path.format(**records))
            problems += _check(axe, page, url, f"phone {path}", status)
        page.goto(tenant_url(SLUG, "/health/"))
        page.locator("main a[href^='/health/']").first.click()
        page.wait_for_load_state("load")
        problems += _violations(axe, page, f"phone {page.url}")

        # A doctor between rounds: the worklist with the folded menu open, and a call page.
        sign_in(page, tenant_url(SLUG, "/accounts/login/"), "clinician@e2e-a11y.test")
        page.goto(tenant_url(SLUG, "/worklist/"))
        page.click("button.nav-toggle")
        problems += _violations(axe, page, "phone clinician /worklist/ with the menu open")
        path = f"/tasks/{records['tier1_task']}/"
        problems += _check(axe, page, tenant_url(SLUG, path), f"phone clinician {path}")
    finally:
        context.close()
    assert problems == [], "\n".join(problems)


def _attempts(tenant) -> int:
    with tenant_context(tenant):
        return CallAttempt.objects.count()


def _tab_to(page, text: str, limit: int = 80) -> None:
    """Tab until the focus is on the control showing ``text``; every stop on the way shows a
    focus ring on screen."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED)
        assert focused["ring"] and focused["inside"], str(focused)
        if text in focused["text"]:
            return
    raise AssertionError(f"{text!r} not reached with Tab")


def test_an_agent_completes_a_call_with_the_keyboard_alone(clinic, records, page, tenant_url):
    page.set_viewport_size({"width": 1366, "height": 900})
    sign_in(page, tenant_url(SLUG, "/accounts/login/"), "agent@e2e-a11y.test")
    before = committed(_attempts, clinic)
    page.goto(tenant_url(SLUG, "/worklist/"))

    _tab_to(page, "拨打")
    page.keyboard.press("Enter")
    page.wait_for_url("**/tasks/**")
    _tab_to(page, "拨打")  # shows the whole number, as a tel: link
    page.keyboard.press("Enter")
    page.wait_for_selector("a.phone-revealed")
    page.wait_for_load_state("load")  # the shortcuts' script
    page.keyboard.press("1")  # the first outcome: reached
    assert page.locator("input[name=outcome]").first.is_checked()
    _tab_to(page, "保存")
    first_call = page.url
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: url != first_call)

    assert committed(_attempts, clinic) == before + 1


def test_the_walk_is_not_blind(clinic, browser, axe, tenant_url):
    """axe really runs under the pages' policy: a field without a name and grey-on-white text
    put into a page of ours are reported, even one faint character."""
    context = browser.new_context()
    page = context.new_page()
    try:
        page.goto(tenant_url(SLUG, "/health/"))
        page.evaluate(
            """() => {
                const main = document.querySelector("main");
                main.appendChild(document.createElement("input"));
                for (const text of ["这行字太淡了", "淡"]) {
                    const faint = document.createElement("p");
                    faint.textContent = text;
                    faint.style.color = "#ccc";
                    main.appendChild(faint);
                }
            }"""
        )
        found = " ".join(_violations(axe, page, "health"))
    finally:
        context.close()
    assert "] label:" in found, found
    assert found.count("] color-contrast:") == 2, found

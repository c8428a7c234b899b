"""A new clinic's administrator goes from an empty set-up checklist to a done one through the
real pages (settings, departments, an invitation, a rule, the survey, SMS, the sample
register, a first call), in Chinese and in English; each role's home shows its figures."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django_tenants.utils import tenant_context

from surveys.models import SurveyTemplate
from tenants.models import Tenant
from tenants.services import tenant_provision
from tests.conftest import committed, committed_tenant
from tests.e2e.test_shell import sign_in
from tests.factories import PASSWORD, StaffFactory, authenticator_add
from tests.fake_sms import FakeSms

pytestmark = [pytest.mark.e2e, pytest.mark.django_db]

SLUG = "e2e-onboarding"
ADMIN = "admin@onboarding.test"


@pytest.fixture(scope="module")
def clinic(django_db_setup, django_db_blocker):
    def create():
        tenant = tenant_provision(
            name="E2E 新开医院", slug=SLUG, kind="hospital", admin_email=ADMIN
        ).tenant
        tenant.calling_hours = [["00:00", "24:00"]]  # the first call, whatever hour the test runs
        tenant.save()
        with tenant_context(tenant):
            admin = get_user_model().objects.get(email=ADMIN)
            admin.set_password(PASSWORD)
            admin.save()
            authenticator_add(admin)
            StaffFactory(email="agent@onboarding.test", role="agent")
        return tenant

    yield from committed_tenant(django_db_blocker, create)


@pytest.fixture
def fake_sms(settings):
    fake = FakeSms()
    yield fake, settings
    fake.close()


def _survey_id() -> int:
    with tenant_context(Tenant.objects.get(schema_name=SLUG)):
        return SurveyTemplate.objects.order_by("pk").values_list("pk", flat=True).first()


def _progress(page) -> str:
    return page.inner_text("#onboarding-progress")


def test_the_checklist_goes_from_empty_to_done(
    browser, clinic, tenant_url, screenshot, fake_sms, clock
):
    fake, settings = fake_sms
    # The clinic was made a few seconds after the suite's instant, where each test starts: what
    # the administrator does comes after it, as it would.
    clock.shift(timedelta(hours=1))
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    sign_in(page, tenant_url(SLUG, "/accounts/login/"), ADMIN)

    # An empty checklist, every step a link.
    assert _progress(page) == "已完成 0/8"
    assert page.locator("#onboarding li.step.done").count() == 0
    assert page.locator("#onboarding li.step a").first.get_attribute("href") == "/settings/"
    screenshot(page, "onboarding-empty-zh")

    # Settings: saved as shown.
    page.click("#onboarding li[data-step=settings] a")
    page.click("form:has(input[name=calling_hours]) button[type=submit]")
    # Departments: one added.
    page.goto(tenant_url(SLUG, "/departments/new/"))
    page.fill("input[name=name]", "疼痛科")
    page.fill("input[name=code]", "pain")
    page.click("main form button[type=submit]")
    assert page.locator("#departments td", has_text="疼痛科").count() == 1
    # Staff: one invited.
    page.goto(tenant_url(SLUG, "/"))
    page.click("#onboarding li[data-step=staff] a")
    page.fill("input[name=email]", "nurse@onboarding.test")
    page.click("main form button[type=submit]")
    # The first rule, saved as the preset made it.
    page.goto(tenant_url(SLUG, "/rules/"))
    page.locator("main table td a").first.click()
    page.locator("main form button.button[type=submit]").first.click()
    page.wait_for_load_state("load")

    page.goto(tenant_url(SLUG, "/"))
    assert _progress(page) == "已完成 4/8"
    for step in ("settings", "departments", "staff", "rules"):
        assert page.locator(f"#onboarding li[data-step={step}].done").count() == 1

    # The rest in English.
    page.click("button[name=language][value=en]")
    assert _progress(page) == "4 of 8 done"
    screenshot(page, "onboarding-half-en")

    # The survey: saved as a draft.
    page.goto(tenant_url(SLUG, f"/surveys/{committed(_survey_id)}/"))
    page.click("main form button.button[type=submit]:not([name=publish])")
    page.wait_for_load_state("load")
    # SMS: the clinic's own account, connected on Settings → SMS provider (a Twilio-compatible
    # API here: the fake on 127.0.0.1).
    settings.SMS_ENDPOINTS = {**settings.SMS_ENDPOINTS, "twilio": fake.base}
    page.goto(tenant_url(SLUG, "/"))
    page.click("#onboarding li[data-step=sms] a")
    page.select_option("select[name=provider]", "twilio")
    page.fill("input[name=key_id]", fake.account_sid)
    page.fill("input[name=key_secret]", fake.auth_token)
    page.fill("input[name=app_id]", "+8610690000")
    page.locator("main form button[type=submit]").first.click()
    page.wait_for_load_state("load")
    # The sample register, downloaded from the home page's link and imported.
    page.goto(tenant_url(SLUG, "/"))
    link = page.locator("#onboarding a[href$='sample.csv']").get_attribute("href")
    sample = page.evaluate("async (url) => (await fetch(url)).text()", link).encode()
    assert "," in sample.decode()
    page.click("#onboarding li[data-step=import] a")
    page.set_input_files(
        "input[type=file]",
        files=[{"name": "sample.csv", "mimeType": "text/csv", "buffer": sample}],
    )
    page.click("main form button[type=submit]")
    page.click("button:has-text('Check the rows')")
    page.get_by_role("button", name=re.compile(r"^Import \d+ valid rows?$")).click()
    page.wait_for_selector("#import-result")
    # The first call: reached (key 1).
    page.goto(tenant_url(SLUG, "/worklist/"))
    page.locator("table.worklist button").first.click()
    page.wait_for_selector("#attempt-form")
    page.wait_for_load_state("domcontentloaded")
    page.keyboard.press("1")
    page.locator("#attempt-form button[type=submit]").first.click()
    page.wait_for_load_state("load")

    page.goto(tenant_url(SLUG, "/"))
    assert page.locator("#onboarding").count() == 0
    assert page.inner_text("#onboarding-done") == (
        "Set-up complete: every step of the checklist is done."
    )
    assert page.locator("#setup-problems li[data-problem=sms]").count() == 0
    screenshot(page, "onboarding-done-en")
    page.click("button[name=language][value=zh-hans]")
    assert page.inner_text("#onboarding-done") == "开通完成：清单的每一步都已完成。"
    screenshot(page, "home-admin-zh")
    page.context.close()


def test_an_agent_home_links_each_figure_to_its_list(browser, clinic, tenant_url, screenshot):
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    sign_in(page, tenant_url(SLUG, "/accounts/login/"), "agent@onboarding.test")

    assert page.locator("#onboarding").count() == 0
    for figure, path in (
        ("#fig-due", "/worklist/?scope=centre"),
        ("#fig-callbacks", "/worklist/?scope=all&when=callbacks_today"),
        ("#fig-reach", "/worklist/today/"),
    ):
        assert page.locator(figure).get_attribute("href") == path
    screenshot(page, "home-agent-zh")
    page.click("#fig-reach")
    assert page.locator("h1").first.inner_text() == "我今天的回访"
    page.click("button[name=language][value=en]")
    assert page.locator("h1").first.inner_text() == "My calls today"
    page.goto(tenant_url(SLUG, "/"))
    screenshot(page, "home-agent-en")
    page.context.close()

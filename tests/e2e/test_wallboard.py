"""The wallboard on a wall screen (issue 21, item 4): a supervisor's browser shows the board,
an agent's browser logs a call through the real call page, and the board shows the new figure
without being reloaded. Screenshots in both languages at 1920×1080 and 1366×768 are kept in
the test's temporary directory.

It runs in a clinic of its own, provisioned for this module and dropped afterwards, because
everything the live server writes is committed."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context
from playwright.sync_api import expect

from crm.models import FollowUpRule, FollowUpTask
from crm.services.planning import encounters_plan
from tenants.services import tenant_provision
from tests.conftest import committed_tenant
from tests.e2e.test_shell import sign_in
from tests.factories import ContactFactory, EncounterFactory, RuleFactory, StaffFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db]

SLUG = "e2e-wallboard"
PATIENT = "欧阳娜娜"
NUMBER = "+8613912345678"
TEAM = 18
SCREENS = {"wall": {"width": 1920, "height": 1080}, "laptop": {"width": 1366, "height": 768}}


@pytest.fixture(scope="module")
def clinic(django_db_setup, django_db_blocker):
    def create():
        tenant = tenant_provision(
            name="E2E 看板医院", slug=SLUG, kind="hospital", admin_email="admin@wall.test"
        ).tenant
        tenant.calling_hours = [["00:00", "24:00"]]  # the call page works whatever the hour
        tenant.save()
        with tenant_context(tenant):
            StaffFactory(
                email="sup@wall.test", role="supervisor", first_name="周", last_name="主任"
            )
            StaffFactory(email="agent@wall.test", role="agent", first_name="小", last_name="李")
            for n in range(1, TEAM):  # a centre's team: the board must still fit the screen
                StaffFactory(role="agent", first_name="坐席", last_name=f"{n:02d}")
            FollowUpRule.objects.update(active=False)
            RuleFactory(steps=[{"offset_days": 0, "due_days": 2}])
            encounter = EncounterFactory(
                contact=ContactFactory(name=PATIENT, phone=NUMBER),
                occurred_at=timezone.now() - timedelta(days=1),
            )
            encounters_plan([encounter.pk])
        return tenant

    yield from committed_tenant(django_db_blocker, create)


def the_task_id(tenant) -> int:
    with tenant_context(tenant):
        return FollowUpTask.objects.get().pk


def agent_row(page):
    return page.locator("#wb-agents tbody tr", has_text="小 李")


def fits_the_screen(page) -> bool:
    """Nothing to scroll: a wall screen has no one to scroll it."""
    return page.evaluate(
        """() => {
            const root = document.documentElement;
            const panels = [...document.querySelectorAll('.wb-scroll')];
            return root.scrollWidth <= window.innerWidth
                && root.scrollHeight <= window.innerHeight
                && panels.every(p => p.scrollHeight <= p.clientHeight + 1);
        }"""
    )


def figure_size(page) -> float:
    return page.evaluate(
        "parseFloat(getComputedStyle(document.querySelector('#wb-agents tbody td')).fontSize)"
    )


def test_the_wallboard_updates_while_another_browser_logs_a_call(
    browser, clinic, tenant_url, tmp_path
):
    wall = browser.new_context(viewport=SCREENS["wall"]).new_page()
    sign_in(wall, tenant_url(SLUG, "/accounts/login/"), "sup@wall.test")
    # From here on: the sign-in pages are not ours to judge (base.html has no icon yet).
    problems: list[str] = []
    wall.on(
        "console",
        lambda m: problems.append(f"{m.text} {m.location}") if m.type == "error" else None,
    )
    wall.on("response", lambda r: problems.append(r.url) if r.status >= 400 else None)
    wall.goto(tenant_url(SLUG, "/reports/live/?refresh=2"))
    assert wall.locator("h1").inner_text().endswith("实时看板")
    expect(agent_row(wall).locator("td")).to_have_text(["0", "0", "—"])
    expect(wall.locator("#wb-queue-total")).to_have_text("1")
    assert wall.locator("#wb-agents.dense tbody tr").count() == TEAM
    # Set on this document only: a reload would lose it.
    wall.evaluate("window.sameDocument = true")

    agent = browser.new_context().new_page()
    sign_in(agent, tenant_url(SLUG, "/accounts/login/"), "agent@wall.test")
    agent.goto(tenant_url(SLUG, f"/tasks/{the_task_id(clinic)}/"))
    agent.click("button:has-text('开始处理')")
    agent.wait_for_selector("#attempt-form")
    agent.wait_for_load_state("domcontentloaded")
    agent.keyboard.press("1")  # reached
    agent.fill("input[name=duration_minutes]", "4")
    agent.click("button:has-text('保存并打开下一条')")
    agent.wait_for_load_state("load")
    agent.context.close()

    expect(agent_row(wall).locator("td")).to_have_text(["1", "1", "4:00"], timeout=15_000)
    expect(wall.locator("#wb-agents tfoot td")).to_have_text(["1", "1", "4:00"])
    expect(wall.locator("#wb-queue-total")).to_have_text("0")
    expect(wall.locator("#wb-last-hour")).to_have_text("1")
    expect(wall.locator("#wb-outcomes tbody tr")).to_have_text(["已接通1"])
    assert wall.evaluate("window.sameDocument") is True  # updated in place, not reloaded
    assert wall.locator("#wb-stale").is_hidden()
    content = wall.content()
    assert PATIENT not in content and NUMBER[-4:] not in content

    for language in ("zh", "en"):
        if language == "en":
            wall.click("button[name=language][value=en]")
            wall.wait_for_load_state("load")
            assert wall.locator("h1").inner_text().endswith("Live wallboard")
            expect(wall.locator("#wb-outcomes tbody tr")).to_have_text(["Reached1"])
        for screen, size in SCREENS.items():
            wall.set_viewport_size(size)
            assert fits_the_screen(wall), (language, screen)
            # Read from across the room, even with the smaller rows of a team this size.
            assert figure_size(wall) >= 20, (language, screen)
            wall.screenshot(path=str(tmp_path / f"wallboard-{language}-{screen}.png"))
    print(f"\nwallboard screenshots: {tmp_path}")
    assert sorted(p.name for p in tmp_path.glob("wallboard-*.png")) == [
        "wallboard-en-laptop.png",
        "wallboard-en-wall.png",
        "wallboard-zh-laptop.png",
        "wallboard-zh-wall.png",
    ]
    assert problems == []

    # Signed out (a session that ended): the last figures stay up under a notice.
    wall.context.clear_cookies()
    expect(wall.locator("#wb-stale")).to_be_visible(timeout=15_000)
    expect(agent_row(wall).locator("td")).to_have_text(["1", "1", "4:00"])
    wall.context.close()

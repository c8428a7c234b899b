"""The menu in a browser, for each role: only the pages the role may use, grouped by
purpose; at 1280 px no label breaks over two lines, in Chinese or English; on a phone the
menu folds behind one button that works with a keyboard.

It runs in a clinic of its own, provisioned for this module and dropped afterwards, because
everything the live server writes is committed."""

import pytest
from django_tenants.utils import tenant_context

from tenants.services import tenant_provision
from tests.conftest import committed_tenant
from tests.e2e.test_shell import sign_in
from tests.factories import StaffFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db]

SLUG = "e2e-nav"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}

DAILY = ["/", "/worklist/", "/contacts/"]
MENUS = {
    "agent": DAILY,
    "clinician": [*DAILY, "/reports/sign-off/"],
    "supervisor": [
        *DAILY,
        "/complaints/",
        "/imports/",
        "/reports/dashboard/",
        "/reports/",
        "/reports/sign-off/",
        "/reports/live/",
        "/audit/",
        "/surveys/",
        "/outbox/",
    ],
    "admin": [
        *DAILY,
        "/complaints/",
        "/imports/",
        "/reports/dashboard/",
        "/reports/",
        "/reports/live/",
        "/audit/",
        "/rules/",
        "/surveys/",
        "/outbox/",
        "/messages/templates/",
        "/cms/reach/",
        "/staff/",
        "/settings/",
        "/billing/",
        "/settings/api-keys/",
    ],
}
GROUPS = {
    "agent": [],
    "clinician": [["分析", 1]],
    "supervisor": [["分析", 5], ["配置", 2]],
    "admin": [["分析", 4], ["配置", 9]],
}


@pytest.fixture(scope="module")
def clinic(django_db_setup, django_db_blocker):
    def create():
        tenant = tenant_provision(
            # A long name, as real hospitals have: it must not push the menu onto two lines.
            name="E2E 市第一人民医院附属康复中心",
            slug=SLUG,
            kind="hospital",
            admin_email="owner@e2e-nav.test",
        ).tenant
        with tenant_context(tenant):
            for role in MENUS:
                StaffFactory(email=f"{role}@e2e-nav.test", role=role)
        return tenant

    yield from committed_tenant(django_db_blocker, create)


# Per label of the bar and of every drop-down (opened one by one): the number of lines its
# text takes, and its height against the height of one line of the same font.
LABEL_LINES = """() => {
    const measure = (el) => {
        const range = document.createRange();
        range.selectNodeContents(el);
        const tops = new Set([...range.getClientRects()].map((r) => Math.round(r.top)));
        const probe = document.createElement("span");
        probe.textContent = "国";
        el.appendChild(probe);
        const line = probe.getBoundingClientRect().height;
        probe.remove();
        const height = range.getBoundingClientRect().height;
        return { text: el.innerText.trim(), lines: tops.size, height, line };
    };
    const out = [];
    const bar = [
        "#main-nav .nav-items > li > a", "#main-nav summary", ".lang-switch button",
        ".user-menu summary",
    ].join(", ");
    document.querySelectorAll(bar).forEach((el) => out.push(measure(el)));
    document.querySelectorAll("#main-nav details.nav-menu").forEach((menu) => {
        menu.open = true;
        menu.querySelectorAll("a").forEach((el) => out.push(measure(el)));
        menu.open = false;
    });
    return out;
}"""

# One row: the clinic's name and every entry of the bar overlap each other vertically.
BAR_ROW = """() => {
    const boxes = [...document.querySelectorAll(".brand, #main-nav .nav-items > li, .nav-end")]
        .map((el) => el.getBoundingClientRect());
    const oneRow = Math.max(...boxes.map((b) => b.top)) < Math.min(...boxes.map((b) => b.bottom));
    return { oneRow, scrollWidth: document.documentElement.scrollWidth };
}"""


def _menu_hrefs(page) -> list[str]:
    return page.eval_on_selector_all(
        "#main-nav .nav-items a", "links => links.map(link => link.getAttribute('href'))"
    )


def _groups(page) -> list[list]:
    return page.eval_on_selector_all(
        "#main-nav details.nav-menu",
        "menus => menus.map(m => [m.querySelector('summary').innerText.trim(),"
        " m.querySelectorAll('a').length])",
    )


def _assert_one_line_each(page) -> None:
    labels = page.evaluate(LABEL_LINES)
    assert len(labels) >= 4
    for label in labels:
        assert label["lines"] == 1, label
        assert label["height"] < 1.5 * label["line"], label
    row = page.evaluate(BAR_ROW)
    assert row["oneRow"], row
    assert row["scrollWidth"] <= DESKTOP["width"], row


@pytest.mark.parametrize("role", MENUS)
def test_each_role_s_menu_holds_only_its_pages_with_no_label_wrapping_at_1280(
    role, clinic, browser, tenant_url, screenshot, request
):
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    try:
        sign_in(page, tenant_url(SLUG, "/accounts/login/"), f"{role}@e2e-nav.test")

        assert _menu_hrefs(page) == MENUS[role]
        assert _groups(page) == GROUPS[role]
        _assert_one_line_each(page)
        screenshot(page, f"menu-{role}-zh")

        page.click("button[name=language][value=en]")
        page.wait_for_load_state("load")
        assert _menu_hrefs(page) == MENUS[role]
        _assert_one_line_each(page)
        if GROUPS[role]:
            page.click("#main-nav summary:has-text('Analysis')")
            screenshot(page, f"menu-{role}-en")
            assert page.locator("#main-nav details.nav-menu[open] a").first.is_visible()
            # Escape closes the drop-down and gives the focus back to its heading.
            page.keyboard.press("Escape")
            assert page.locator("#main-nav details[open]").count() == 0
            assert page.evaluate("document.activeElement.tagName") == "SUMMARY"
    finally:
        context.close()


def test_a_drop_down_opens_from_the_keyboard_and_leads_to_its_page(clinic, page, tenant_url):
    page.set_viewport_size(DESKTOP)
    sign_in(page, tenant_url(SLUG, "/accounts/login/"), "admin@e2e-nav.test")

    page.focus("#main-nav summary:has-text('分析')")
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.getAttribute('href')") == "/reports/dashboard/"
    page.keyboard.press("Enter")
    page.wait_for_url("**/reports/dashboard/")

    assert page.locator("#main-nav details[data-current] summary").inner_text() == "分析"
    assert page.locator("#main-nav a[aria-current=page]").get_attribute("href") == (
        "/reports/dashboard/"
    )


def _assert_within_the_screen(links) -> None:
    for link in links:
        assert link.is_visible()
        box = link.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
        assert box["height"] >= 44


@pytest.mark.parametrize("role", ["clinician", "admin"])
def test_on_a_phone_the_menu_folds_behind_one_button(role, clinic, phone_page, tenant_url):
    page = phone_page
    sign_in(page, tenant_url(SLUG, "/accounts/login/"), f"{role}@e2e-nav.test")

    assert not page.locator("#main-nav").is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    toggle = page.locator("button.nav-toggle")
    assert toggle.is_visible()
    toggle.focus()
    page.keyboard.press("Enter")

    assert toggle.get_attribute("aria-expanded") == "true"
    # Every entry a row a thumb can hit, inside the screen.
    _assert_within_the_screen(page.locator("#main-nav .nav-items > li > a").all())
    for group in page.locator("#main-nav details.nav-menu").all():
        group.locator("summary").click()
        _assert_within_the_screen(group.locator("a").all())
    page.locator("#main-nav a[href='/worklist/']").click()
    page.wait_for_url("**/worklist/")
    assert not page.locator("#main-nav").is_visible()

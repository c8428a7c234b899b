"""A doctor between rounds works their tier-1 follow-ups on a phone (390×844): the worklist
and the call page fit the screen with nothing to scroll sideways, every control is a target
a thumb can hit, and the whole call is done with a keyboard alone (a phone's external
keyboard, or switch access), with the focus always visible.

It runs in a clinic of its own, provisioned for this module and dropped afterwards, because
everything the live server writes is committed."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from crm.models import CallAttempt, FollowUpTask
from crm.services.planning import encounters_plan
from tenants.services import tenant_provision
from tests.conftest import committed, committed_tenant
from tests.e2e.test_shell import sign_in
from tests.factories import ContactFactory, EncounterFactory, StaffFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db]

SLUG = "e2e-phone"
DOCTOR = "doctor@e2e-phone.test"
WIDTH = 390


@pytest.fixture(scope="module")
def clinic(django_db_setup, django_db_blocker):
    def create():
        tenant = tenant_provision(
            name="E2E 骨科医院", slug=SLUG, kind="hospital", admin_email="owner@e2e-phone.test"
        ).tenant
        tenant.calling_hours = [["00:00", "24:00"]]  # "call now" whatever hour the test runs
        tenant.save()
        with tenant_context(tenant):
            doctor = StaffFactory(email=DOCTOR, role="clinician", first_name="明", last_name="李")
            for index, name in enumerate(["欧阳建国", "张伟"]):
                encounter = EncounterFactory(
                    contact=ContactFactory(name=name, phone=f"+861390013901{index}"),
                    kind="discharge",
                    occurred_at=timezone.now() - timedelta(days=4),
                )
                encounters_plan([encounter.pk])
            # The doctor's own patients: the first follow-up of each is theirs, tier 1.
            first = FollowUpTask.objects.order_by("contact_id", "opens_at").distinct("contact_id")
            FollowUpTask.objects.filter(pk__in=[t.pk for t in first]).update(
                tier=1, assignee=doctor
            )
        return tenant

    yield from committed_tenant(django_db_blocker, create)


def _attempts(tenant) -> int:
    with tenant_context(tenant):
        return CallAttempt.objects.count()


# The focused element: where it is, and whether its focus ring shows (a survey scale's radio
# is hidden, and its ring drawn on the box beside it).
FOCUSED = """() => {
    const el = document.activeElement;
    const shown = el.matches(".scale input") ? el.nextElementSibling : el;
    const box = shown.getBoundingClientRect();
    const style = getComputedStyle(shown);
    return {
        tag: el.tagName, name: el.name, type: el.type,
        text: (el.innerText || el.value || "").trim().slice(0, 40),
        ring: style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2,
        inside: box.left >= 0 && box.right <= window.innerWidth + 1,
        onScreen: box.top >= 0 && box.bottom <= window.innerHeight + 1,
        height: box.height,
    };
}"""

# Controls lower than a thumb (44 px): buttons, fields, and the labels of radios and boxes.
TOO_SMALL = """() => [...document.querySelectorAll([
        "main button", "main a.button", "main a.button-small", "main select", "main textarea",
        "main input:not([type=hidden]):not([type=radio]):not([type=checkbox])",
        "main label.outcome", "main label.check",
    ].join(", "))]
    .filter((el) => el.offsetParent !== null)
    .map((el) => [el, el.getBoundingClientRect()])
    .filter(([el, box]) => box.height < 44)
    .map(([el, box]) => `${el.tagName} ${(el.innerText || el.name || "").trim().slice(0, 20)}`
        + ` ${Math.round(box.height)}px`)"""


def _fits(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH
    small = page.evaluate(TOO_SMALL)
    assert small == [], "\n".join(small)


def _tab_to(page, text: str, limit: int = 60) -> dict:
    """Press Tab until the focus is on the control showing ``text``; every stop on the way
    shows its focus ring inside the screen."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED)
        assert focused["ring"] and focused["inside"] and focused["onScreen"], str(focused)
        if text in focused["text"]:
            return focused
    raise AssertionError(f"{text!r} not reached with Tab")


def test_a_doctor_works_a_call_on_a_phone_with_the_keyboard_alone(
    clinic, phone_page, tenant_url, screenshot
):
    page = phone_page
    sign_in(page, tenant_url(SLUG, "/accounts/login/"), DOCTOR)
    page.goto(tenant_url(SLUG, "/worklist/"))
    screenshot(page, "phone-worklist-zh")
    _fits(page)
    assert page.locator("table.worklist tbody tr", has_text="欧阳建国").is_visible()

    _tab_to(page, "拨打")
    page.keyboard.press("Enter")
    page.wait_for_url("**/tasks/**")
    screenshot(page, "phone-call-zh")
    _fits(page)

    _tab_to(page, "拨打")  # shows the whole number, as a tel: link
    page.keyboard.press("Enter")
    page.wait_for_selector("a.phone-revealed")
    page.wait_for_load_state("load")  # the shortcuts' script
    page.keyboard.press("1")  # the first outcome: reached
    assert page.locator("input[name=outcome]").first.is_checked()
    _tab_to(page, "保存并打开下一条")
    screenshot(page, "phone-call-filled-zh")
    first_call = page.url
    page.keyboard.press("Enter")
    # Saved: the doctor's next patient opens.
    page.wait_for_url(lambda url: "/tasks/" in url and url != first_call)

    assert committed(_attempts, clinic) == 1
    assert page.locator("h2", has_text="张伟").is_visible()
    _fits(page)

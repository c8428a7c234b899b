"""Privacy in a browser: no page of ours makes the browser ask another origin (no update
check, avatar, font, script or image from elsewhere), and none logs an error in the console
(a 404 for a missing file, a script error). Walked: every menu page of a clinic's
administrator, a follow-up's call page, Wagtail's admin (home, explorer, an article's
editor, images, documents), the patient site and a survey link on a phone, and the vendor's
console.

It runs in a clinic of its own, provisioned for this module and dropped afterwards, because
everything the live server writes is committed."""

from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone
from django_tenants.utils import tenant_context

from crm.models import FollowUpTask
from crm.services.planning import encounters_plan
from surveys.links import invitation_create
from surveys.models import SurveyTemplate
from tenants.models import ConsoleAuditEntry
from tenants.services import tenant_provision
from tests.conftest import audit_rows_purge, committed, committed_tenant
from tests.e2e.test_shell import sign_in
from tests.factories import ContactFactory, EncounterFactory, StaffFactory, VendorStaffFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db]

SLUG = "e2e-origins"
VENDOR = "e2e-origins-vendor@carebridge.test"
WAGTAIL_PAGES = [
    "/cms/admin/",
    "/cms/admin/pages/",
    "/cms/admin/images/",
    "/cms/admin/images/multiple/add/",
    "/cms/admin/documents/",
]


@pytest.fixture(scope="module")
def clinic(django_db_setup, django_db_blocker):
    def create():
        tenant = tenant_provision(
            name="E2E 隐私医院", slug=SLUG, kind="hospital", admin_email="owner@e2e-origins.test"
        ).tenant
        with tenant_context(tenant):
            StaffFactory(email="admin@e2e-origins.test", role="admin")
            contact = ContactFactory(name="赵敏", phone="+8613900139011")
            encounter = EncounterFactory(
                contact=contact, kind="discharge", occurred_at=timezone.now() - timedelta(days=4)
            )
            encounters_plan([encounter.pk])
        return tenant

    yield from committed_tenant(django_db_blocker, create)


@pytest.fixture(scope="module")
def vendor(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        committed(lambda: VendorStaffFactory(email=VENDOR))
        yield VENDOR

        def clean():
            connection.set_schema_to_public()
            user = get_user_model().objects.get(username=VENDOR)
            audit_rows_purge(ConsoleAuditEntry, actor_id=user.pk)
            # Not through the ORM: its cascade would look for tenant-only tables in public.
            with connection.cursor() as cursor:
                cursor.execute("DELETE FROM otp_totp_totpdevice WHERE user_id = %s", [user.pk])
                cursor.execute("DELETE FROM auth_user WHERE id = %s", [user.pk])

        committed(clean)


def _task_and_survey_link(tenant) -> tuple[int, str]:
    """The discharged patient's follow-up, and a survey link sent to them."""
    with tenant_context(tenant):
        task = FollowUpTask.objects.order_by("opens_at", "pk").first()
        template = SurveyTemplate.objects.filter(active=True).first()
        return task.pk, invitation_create(template, task.contact)[1]


class Watch:
    """Everything the browser asked of a host other than ours, and every error it logged."""

    def __init__(self, context, hosts: set[str]):
        self.foreign: list[str] = []
        self.errors: list[str] = []
        self.hosts = hosts
        context.on("request", self._request)
        context.on("response", self._response)
        context.on("page", self._page)

    def _request(self, request):
        parts = urlsplit(request.url)
        if parts.scheme in ("http", "https", "ws", "wss") and parts.hostname not in self.hosts:
            self.foreign.append(f"{request.frame.url} → {request.url}")

    def _response(self, response):
        if response.status >= 400:
            self.errors.append(f"{response.status} {response.url}")

    def _page(self, page):
        page.on(
            "console",
            lambda message: (
                self.errors.append(f"{page.url}: {message.text}")
                if message.type == "error"
                else None
            ),
        )
        page.on("pageerror", lambda error: self.errors.append(f"{page.url}: {error}"))


def _visit(page, url: str) -> None:
    response = page.goto(url)
    # Wait for what the page fetches after loading (Wagtail's admin, the charts).
    page.wait_for_load_state("networkidle")
    assert response.status == 200, url


def test_no_page_of_ours_asks_another_origin_or_logs_an_error(
    clinic, vendor, browser, tenant_url, live_port
):
    task_id, survey_token = committed(_task_and_survey_link, clinic)
    clinic_host = f"{SLUG}.localhost"
    desktop = browser.new_context()
    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    watches = [Watch(desktop, {clinic_host, "localhost"}), Watch(phone, {clinic_host})]
    page = desktop.new_page()

    # A clinic's administrator: every page of the menu, a call page, Wagtail's admin.
    sign_in(page, tenant_url(SLUG, "/accounts/login/"), "admin@e2e-origins.test")
    links = page.eval_on_selector_all(
        "#main-nav .nav-items a", "links => links.map(link => link.getAttribute('href'))"
    )
    assert len(links) >= 15, links
    for path in [*links, f"/tasks/{task_id}/", *WAGTAIL_PAGES]:
        _visit(page, tenant_url(SLUG, path))
    _visit(page, tenant_url(SLUG, "/cms/admin/pages/"))
    page.locator("a[href*='/cms/admin/pages/'][href$='/edit/']").first.click()
    page.wait_for_load_state("networkidle")
    assert "/edit/" in page.url

    # The patient site and a survey link, on a phone.
    patient = phone.new_page()
    _visit(patient, tenant_url(SLUG, "/health/"))
    patient.locator("main a[href^='/health/']").first.click()
    patient.wait_for_load_state("networkidle")
    _visit(patient, tenant_url(SLUG, f"/s/{survey_token}/"))

    # The vendor's console.
    console = f"http://localhost:{live_port}"
    sign_in(page, f"{console}/accounts/login/?next=/console/", vendor)
    for path in page.eval_on_selector_all(
        "#main-nav .nav-items a", "links => links.map(link => link.getAttribute('href'))"
    ):
        _visit(page, f"{console}{path}")
    _visit(page, f"{console}/console/tenants/new/")

    desktop.close()
    phone.close()
    foreign = [url for watch in watches for url in watch.foreign]
    errors = [error for watch in watches for error in watch.errors]
    assert foreign == [], "\n".join(foreign)
    assert errors == [], "\n".join(errors)


def test_the_watch_sees_a_request_to_another_origin_and_its_refusal(clinic, browser, tenant_url):
    """The walk above is not blind: an image from elsewhere put into a page of ours is
    refused by the policy, and that refusal is an error the watch reports."""
    context = browser.new_context()
    watch = Watch(context, {f"{SLUG}.localhost"})
    page = context.new_page()
    _visit(page, tenant_url(SLUG, "/health/"))

    page.evaluate(
        """() => new Promise((done) => {
            const image = new Image();
            image.onerror = done;
            image.src = "https://tracker.example/pixel.gif";
            document.body.appendChild(image);
        })"""
    )
    context.close()

    assert any("tracker.example" in error for error in watch.errors), watch.errors

"""An HR department's administrator defines its own encounter kind in a browser, in Chinese:
"新员工" is added (numbered k-9, a Chinese name has no code of its own), shown with how many
encounters use it, a rename refused with the count once one does; then in English: archived,
offered again, and a delete refused with the count.

It runs in a clinic of its own, provisioned for this module and dropped afterwards, because
everything the live server writes is committed."""

import pytest
from django_tenants.utils import tenant_context

from crm.models import EncounterKind
from tenants.services import tenant_provision
from tests.conftest import committed, committed_tenant
from tests.e2e.test_shell import sign_in
from tests.factories import EncounterFactory, StaffFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db]

SLUG = "e2e-kinds"


@pytest.fixture(scope="module")
def clinic(django_db_setup, django_db_blocker):
    def create():
        tenant = tenant_provision(
            name="E2E 人力资源部", slug=SLUG, kind="service", admin_email="owner@kinds.test"
        ).tenant
        with tenant_context(tenant):
            StaffFactory(email="admin@kinds.test", role="admin", first_name="芳", last_name="王")
        return tenant

    yield from committed_tenant(django_db_blocker, create)


def _encounter_of(tenant, code):
    with tenant_context(tenant):
        EncounterFactory(kind=code)


def test_an_administrator_defines_a_kind_in_both_languages(page, clinic, tenant_url, screenshot):
    sign_in(page, tenant_url(SLUG, "/accounts/login/"), "admin@kinds.test")
    page.goto(tenant_url(SLUG, "/rules/"))
    page.get_by_role("link", name="就诊类型").click()
    page.wait_for_load_state("load")
    assert page.locator("h1").inner_text() == "就诊类型"
    assert "已预约复诊" in page.locator("tr[data-code=appointment]").inner_text()

    page.fill("#kind-add #id_name", "新员工")
    page.click("#kind-add button[type=submit]")
    page.wait_for_load_state("load")
    assert "已新增类型“新员工”（代码 k-9）。" in page.locator(".messages").inner_text()
    row = page.locator("tr[data-code=k-9]")
    assert "新员工" in row.inner_text() and "使用中" in row.inner_text()
    screenshot(page, "encounter-kinds-zh")

    committed(_encounter_of, clinic, "k-9")
    page.reload()
    assert page.locator("tr[data-code=k-9] td").nth(2).inner_text() == "1"
    page.get_by_role("link", name="新员工").click()
    page.wait_for_load_state("load")
    page.fill("#id_name", "新入职员工")
    page.click("button:has-text('保存')")
    page.wait_for_load_state("load")
    assert "有 1 条就诊记录使用此类型：不能改名。" in page.content()
    screenshot(page, "encounter-kind-rename-refused-zh")

    page.goto(tenant_url(SLUG, "/rules/kinds/"))
    page.click("button[name=language][value=en]")
    page.wait_for_load_state("load")
    assert page.locator("h1").inner_text() == "Encounter kinds"
    assert "Return visit booked" in page.locator("tr[data-code=appointment]").inner_text()
    page.locator("tr[data-code=k-9] button:has-text('Archive')").click()
    page.wait_for_load_state("load")
    assert "no longer offered for new rules and imports" in page.locator(".messages").inner_text()
    assert "Archived" in page.locator("tr[data-code=k-9]").inner_text()
    page.locator("tr[data-code=k-9] button:has-text('Offer again')").click()
    page.wait_for_load_state("load")
    page.locator("tr[data-code=k-9] button:has-text('Delete')").click()
    page.wait_for_load_state("load")
    assert (
        "1 encounter uses this kind: it cannot be deleted."
        in page.locator(".messages").inner_text()
    )
    screenshot(page, "encounter-kinds-en")
    with tenant_context(clinic):
        kind = EncounterKind.objects.get(code="k-9")
        assert (kind.name, kind.archived) == ("新员工", False)

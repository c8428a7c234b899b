"""A car dealer's administrator writes the "no visit for 6 months" rule in a browser, in
Chinese: the lapsed-customer option, a refused N of 0 with the reason, the saved rule named
as lapsed on the rule list; and the same page in English.

It runs in a clinic of its own, provisioned for this module and dropped afterwards, because
everything the live server writes is committed."""

import pytest
from django_tenants.utils import tenant_context

from crm.models import FollowUpRule
from tenants.services import tenant_provision
from tests.conftest import committed_tenant
from tests.e2e.test_shell import sign_in
from tests.factories import StaffFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db]

SLUG = "e2e-lapsed"


@pytest.fixture(scope="module")
def clinic(django_db_setup, django_db_blocker):
    def create():
        tenant = tenant_provision(
            name="E2E 汽车销售服务", slug=SLUG, kind="service", admin_email="owner@lapsed.test"
        ).tenant
        with tenant_context(tenant):
            StaffFactory(email="admin@lapsed.test", role="admin", first_name="明", last_name="李")
        return tenant

    yield from committed_tenant(django_db_blocker, create)


def test_an_administrator_writes_a_lapsed_customer_rule(page, clinic, tenant_url, screenshot):
    sign_in(page, tenant_url(SLUG, "/accounts/login/"), "admin@lapsed.test")
    page.goto(tenant_url(SLUG, "/rules/new/"))
    page.fill("#id_name", "久未到店客户回访")
    lapsed = page.get_by_label("流失客户：最近一次就诊后 N 天内无新就诊")
    lapsed.check()
    page.fill("#id_lapse_days", "0")
    page.check("input[name=match_kinds][value=maintenance]")
    page.fill("#id_steps-0-name", "流失回访")
    page.fill("#id_steps-0-offset_days", "0")
    page.fill("#id_steps-0-due_days", "14")
    page.click("button:has-text('保存规则')")
    page.wait_for_load_state("load")
    error = page.locator(".field-error:has(#id_lapse_days) .error")
    assert error.inner_text() == (
        "请填写客户多少天没有新的就诊即视为流失：须为不小于 1 的整数天数。"
    )
    assert page.get_by_label("流失客户：最近一次就诊后 N 天内无新就诊").is_checked()
    screenshot(page, "lapsed-rule-refused-zh")

    page.fill("#id_lapse_days", "180")
    page.click("button:has-text('保存规则')")
    page.wait_for_load_state("load")
    with tenant_context(clinic):
        rule = FollowUpRule.objects.get(name="久未到店客户回访")
        assert (rule.trigger, rule.lapse_days, rule.match_kinds) == ("lapsed", 180, ["maintenance"])
    page.goto(tenant_url(SLUG, "/rules/"))
    row = page.locator("tr", has=page.get_by_role("link", name="久未到店客户回访"))
    assert "180 天未再到访" in row.inner_text()
    screenshot(page, "lapsed-rule-list-zh")

    page.click("button[name=language][value=en]")
    page.wait_for_load_state("load")
    row = page.locator("tr", has=page.get_by_role("link", name="久未到店客户回访"))
    assert "lapsed after 180 days" in row.inner_text()
    page.get_by_role("link", name="久未到店客户回访").click()
    page.wait_for_load_state("load")
    assert page.get_by_label("Lapsed customer: no later encounter within N days").is_checked()
    assert page.locator("#id_lapse_days").input_value() == "180"
    screenshot(page, "lapsed-rule-form-en")

"""The staff menu (saas.navigation): grouped by purpose, and per role only the pages that role
may open: every link it shows opens, every page of the menu it does not show is refused."""

import pytest
from django.test import Client
from django.urls import reverse

from saas.navigation import TENANT_MENU
from tests.conftest import login
from tests.factories import StaffFactory

EVERYONE = ["home", "worklist", "contact_list"]
EXPECTED = {
    "agent": EVERYONE,
    "clinician": [*EVERYONE, "register_sign_off"],
    "viewer": ["home", "contact_list"],
    "supervisor": [
        *EVERYONE,
        "complaint_list",
        "import_list",
        "report_dashboard",
        "report_month",
        "register_sign_off",
        "wallboard",
        "audit_list",
        "survey_list",
        "outbox",
    ],
    "admin": [
        "home",
        *[entry.url_name for entry in TENANT_MENU if entry.url_name != "register_sign_off"],
    ],
}


def _signed_in(tenant, in_tenant, role: str) -> Client:
    with in_tenant(tenant):
        user = StaffFactory(email=f"nav-{role}@alpha.test", role=role)
    client = Client(HTTP_HOST=tenant.primary_host)
    login(client, user.email)
    return client


@pytest.mark.parametrize("role", EXPECTED)
def test_each_role_sees_only_the_pages_it_may_open(tenant_a, in_tenant, role):
    client = _signed_in(tenant_a, in_tenant, role)

    home = client.get("/")
    shown = [item["name"] for item in home.context["nav_items"]]

    assert shown == EXPECTED[role]
    for item in home.context["nav_items"]:
        assert client.get(item["url"]).status_code == 200, item["name"]
    for entry in TENANT_MENU:
        if entry.url_name not in shown:
            assert client.get(reverse(entry.url_name)).status_code == 403, entry.url_name


def test_the_administrator_s_menu_is_daily_work_in_the_bar_then_analysis_and_set_up(
    tenant_a, in_tenant
):
    client = _signed_in(tenant_a, in_tenant, "admin")

    menu = client.get("/").context["menu"]

    assert [(group["key"], group["dropdown"]) for group in menu["groups"]] == [
        ("daily", False),
        ("analysis", True),
        ("setup", True),
    ]
    assert [item["name"] for item in menu["groups"][1]["items"]] == [
        "report_dashboard",
        "report_month",
        "wallboard",
        "audit_list",
    ]
    assert menu["home"]["current"] is True


def test_the_page_s_entry_and_its_group_are_marked_current(tenant_a, in_tenant):
    client = _signed_in(tenant_a, in_tenant, "admin")

    menu = client.get("/reports/dashboard/").context["menu"]

    current = [item["name"] for item in menu["items"] if item["current"]]
    assert current == ["report_dashboard"]
    assert [group["key"] for group in menu["groups"] if group["current"]] == ["analysis"]
    html = client.get("/reports/dashboard/").content.decode()
    assert '<a href="/reports/dashboard/" aria-current="page">' in html
    assert '<details class="nav-menu" data-current>' in html


def test_an_agent_has_no_drop_down_groups(tenant_a, in_tenant):
    client = _signed_in(tenant_a, in_tenant, "agent")

    html = client.get("/worklist/").content.decode()

    assert "nav-menu" not in html
    assert '<a href="/worklist/" aria-current="page">' in html


def test_a_signed_out_visitor_gets_no_menu(client_a):
    response = client_a.get("/accounts/login/")

    assert response.context["menu"] is None
    assert 'class="nav-items"' not in response.content.decode()

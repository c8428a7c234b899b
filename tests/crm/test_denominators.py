"""Honest denominators (issue 19 §1): an encounter nobody can be reached at is eligible and not
followed up, with the reason "no contact information", in the figures, the breakdown, the
lists behind it, the exports and the API; the data migration turns an existing clinic's
excluded/no_phone follow-ups into that; another clinic sees none of it."""

import importlib
from decimal import Decimal

import pytest
from django.db import connection

from crm.models import FollowUpTask
from crm.reporting.figures.followup import follow_up_figures
from crm.services.planning import encounters_plan
from tests.api.conftest import ApiClient, make_key
from tests.conftest import login
from tests.crm.conftest import in_english
from tests.crm.test_dashboard import supervisor_client  # noqa: F401  (the fixture)
from tests.crm.test_kpi import NOVEMBER, at, world  # noqa: F401  (world: the fixture)
from tests.crm.test_report_exports import download, flat, pdf_text
from tests.factories import ContactFactory, EncounterFactory, RuleFactory, StaffFactory

S = FollowUpTask.Status
Reason = FollowUpTask.Reason
MIGRATION = importlib.import_module("crm.migrations.0036_no_contact_is_unreachable")
NOVEMBER_API = {"start": "2026-11-01", "end": "2026-11-30"}
NOTE_EN = (
    "An encounter without a usable phone number or email address counts as eligible and not "
    "followed up (reason: no contact information)."
)


@pytest.fixture
def without_phone(world, tenant_a, in_tenant):  # noqa: F811
    """Beside `world` (6 eligible, 2 followed up in November): a November discharge of the
    ward whose patient has no number, planned by a phone rule."""
    with in_tenant(tenant_a):
        RuleFactory(name="Phone day 3")
        encounter = EncounterFactory(
            occurred_at=at(14), department=world["ward"], contact=ContactFactory(phone="")
        )
        encounters_plan([encounter.pk])
        return encounter


def test_an_encounter_without_a_phone_is_eligible_and_lowers_the_rate(
    world,  # noqa: F811
    tenant_a,
    in_tenant,
):
    with in_tenant(tenant_a):
        before = follow_up_figures(NOVEMBER)
        RuleFactory(name="Phone day 3")
        encounter = EncounterFactory(
            occurred_at=at(14), department=world["ward"], contact=ContactFactory(phone="")
        )
        encounters_plan([encounter.pk])
        [task] = encounter.tasks.all()
        after = follow_up_figures(NOVEMBER)

    assert (task.status, task.reason) == (S.UNREACHABLE, Reason.NO_CONTACT)
    assert (before.eligible, before.followed_up, before.follow_up_rate) == (6, 2, Decimal("33.33"))
    assert (after.eligible, after.followed_up, after.follow_up_rate) == (7, 2, Decimal("28.57"))
    # Never called, for want of a number: lost, and its own reason, not "never attempted".
    assert (after.attempted, after.lost) == (4, 2)
    assert after.unreachable == {
        "wrong_number": 1,
        "powered_off": 1,
        "never_attempted": 2,
        "no_contact": 1,
    }


def test_the_report_page_shows_the_reason_and_says_how_the_figure_changed(
    without_phone,
    supervisor_client,  # noqa: F811
):
    english = in_english(supervisor_client).get("/reports/?month=2026-11").content.decode()
    assert "No contact information" in english
    assert "category=no_contact" in english  # the breakdown links to its list
    assert NOTE_EN in english
    supervisor_client.cookies["django_language"] = "zh-hans"
    chinese = supervisor_client.get("/reports/?month=2026-11").content.decode()
    assert "电话不详" in chinese and 'id="denominator-note"' in chinese


def test_the_list_behind_the_reason_holds_exactly_that_encounter(
    without_phone,
    supervisor_client,  # noqa: F811
):
    query = "figure=not_followed_up&month=2026-11&category=no_contact"
    page = in_english(supervisor_client).get(f"/reports/list/?{query}")
    assert page.status_code == 200
    assert page.context["page"].paginator.count == 1
    [row] = page.context["page"].object_list
    assert (row.pk, row.last_category) == (without_phone.pk, "no_contact")
    assert "No contact information" in page.content.decode()


def test_the_follow_up_page_says_why_it_was_not_followed_up(
    without_phone,
    supervisor_client,  # noqa: F811
    tenant_a,
    in_tenant,
):
    with in_tenant(tenant_a):
        task = without_phone.tasks.get()
    english = in_english(supervisor_client).get(f"/tasks/{task.pk}/").content.decode()
    assert "This follow-up is closed (Unreachable)." in english
    assert 'id="task-reason">No contact information<' in english
    supervisor_client.cookies["django_language"] = "zh-hans"
    chinese = supervisor_client.get(f"/tasks/{task.pk}/").content.decode()
    assert 'id="task-reason">电话不详<' in chinese


def test_the_csv_export_shows_the_reason(without_phone, supervisor_client):  # noqa: F811
    query = "figure=not_followed_up&month=2026-11&category=no_contact"
    english = in_english(supervisor_client).get(f"/reports/list.csv?{query}")
    lines = english.content.decode("utf-8").lstrip("\ufeff").splitlines()
    assert len(lines) == 1 + 1
    assert lines[1].endswith(",No contact information")
    supervisor_client.cookies["django_language"] = "zh-hans"
    chinese = supervisor_client.get(f"/reports/list.csv?{query}").content.decode("utf-8")
    assert chinese.splitlines()[1].endswith(",电话不详")


def test_the_pdf_says_how_the_figure_changed(without_phone, client_a, tenant_a, in_tenant):
    with in_tenant(tenant_a):
        StaffFactory(email="export-den@alpha.test", role="supervisor")
    login(client_a, "export-den@alpha.test")
    text = pdf_text(download(client_a, "/reports/export.pdf?month=2026-11", "en"))
    assert flat(NOTE_EN) in text
    assert flat("No contact information") in text


def test_the_api_shows_the_reason(without_phone, tenant_a, in_tenant):
    _, secret = make_key(tenant_a, in_tenant, scopes=("reports",))
    body = ApiClient(tenant_a, secret).get("/reports/followup", NOVEMBER_API).json()
    follow_up = body["total"]["follow_up"]
    assert (follow_up["eligible"], follow_up["follow_up_rate"]) == (7, 28.57)
    assert follow_up["unreachable"]["no_contact"] == 1


def test_another_clinic_sees_none_of_it(
    without_phone,
    tenant_b,
    in_tenant,
    client_b,
):
    _, secret_b = make_key(tenant_b, in_tenant, scopes=("reports",))
    body = ApiClient(tenant_b, secret_b).get("/reports/followup", NOVEMBER_API).json()
    assert body["total"]["follow_up"]["unreachable"] == {}
    with in_tenant(tenant_b):
        assert follow_up_figures(NOVEMBER).eligible == 0
        assert not FollowUpTask.objects.filter(reason=Reason.NO_CONTACT).exists()


def test_a_reason_on_a_figure_without_reasons_is_refused(supervisor_client):  # noqa: F811
    page = in_english(supervisor_client).get(
        "/reports/list/?figure=eligible&month=2026-11&category=no_contact"
    )
    assert page.status_code == 400
    assert "Unknown category for this figure." in page.content.decode()


def _legacy(encounter, *, status, reason):
    """A follow-up as the engine left it before issue 19 (the old reason values are no
    longer choices, so written the way a row of that time reads)."""
    encounter.tasks.update(status=status, reason=reason)


def test_the_migration_converts_an_existing_clinics_rows(
    without_phone,
    tenant_a,
    tenant_b,
    in_tenant,
):
    with in_tenant(tenant_b):
        RuleFactory(name="Beta phone")
        beta = EncounterFactory(occurred_at=at(14), contact=ContactFactory(phone=""))
        encounters_plan([beta.pk])
        _legacy(beta, status=S.EXCLUDED, reason="no_phone")
    with in_tenant(tenant_a):
        _legacy(without_phone, status=S.EXCLUDED, reason="no_phone")
        email_closed = EncounterFactory(occurred_at=at(15), contact=ContactFactory(phone=""))
        encounters_plan([email_closed.pk])
        _legacy(email_closed, status=S.UNREACHABLE, reason="no_email")
        before = follow_up_figures(NOVEMBER)

        with connection.cursor() as cursor:
            cursor.execute(MIGRATION.CONVERT_SQL)
        after = follow_up_figures(NOVEMBER)
        converted = [
            (task.status, task.reason)
            for encounter in (without_phone, email_closed)
            for task in encounter.tasks.all()
        ]

    # The excluded one joins the denominator; both are "no contact information" now.
    assert converted == [(S.UNREACHABLE, Reason.NO_CONTACT), (S.UNREACHABLE, Reason.NO_CONTACT)]
    assert (before.eligible, before.follow_up_rate) == (7, Decimal("28.57"))
    assert before.unreachable.get("no_contact") is None
    assert (after.eligible, after.follow_up_rate) == (8, Decimal("25.00"))
    assert after.unreachable["no_contact"] == 2
    # Only this clinic's schema was converted.
    with in_tenant(tenant_b):
        assert list(beta.tasks.values_list("status", "reason")) == [(S.EXCLUDED, "no_phone")]
        with connection.cursor() as cursor:
            cursor.execute(MIGRATION.CONVERT_SQL)
        assert list(beta.tasks.values_list("status", "reason")) == [
            (S.UNREACHABLE, Reason.NO_CONTACT)
        ]


def test_the_migration_reverses_to_the_old_exclusion(without_phone, tenant_a, in_tenant):
    with in_tenant(tenant_a):
        with connection.cursor() as cursor:
            cursor.execute(MIGRATION.REVERSE_SQL)
        reversed_rows = list(without_phone.tasks.values_list("status", "reason"))
        with connection.cursor() as cursor:
            cursor.execute(MIGRATION.CONVERT_SQL)
        again = list(without_phone.tasks.values_list("status", "reason"))
    assert reversed_rows == [(S.EXCLUDED, "no_phone")]
    assert again == [(S.UNREACHABLE, Reason.NO_CONTACT)]


def test_the_tasks_api_shows_the_reason_to_its_own_clinic_only(
    without_phone, tenant_a, tenant_b, in_tenant
):
    _, secret = make_key(tenant_a, in_tenant, scopes=("read",))
    body = ApiClient(tenant_a, secret).get("/tasks", {"encounter_id": without_phone.pk}).json()
    assert [(t["status"], t["reason"]) for t in body["items"]] == [("unreachable", "no_contact")]
    _, secret_b = make_key(tenant_b, in_tenant, scopes=("read",))
    other = ApiClient(tenant_b, secret_b).get("/tasks", {"status": "unreachable"}).json()
    assert other["items"] == []

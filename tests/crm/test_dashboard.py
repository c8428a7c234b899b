"""The KPI dashboard and the lists behind its figures (issue 5): trends equal the month's
report, every list holds as many rows as the figure it drills from, CSV downloads are
permitted, audit-logged and in the reader's language, and another clinic sees nothing."""

from datetime import date, datetime
from decimal import Decimal

import pytest

from crm.models import AuditEntry, ContactPhone, FollowUpTask
from crm.reporting.figures.feedback import ComplaintFigures, complaint_by, complaint_figures
from crm.reporting.figures.followup import FollowUpFigures, follow_up_by
from crm.reporting.figures.satisfaction import (
    SatisfactionFigures,
    satisfaction_by,
    satisfaction_figures,
)
from crm.reporting.period import Period, month_period
from crm.reporting.report import report_build
from crm.services import feedback
from surveys.services.responses import response_submit
from tests.conftest import login
from tests.crm.conftest import in_english
from tests.crm.test_kpi import (  # noqa: F401  (world: the fixture)
    NOVEMBER,
    SHANGHAI,
    at,
    complaint_made,
    world,
)
from tests.factories import StaffFactory
from tests.surveys.conftest import survey_with

OCTOBER = month_period(date(2026, 10, 1))
DECEMBER = month_period(date(2026, 12, 1))
SPAN = Period(date(2026, 10, 1), date(2026, 12, 31))


@pytest.fixture
def feedback_world(world, tenant_a, in_tenant):  # noqa: F811
    """Beside the encounters of `world`: November responses on the ward's follow-ups (one
    submitted at 00:30 local on December 1), and complaints across the month boundaries."""
    with in_tenant(tenant_a):
        version = survey_with(
            [
                {"kind": "rating", "text_zh": "总体", "dimension": "overall"},
                {"kind": "nps", "text_zh": "推荐", "required": False},
            ]
        ).published
        tasks = list(
            FollowUpTask.objects.filter(encounter__department=world["ward"]).order_by("pk")
        )
        for task, values, when in zip(
            tasks,
            (
                {"q1": 5, "q2": 10},
                {"q1": 4},
                {"q1": 3, "q2": 7},
                {"q1": 1, "q2": 2},
                {"q1": 5},
            ),
            (at(4), at(6), at(8), at(30, 23, 30), datetime(2026, 12, 1, 0, 30, tzinfo=SHANGHAI)),
            strict=False,
        ):
            response_submit(
                version, values, contact=task.contact, task=task, source="call", now=when
            )
        supervisor = StaffFactory(email="dash-sup@alpha.test", role="supervisor")
        for day, hours, category in ((2, 7 * 24, "fees"), (3, 200, "fees"), (4, None, "food")):
            complaint_made(
                day, world["ward"], supervisor, replied_after_hours=hours, category=category
            )
        # Received on October 31 local (16:30 UTC), due in November.
        feedback.complaint_open(
            summary="y", source="call", category="medical",
            now=datetime(2026, 10, 31, 23, 30, tzinfo=SHANGHAI),
        )  # fmt: skip
    return world


def test_trends_equal_the_report_of_each_month(feedback_world, tenant_a, in_tenant):
    with in_tenant(tenant_a):
        follow_up = follow_up_by(SPAN, "month")
        satisfaction = satisfaction_by(SPAN, "month")
        complaints = complaint_by(SPAN, "month")
        for period in (OCTOBER, NOVEMBER, DECEMBER):
            month = period.start
            report = report_build(period)
            trend = follow_up.get(month, FollowUpFigures())
            assert (trend.eligible, trend.attempted, trend.followed_up, trend.lost) == (
                report.figures.eligible,
                report.figures.attempted,
                report.figures.followed_up,
                report.figures.lost,
            )
            assert trend.follow_up_rate == report.figures.follow_up_rate
            rated = satisfaction.get(month, SatisfactionFigures())
            for name in ("responses", "rated", "satisfied", "neutral", "dissatisfied"):
                assert getattr(rated, name) == getattr(report.satisfaction, name), (month, name)
            assert rated.nps == report.satisfaction.nps
            received = complaints.get(month, ComplaintFigures())
            assert (received.received, received.due, received.replied_on_time) == (
                report.complaints.received,
                report.complaints.due,
                report.complaints.replied_on_time,
            )
    # Known values: the month boundaries are the clinic's (Asia/Shanghai), not UTC's.
    assert follow_up[date(2026, 11, 1)].eligible == 6
    assert follow_up[date(2026, 12, 1)].eligible == 1  # 00:01 on December 1, local
    assert follow_up[date(2026, 10, 1)].followed_up == 1
    assert satisfaction[date(2026, 11, 1)].responses == 4
    assert satisfaction[date(2026, 12, 1)].responses == 1  # 00:30 on December 1, local
    assert satisfaction[date(2026, 11, 1)].satisfaction_rate == Decimal("50.00")
    assert complaints[date(2026, 10, 1)].received == 1  # 23:30 on October 31, local
    assert complaints[date(2026, 11, 1)].received == 4  # one raised by a dissatisfied response


def test_department_reads_equal_the_scoped_figures(feedback_world, tenant_a, in_tenant):
    ward = feedback_world["ward"]
    with in_tenant(tenant_a):
        grouped = satisfaction_by(NOVEMBER, "department")[ward.pk]
        scoped = satisfaction_figures(NOVEMBER, department=ward)
        complaints = {pk: f.received for pk, f in complaint_by(NOVEMBER, "department").items()}
        scoped_complaints = complaint_figures(NOVEMBER, department=ward)
    assert (grouped.responses, grouped.rated, grouped.satisfied, grouped.dissatisfied) == (
        scoped.responses,
        scoped.rated,
        scoped.satisfied,
        scoped.dissatisfied,
    )
    assert grouped.satisfaction_rate == scoped.satisfaction_rate == Decimal("50.00")
    assert complaints[ward.pk] == scoped_complaints.received


@pytest.fixture
def supervisor_client(client_a, tenant_a, in_tenant):
    with in_tenant(tenant_a):
        StaffFactory(email="dash-viewer@alpha.test", role="supervisor")
    login(client_a, "dash-viewer@alpha.test")
    return client_a


def test_the_dashboard_shows_the_month_against_targets_and_charts_equal_the_report(
    feedback_world, supervisor_client, tenant_a, in_tenant, django_assert_max_num_queries
):
    # The month's report is built once; since issue 19 it reads the figures per kind of
    # patient too (one grouped query), whatever the number of kinds, and the clinic's names
    # for its kinds (one more).
    with django_assert_max_num_queries(42):
        page = supervisor_client.get("/reports/dashboard/?month=2026-11")
    assert page.status_code == 200
    dashboard = page.context["dashboard"]
    assert dashboard.report.figures.follow_up_rate == Decimal("33.33")
    text = page.content.decode()
    assert 'class="card tile missed"' in text  # 33.33 % against a target of 80 %
    assert dashboard.least_reached["pk"] == feedback_world["ward"].pk
    charts = dashboard.charts
    assert charts["months"][-1] == "2026-11" and len(charts["months"]) == 12
    with in_tenant(tenant_a):
        for index, month in enumerate(charts["months"]):
            year, number = (int(part) for part in month.split("-"))
            report = report_build(month_period(date(year, number, 1)))
            rate = report.figures.follow_up_rate
            assert charts["trends"]["follow_up_rate"][index] == (rate and float(rate))
            rate = report.satisfaction.satisfaction_rate
            assert charts["trends"]["satisfaction_rate"][index] == (rate and float(rate))
            assert charts["trends"]["complaints_received"][index] == report.complaints.received
    assert charts["departments"]["follow_up_rate"] == [33.33]
    assert charts["departments"]["satisfaction_rate"] == [50.0]
    assert 'id="dashboard-data"' in text and "vendor/chart.js/chart.umd.min.js" in text


def _count(client, query: str) -> int:
    page = client.get(f"/reports/list/?{query}")
    assert page.status_code == 200, page.content
    return page.context["page"].paginator.count


def test_every_list_holds_the_rows_its_figure_counted(
    feedback_world, supervisor_client, tenant_a, in_tenant
):
    ward = feedback_world["ward"].pk
    dashboard = supervisor_client.get("/reports/dashboard/?month=2026-11").context["dashboard"]
    report = dashboard.report
    month = "month=2026-11"
    figures = report.figures
    assert _count(supervisor_client, f"figure=eligible&{month}") == figures.eligible == 6
    assert _count(supervisor_client, f"figure=attempted&{month}") == figures.attempted == 4
    assert _count(supervisor_client, f"figure=followed_up&{month}") == figures.followed_up == 2
    assert _count(supervisor_client, f"figure=lost&{month}") == figures.lost == 1
    assert _count(supervisor_client, f"figure=not_followed_up&{month}") == 4
    for category, count in figures.unreachable.items():
        query = f"figure=not_followed_up&{month}&category={category}"
        assert _count(supervisor_client, query) == count
    assert _count(supervisor_client, f"figure=not_followed_up&{month}&department={ward}") == 4
    least = dashboard.least_reached
    assert least["not_followed_up"] == 4

    satisfaction = report.satisfaction
    assert _count(supervisor_client, f"figure=responses&{month}") == satisfaction.responses == 4
    for level in ("satisfied", "neutral", "dissatisfied"):
        query = f"figure=responses&{month}&satisfaction={level}"
        assert _count(supervisor_client, query) == getattr(satisfaction, level)
    assert _count(supervisor_client, f"figure=responses&{month}&satisfaction=rated") == 4

    complaints = report.complaints
    # A dissatisfied response raised a complaint of its own: 3 + 1 in November.
    assert _count(supervisor_client, f"figure=complaints&{month}") == complaints.received == 4
    for category, count in complaints.by_category.items():
        assert _count(supervisor_client, f"figure=complaints&{month}&category={category}") == count
    assert _count(supervisor_client, f"figure=complaints_due&{month}") == complaints.due
    query = f"figure=complaints_due&{month}&on_time=1"
    assert _count(supervisor_client, query) == complaints.replied_on_time == 1
    assert _count(supervisor_client, f"figure=complaints_overdue&{month}") == (
        dashboard.overdue_complaints
    )

    page = supervisor_client.get(f"/reports/list/?figure=not_followed_up&{month}")
    text = page.content.decode()
    assert "/tasks/" in text  # each row links to its follow-ups
    with in_tenant(tenant_a):
        numbers = list(ContactPhone.objects.values_list("number", flat=True))
    assert numbers and not any(number in text for number in numbers)


def test_bad_list_addresses_get_a_clear_error(supervisor_client):
    page = in_english(supervisor_client).get("/reports/list/?figure=everything")
    assert page.status_code == 400 and "Unknown figure" in page.content.decode()
    page = supervisor_client.get("/reports/list/?figure=eligible&month=2026-13")
    assert page.status_code == 400 and "YYYY-MM" in page.content.decode()
    page = supervisor_client.get("/reports/list/?figure=eligible&department=999999")
    assert page.status_code == 400 and "Unknown department" in page.content.decode()
    page = supervisor_client.get("/reports/list/?figure=eligible&category=fees")
    assert page.status_code == 400


def test_the_csv_is_permitted_audit_logged_and_in_the_readers_language(
    feedback_world, supervisor_client, tenant_a, in_tenant
):
    query = "figure=not_followed_up&month=2026-11"
    download = in_english(supervisor_client).get(f"/reports/list.csv?{query}")
    assert download.status_code == 200
    body = download.content.decode("utf-8")
    assert body.startswith("\ufeff")  # Excel reads UTF-8 (Chinese names) with a BOM only
    lines = body.lstrip("\ufeff").splitlines()
    assert lines[0].startswith("Encounter date,Department,Name")
    assert len(lines) == 1 + 4
    assert "Wrong or empty number" in body and "Never attempted" in body
    with in_tenant(tenant_a):
        entries = list(AuditEntry.objects.filter(action=AuditEntry.Action.REPORT_LIST_EXPORTED))
    assert len(entries) == 1 and entries[0].actor.email == "dash-viewer@alpha.test"
    assert entries[0].object_id == "not_followed_up 2026-11"

    supervisor_client.cookies["django_language"] = "zh-hans"
    chinese = supervisor_client.get(f"/reports/list.csv?{query}").content.decode("utf-8")
    assert chinese.lstrip("\ufeff").startswith("就诊日期")
    complaints = supervisor_client.get("/reports/list.csv?figure=complaints&month=2026-11")
    assert complaints.content.decode("utf-8").count("\n") == 1 + 4


def test_agents_and_viewers_without_export_are_refused(
    feedback_world, client_a, tenant_a, in_tenant
):
    with in_tenant(tenant_a):
        StaffFactory(email="dash-agent@alpha.test", role="agent")
        StaffFactory(email="dash-viewer2@alpha.test", role="viewer")
    login(client_a, "dash-agent@alpha.test")
    for path in (
        "/reports/dashboard/",
        "/reports/list/?figure=eligible",
        "/reports/list.csv?figure=eligible",
    ):
        assert client_a.get(path).status_code == 403
    client_a.post("/accounts/logout/")
    login(client_a, "dash-viewer2@alpha.test")
    assert client_a.get("/reports/list.csv?figure=eligible").status_code == 403
    with in_tenant(tenant_a):
        assert not AuditEntry.objects.filter(action=AuditEntry.Action.REPORT_LIST_EXPORTED).exists()


def test_another_clinic_sees_none_of_the_rows(feedback_world, client_b, admin_b):
    login(client_b, "admin@beta.test")
    dashboard = client_b.get("/reports/dashboard/?month=2026-11").context["dashboard"]
    assert dashboard.report.figures.eligible == 0
    assert dashboard.charts["departments"]["names"] == []
    assert not any(dashboard.charts["trends"]["complaints_received"])
    assert not any(v for v in dashboard.charts["trends"]["follow_up_rate"] if v is not None)
    for figure in ("eligible", "responses", "complaints", "complaints_due"):
        assert _count(client_b, f"figure={figure}&month=2026-11") == 0
    body = client_b.get("/reports/list.csv?figure=eligible&month=2026-11").content
    assert body.decode("utf-8").count("\n") == 1  # the header only
    # Tenant A's department id means nothing in tenant B's schema.
    ward = feedback_world["ward"].pk
    page = client_b.get(f"/reports/list/?figure=eligible&month=2026-11&department={ward}")
    assert page.status_code == 400 or page.context["page"].paginator.count == 0


def test_the_month_report_links_its_numbers_to_their_lists(feedback_world, supervisor_client):
    text = supervisor_client.get("/reports/?month=2026-11").content.decode()
    assert "/reports/list/?figure=eligible&amp;month=2026-11" in text
    assert "figure=not_followed_up&amp;month=2026-11&amp;category=wrong_number" in text
    assert "/reports/dashboard/?month=2026-11" in text

"""Input that used to fail pages with a 500 (issue 18, low 14 and 15): a NUL byte in a search
term, dates at the ends of the calendar."""

import pytest

pytestmark = pytest.mark.now("2026-11-24 09:00")


def test_a_nul_byte_in_a_search_is_dropped_and_the_lists_keep_working(admin_client_a):
    searched = admin_client_a.post("/worklist/?scope=all", {"q": "张\x00三"})

    assert searched.status_code == 302
    assert admin_client_a.get(searched["Location"]).status_code == 200
    assert admin_client_a.get("/worklist/").status_code == 200
    found = admin_client_a.post("/contacts/", {"q": "\x00"}, follow=True)
    assert found.status_code == 200


def test_a_session_already_holding_a_nul_search_is_served(admin_client_a):
    session = admin_client_a.session
    session["worklist-search"] = session["contacts-search"] = "张\x00三"
    session.save()

    assert admin_client_a.get("/worklist/").status_code == 200
    assert admin_client_a.get("/contacts/").status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/reports/?period=day&day=0001-01-01",
        "/reports/?period=year&day=9999-12-31",
        "/reports/?period=custom&start=0001-01-01&end=9999-12-31",
        "/reports/dashboard/?month=9999-12",
        "/reports/dashboard/?month=0001-01",
    ],
)
def test_dates_at_the_ends_of_the_calendar_fall_back_instead_of_failing(admin_client_a, path):
    assert admin_client_a.get(path).status_code == 200


@pytest.mark.parametrize(
    "path", ["/reports/export.pdf?month=9999-12", "/reports/export.xlsx?month=0001-01"]
)
def test_an_export_of_a_month_off_the_calendar_is_a_bad_request(admin_client_a, path):
    assert admin_client_a.get(path).status_code == 400

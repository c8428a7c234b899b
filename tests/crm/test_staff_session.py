"""A staff session ends after 30 idle minutes (besides its 12-hour limit), and pages shown
to a signed-in user are never stored by a cache (issue 18, low 16)."""

from datetime import timedelta

import pytest

pytestmark = pytest.mark.now("2026-11-24 09:00")


def test_a_session_left_idle_for_half_an_hour_ends(admin_client_a, clock):
    assert admin_client_a.get("/worklist/").status_code == 200
    clock.shift(timedelta(minutes=29))
    assert admin_client_a.get("/worklist/").status_code == 200  # use keeps it alive
    clock.shift(timedelta(minutes=29))
    assert admin_client_a.get("/worklist/").status_code == 200

    clock.shift(timedelta(minutes=31))
    idle = admin_client_a.get("/worklist/")

    assert idle.status_code == 302
    assert idle["Location"].startswith("/accounts/login/?next=/worklist/")
    assert admin_client_a.get("/worklist/").status_code == 302  # signed out, not just bounced


def test_pages_and_downloads_shown_to_staff_are_not_stored(admin_client_a):
    for path in ("/worklist/", "/contacts/", "/reports/", "/imports/sample.csv"):
        response = admin_client_a.get(path)
        assert response.status_code == 200, path
        assert "no-store" in response["Cache-Control"], path


def test_the_idle_limit_is_per_session_not_per_clinic(admin_client_a, admin_client_b, clock):
    admin_client_a.get("/worklist/")
    clock.shift(timedelta(minutes=20))
    admin_client_b.get("/worklist/")
    clock.shift(timedelta(minutes=20))

    assert admin_client_a.get("/worklist/").status_code == 302  # 40 idle minutes
    assert admin_client_b.get("/worklist/").status_code == 200  # 20

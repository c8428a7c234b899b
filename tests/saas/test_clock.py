"""The product's one clock (saas/clock.py) and how tests set it (tests/clock.py)."""

import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from saas import clock as product_clock
from tests.clock import ENV, at, suite_now
from tests.conftest import SUITE_NOW
from tests.factories import ContactFactory

ROOT = Path(__file__).resolve().parent.parent.parent
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.mark.now("2026-12-31 16:00:30", tz="UTC", tick=False)
def test_the_clinics_day_is_not_the_servers_day():
    assert product_clock.now() == datetime(2026, 12, 31, 16, 0, 30, tzinfo=UTC)
    assert product_clock.today(UTC) == date(2026, 12, 31)
    assert product_clock.today(SHANGHAI) == date(2027, 1, 1)
    assert product_clock.local(zone=SHANGHAI) == datetime(2027, 1, 1, 0, 0, 30, tzinfo=SHANGHAI)
    assert product_clock.epoch() == datetime(2026, 12, 31, 16, 0, 30, tzinfo=UTC).timestamp()


@pytest.mark.now("2028-02-29 08:00")
def test_the_now_marker_starts_the_test_there_with_the_clock_ticking():
    started = product_clock.now()
    assert at("2028-02-29 08:00") <= started < at("2028-02-29 08:00:05")
    assert product_clock.today(SHANGHAI) == date(2028, 2, 29)


@pytest.mark.now("2026-11-20 10:00", tick=False)
def test_the_clock_fixture_moves_time_and_the_database_sees_it(clock, tenant_a, in_tenant):
    """``auto_now`` fields follow the moved clock too: Django reads the same patched time."""
    with in_tenant(tenant_a):
        contact = ContactFactory()
        clock.shift(timedelta(days=3))
        contact.save()
        contact.refresh_from_db()

    assert product_clock.now() == at("2026-11-23 10:00")
    assert (contact.created_at, contact.updated_at) == (
        at("2026-11-20 10:00"),
        at("2026-11-23 10:00"),
    )


def test_an_unmarked_test_starts_at_the_suites_instant():
    assert SUITE_NOW <= product_clock.now() < SUITE_NOW + timedelta(minutes=1)


def test_the_suites_instant_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv(ENV, "2027-03-01T03:00:00Z")
    assert suite_now() == datetime(2027, 3, 1, 3, tzinfo=UTC)
    monkeypatch.setenv(ENV, "2027-03-01T11:00:00+08:00")
    assert suite_now() == datetime(2027, 3, 1, 3, tzinfo=UTC)

    monkeypatch.setenv(ENV, "2027-03-01 03:00")
    with pytest.raises(SystemExit, match="needs a zone"):
        suite_now()
    monkeypatch.setenv(ENV, "next tuesday")
    with pytest.raises(SystemExit, match="not an ISO 8601 instant"):
        suite_now()


@pytest.mark.parametrize(
    ("source", "refused"),
    [
        ("from django.utils import timezone\n\nx = timezone.now()\n", "django.utils.timezone.now"),
        (
            "from django.utils import timezone\n\nx = timezone.localdate()\n",
            "django.utils.timezone.localdate",
        ),
        ("import datetime\n\nx = datetime.date.today()\n", "datetime.date.today"),
        ("from datetime import datetime\n\nx = datetime.now()\n", "datetime.datetime.now"),
        ("import time\n\nx = time.time()\n", "time.time"),
    ],
)
def test_product_code_reads_time_only_through_the_clock(source, refused):
    def ruff(path):
        return subprocess.run(
            [sys.executable, "-m", "ruff", "check", "--stdin-filename", path, "-"],
            cwd=ROOT,
            input=source,
            capture_output=True,
            text=True,
        )

    in_product = ruff("crm/services/probe.py")
    assert in_product.returncode == 1
    assert f"TID251 `{refused}` is banned" in in_product.stdout
    assert ruff("saas/clock.py").returncode == 0
    assert ruff("tests/crm/test_probe.py").returncode == 0

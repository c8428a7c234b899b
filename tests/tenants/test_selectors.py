"""The pool's size from the sign-up rate (tenants.selectors.pool_size_wanted): the busiest
clock hour of the last 7 days, at least TENANT_POOL_SIZE and at most TENANT_POOL_MAX."""

import pytest

from tenants.models import Tenant
from tenants.selectors import pool_size_wanted, signups_busiest_hour
from tests.clock import at

pytestmark = pytest.mark.now("2026-11-24 09:00", tz="UTC", tick=False)


def _signed_up(*instants: str) -> None:
    for index, instant in enumerate(instants):
        slug = f"signup-{Tenant.objects.count()}-{index}"
        tenant = Tenant.objects.create(schema_name=slug, name=slug)
        Tenant.objects.filter(pk=tenant.pk).update(created_at=at(instant, "UTC"))


@pytest.fixture
def quiet_week(db):
    """No clinic made in the last week but the ones a test adds."""
    Tenant.objects.update(created_at=at("2026-01-01 00:00", "UTC"))


def test_the_busiest_hour_of_the_last_week_counts_its_sign_ups(quiet_week):
    _signed_up(
        "2026-11-20 10:05",
        "2026-11-20 10:40",
        "2026-11-20 10:59",  # three in the hour from 10:00
        "2026-11-20 11:00",  # the next hour
        "2026-11-23 15:30",
        "2026-11-17 08:00",  # more than 7 days ago
        "2026-11-17 08:10",
        "2026-11-17 08:20",
        "2026-11-17 08:30",
    )

    assert signups_busiest_hour() == 3


def test_the_pool_is_sized_from_the_sign_up_rate_within_its_bounds(quiet_week, settings):
    settings.TENANT_POOL_SIZE, settings.TENANT_POOL_MAX = 2, 4
    assert pool_size_wanted() == 2  # no sign-ups: the floor

    _signed_up("2026-11-23 10:01", "2026-11-23 10:02", "2026-11-23 10:03")
    assert pool_size_wanted() == 3

    _signed_up(*(f"2026-11-24 08:{minute:02}" for minute in range(10, 16)))
    assert pool_size_wanted() == 4  # six in an hour, but the ceiling

"""The product's one clock. Every decision that depends on "now" — planning windows, the
follow-up tick, retries, calling and message hours, trials and grace periods, link expiry,
complaint deadlines, report periods, usage months — reads the time here, never through
``timezone.now()``, ``datetime.now()``, ``date.today()`` or ``time.time()`` directly (ruff's
banned-api rule enforces it outside this module).

Why one module: a date is a question of *where* as much as *when*. ``date.today()`` answers
in the server's zone (UTC in production) while a clinic in Shanghai is already eight hours
into tomorrow; here a local date always names its zone, defaulting to the one activated for
the request or task (the tenant's, see ``saas.middleware``).

Tests move this clock with time-machine, which patches the interpreter's own clock: nothing
here knows about tests (``tests/clock.py`` says how a test sets the time)."""

import time
from datetime import date, datetime, tzinfo

from django.utils import timezone


def now() -> datetime:
    """The current instant, timezone-aware (UTC)."""
    return timezone.now()


def local(moment: datetime | None = None, zone: tzinfo | None = None) -> datetime:
    """``moment`` (default: now) as wall time in ``zone`` (default: the active zone)."""
    return timezone.localtime(moment if moment is not None else now(), zone)


def today(zone: tzinfo | None = None) -> date:
    """The calendar day it is now in ``zone`` (default: the active zone, the tenant's in a
    request or tenant task) — not the server's day."""
    return local(None, zone).date()


def epoch() -> float:
    """Seconds since the Unix epoch, for wire formats and clock-aligned windows (webhook
    signature timestamps, per-minute API quotas)."""
    return time.time()

"""How a test states its time. The product reads "now" only through ``saas.clock``; the tests
move the interpreter's own clock under it with time-machine (which also moves Django's
``auto_now`` fields, signed-link ages and the in-process Celery workers and live servers,
all threads of this process).

* Every test starts at the suite's instant, ``SUITE_NOW``, with the clock ticking: the real
  time when the session started, or ``CAREBRIDGE_TEST_NOW`` (an ISO 8601 instant, e.g.
  ``CAREBRIDGE_TEST_NOW=2027-03-01T03:00:00Z ./dev test``) to run the whole suite "on another
  day". The session's own fixtures (the alpha and beta clinics) are made at that instant too.
  Such a test builds its dates relative to now (``clock.now() - timedelta(days=3)``).
* A test whose dates are written out fixes its instant:
  ``@pytest.mark.now("2026-11-20 10:00")`` (wall time in Shanghai unless ``tz=`` says
  otherwise; ``tick=False`` stops the clock). Its function fixtures are made at that instant.
* Within a test, the ``clock`` fixture moves time: ``clock.move_to(at("2026-11-21 09:00"))``,
  ``clock.shift(timedelta(hours=4))``.
* A test that cannot be moved (it depends on a process with its own clock: a worker in
  another process, a browser's JavaScript clock) is marked ``@pytest.mark.real_clock``.

A failing run prints the suite's instant in its header; set ``CAREBRIDGE_TEST_NOW`` to it to
run the same day again."""

import os
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")
ENV = "CAREBRIDGE_TEST_NOW"


def at(wall_time: str, tz: str | ZoneInfo = SHANGHAI) -> datetime:
    """``at("2026-11-20 10:00")``: that wall time in ``tz`` (Shanghai by default) as an aware
    datetime. A string with its own offset (``…Z``, ``…+08:00``) keeps it."""
    moment = datetime.fromisoformat(wall_time)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(tz) if isinstance(tz, str) else tz)
    return moment


def suite_now() -> datetime:
    """The instant every test starts from: ``CAREBRIDGE_TEST_NOW`` or the real time now."""
    raw = os.environ.get(ENV, "").strip()
    if not raw:
        return datetime.now(UTC).replace(microsecond=0)
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError as exc:
        raise SystemExit(f"{ENV}={raw!r} is not an ISO 8601 instant: {exc}") from None
    if moment.tzinfo is None:
        raise SystemExit(f"{ENV}={raw!r} needs a zone, e.g. {raw}Z or {raw}+08:00")
    return moment.astimezone(UTC)


def utc(moment: datetime) -> datetime:
    """What time-machine is given: UTC, so that it leaves the process's TZ alone (a ZoneInfo
    destination would also set TZ)."""
    return moment.astimezone(UTC)

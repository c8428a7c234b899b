"""Time in the tenant's own zone: step windows counted in local days, and calling hours."""

import zoneinfo
from datetime import date, datetime, time, timedelta

from tenants.models import hours_interval


def tenant_zone(tenant) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(tenant.timezone)


def local_midnight(day: date, zone: zoneinfo.ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=zone)


def local_date(moment: datetime, zone: zoneinfo.ZoneInfo) -> date:
    return moment.astimezone(zone).date()


def _intervals(hours: list[list[str]]) -> list[tuple[time, time | None]]:
    """Sorted (start, end) pairs; an end of None is midnight at the end of the day."""
    return sorted((hours_interval(start, end) for start, end in hours), key=lambda pair: pair[0])


def within_calling_hours(moment: datetime, hours, zone) -> bool:
    local = moment.astimezone(zone).time()
    return any(start <= local and (end is None or local < end) for start, end in _intervals(hours))


def next_calling_time(moment: datetime, hours, zone) -> datetime:
    """``moment`` itself when inside calling hours, else the start of the next interval."""
    if not hours:
        return moment
    local = moment.astimezone(zone)
    for day_offset in range(8):
        day = local.date() + timedelta(days=day_offset)
        for start, end in _intervals(hours):
            opens = datetime.combine(day, start, tzinfo=zone)
            closes = (
                local_midnight(day + timedelta(days=1), zone)
                if end is None
                else datetime.combine(day, end, tzinfo=zone)
            )
            if local < closes:
                return max(opens, local)
    return moment

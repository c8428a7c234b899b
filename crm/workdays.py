"""Working time for complaint clocks (DESIGN.md §7a.4): deadlines counted in working days, and
the working time a paused clock must give back.

A working day counts whole: the clock runs from local midnight to midnight on working days and
stands still on rest days, so "1 working day" after Friday 10:00 is Monday 10:00 and after a
Saturday it is the end of Monday. Everything is wall time in the clinic's zone, so a DST change
neither adds nor loses an hour of someone's deadline.

Which days are working days: in mainland China the State Council's public holidays and make-up
working days (调休), from the ``chinese-calendar`` package; anywhere else Monday to Friday. The
package knows a year only once it is published (each autumn for the next year): for a year it
lacks, weekends only, and ``unknown_years`` says which years were counted that way so the page
can say so."""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar

# Phone region of clinics whose working days follow mainland China's calendar (Hong Kong,
# Macao and Taiwan have their own holidays: weekends only there).
MAINLAND_CHINA = "CN"


@dataclass(frozen=True)
class WorkCalendar:
    """Working days of one clinic: ``chinese`` follows mainland China's holidays and make-up
    days; otherwise Monday to Friday."""

    chinese: bool

    def knows(self, year: int) -> bool:
        """Whether this year's holidays are known (always, for weekends only)."""
        if not self.chinese:
            return True
        try:
            chinese_calendar.is_workday(date(year, 1, 1))
        except NotImplementedError:
            return False
        return True

    def is_workday(self, day: date) -> bool:
        if self.chinese:
            try:
                return chinese_calendar.is_workday(day)
            except NotImplementedError:
                pass  # a year not published yet: weekends only, reported by unknown_years
        return day.weekday() < 5

    def unknown_years(self, first: date, last: date) -> list[int]:
        """The years from ``first`` to ``last`` counted with weekends only for want of data."""
        low, high = sorted((first.year, last.year))
        return [year for year in range(low, high + 1) if not self.knows(year)]


def calendar_for(phone_region: str) -> WorkCalendar:
    return WorkCalendar(chinese=phone_region.upper() == MAINLAND_CHINA)


def _wall(moment: datetime, zone: ZoneInfo) -> datetime:
    return moment.astimezone(zone).replace(tzinfo=None)


def add_working_time(
    start: datetime, amount: timedelta, *, calendar: WorkCalendar, zone: ZoneInfo
) -> datetime:
    """The instant when ``amount`` of working time has run from ``start``. Started on a rest
    day, the clock waits for the next working day's midnight; a run that uses up a working day
    exactly ends at that day's end (the next midnight), not after the rest days that follow."""
    if amount < timedelta(0):
        raise ValueError("Working time to add cannot be negative.")
    if not amount:
        return start
    cursor, remaining = _wall(start, zone), amount
    while True:
        day = cursor.date()
        day_end = datetime.combine(day + timedelta(days=1), time.min)
        if calendar.is_workday(day):
            if remaining <= day_end - cursor:
                return (cursor + remaining).replace(tzinfo=zone)
            remaining -= day_end - cursor
        cursor = day_end


def add_working_days(
    start: datetime, days: int, *, calendar: WorkCalendar, zone: ZoneInfo
) -> datetime:
    """``start`` plus ``days`` whole working days (see add_working_time)."""
    return add_working_time(start, timedelta(days=days), calendar=calendar, zone=zone)


def working_time_between(
    start: datetime, end: datetime, *, calendar: WorkCalendar, zone: ZoneInfo
) -> timedelta:
    """The working time from ``start`` to ``end`` (none when end is not after start): how far a
    clock that was paused in between must move its deadline."""
    cursor, stop = _wall(start, zone), _wall(end, zone)
    total = timedelta(0)
    while cursor < stop:
        day_end = datetime.combine(cursor.date() + timedelta(days=1), time.min)
        if calendar.is_workday(cursor.date()):
            total += min(day_end, stop) - cursor
        cursor = day_end
    return total

"""Working-day arithmetic of complaint clocks: mainland China's holidays and make-up working
days (2025's National Day: Oct 1–8 off, Sun Sep 28 and Sat Oct 11 worked), weekends only
elsewhere and for a year the calendar package does not know yet, and the working time of a
pause."""

from datetime import date, timedelta

import chinese_calendar
import pytest

from crm import workdays
from tests.clock import SHANGHAI, at

CHINA = workdays.calendar_for("CN")
ABROAD = workdays.calendar_for("US")
# The first year the installed package has no data for (it grows each autumn).
UNKNOWN_YEAR = max(chinese_calendar.holidays).year + 1


def add(start: str, days: int, calendar=CHINA):
    return workdays.add_working_days(at(start), days, calendar=calendar, zone=SHANGHAI)


def test_the_national_day_holiday_is_skipped_and_its_make_up_days_count():
    # Friday before the holiday; Sat 27 is off, Sun 28 a make-up working day.
    assert add("2025-09-26 10:00", 1) == at("2025-09-28 10:00")
    assert add("2025-09-26 10:00", 3) == at("2025-09-30 10:00")
    assert add("2025-09-26 10:00", 4) == at("2025-10-09 10:00")
    assert add("2025-09-26 10:00", 5) == at("2025-10-10 10:00")
    assert add("2025-09-26 10:00", 6) == at("2025-10-11 10:00")  # the make-up Saturday
    assert add("2025-09-26 10:00", 7) == at("2025-10-13 10:00")


def test_outside_mainland_china_only_weekends_are_skipped():
    assert add("2025-09-26 10:00", 1, ABROAD) == at("2025-09-29 10:00")
    assert add("2025-09-26 10:00", 5, ABROAD) == at("2025-10-03 10:00")
    assert not workdays.calendar_for("HK").chinese


def test_a_clock_started_on_a_rest_day_starts_at_the_next_working_midnight():
    # Received on the holiday's first day: the first working day is Thu Oct 9.
    assert add("2025-10-01 15:30", 1) == at("2025-10-10 00:00")
    # Received on Saturday: one working day is the whole of Monday.
    assert add("2025-11-15 09:00", 1) == at("2025-11-18 00:00")


def test_a_whole_working_day_used_up_ends_at_its_midnight_not_after_the_rest_days():
    assert workdays.add_working_time(
        at("2025-09-30 00:00"), timedelta(days=1), calendar=CHINA, zone=SHANGHAI
    ) == at("2025-10-01 00:00")


def test_no_working_time_leaves_the_instant_alone_and_negative_is_refused():
    moment = at("2025-10-03 12:00")
    assert workdays.add_working_time(moment, timedelta(0), calendar=CHINA, zone=SHANGHAI) == moment
    with pytest.raises(ValueError, match="cannot be negative"):
        workdays.add_working_time(moment, timedelta(hours=-1), calendar=CHINA, zone=SHANGHAI)


def test_the_working_time_of_a_pause_leaves_out_rest_days():
    # Paused Tue Sep 30 16:00 to Fri Oct 10 10:00: 8 h on the 30th, the whole of Thu the 9th,
    # 10 h on the 10th; the eight days of holiday count nothing.
    paused = workdays.working_time_between(
        at("2025-09-30 16:00"), at("2025-10-10 10:00"), calendar=CHINA, zone=SHANGHAI
    )
    assert paused == timedelta(days=1, hours=18)
    # The make-up Saturday counts, the Sunday after it does not.
    assert workdays.working_time_between(
        at("2025-10-11 12:00"), at("2025-10-13 06:00"), calendar=CHINA, zone=SHANGHAI
    ) == timedelta(hours=18)
    assert workdays.working_time_between(
        at("2025-10-13 06:00"), at("2025-10-11 12:00"), calendar=CHINA, zone=SHANGHAI
    ) == timedelta(0)


def test_a_pause_moves_a_deadline_by_its_working_time():
    received = at("2025-09-26 10:00")
    deadline = workdays.add_working_days(received, 5, calendar=CHINA, zone=SHANGHAI)
    paused = workdays.working_time_between(
        at("2025-09-29 09:00"), at("2025-09-30 15:00"), calendar=CHINA, zone=SHANGHAI
    )
    moved = workdays.add_working_time(deadline, paused, calendar=CHINA, zone=SHANGHAI)
    assert (deadline, paused, moved) == (
        at("2025-10-10 10:00"),
        timedelta(days=1, hours=6),
        at("2025-10-11 16:00"),  # on the make-up Saturday
    )


def test_a_year_the_package_does_not_know_counts_weekends_only_and_says_so():
    new_year = date(UNKNOWN_YEAR, 1, 1)
    with pytest.raises(NotImplementedError):
        chinese_calendar.is_workday(new_year)
    # Jan 1 is a public holiday every year; unknown, it is counted as the weekday it is.
    assert CHINA.is_workday(new_year) == (new_year.weekday() < 5)
    assert CHINA.unknown_years(date(UNKNOWN_YEAR - 1, 12, 20), new_year) == [UNKNOWN_YEAR]
    assert CHINA.unknown_years(date(2025, 9, 26), date(2025, 10, 13)) == []
    assert ABROAD.unknown_years(new_year, new_year) == []

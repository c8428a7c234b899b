from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from crm.calendar import next_calling_time, within_calling_hours
from tenants.models import Tenant


def tenant(**fields) -> Tenant:
    return Tenant(schema_name="zeta", name="Zeta", **fields)


@pytest.mark.parametrize(
    "hours",
    [
        "08:00-12:00",
        [["08:00"]],
        [["8 am", "12:00"]],
        [["12:00", "08:00"]],
        [[None, None]],
        [["24:00", "24:00"]],
    ],
)
def test_bad_calling_hours_are_refused(db, hours):
    with pytest.raises(ValidationError) as error:
        tenant(calling_hours=hours).full_clean()

    assert "calling_hours" in error.value.message_dict


def test_evening_calling_hours_are_accepted(db):
    tenant(calling_hours=[["18:30", "21:00"]]).full_clean()


def test_unknown_time_zone_is_refused(db):
    with translation.override("en"):
        with pytest.raises(ValidationError) as error:
            tenant(timezone="Mars/Olympus").full_clean()

        assert error.value.message_dict["timezone"] == ["Mars/Olympus is not a known time zone."]


def test_hours_ending_at_24_00_cover_the_whole_day(db):
    shanghai = ZoneInfo("Asia/Shanghai")
    whole_day = [["00:00", "24:00"]]
    tenant(message_hours=whole_day, calling_hours=[["18:00", "24:00"]]).full_clean()
    last_second = datetime(2026, 12, 31, 23, 59, 30, tzinfo=shanghai)

    assert within_calling_hours(last_second, whole_day, shanghai)
    assert next_calling_time(last_second, whole_day, shanghai) == last_second
    # "23:59" as the end leaves the day's last minute out.
    assert not within_calling_hours(last_second, [["00:00", "23:59"]], shanghai)
    assert next_calling_time(last_second, [["08:00", "24:00"]], shanghai) == last_second
    assert next_calling_time(
        datetime(2027, 1, 1, 7, tzinfo=shanghai), [["08:00", "24:00"]], shanghai
    ) == datetime(2027, 1, 1, 8, tzinfo=shanghai)

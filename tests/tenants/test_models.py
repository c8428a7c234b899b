import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from tenants.models import Tenant


def tenant(**fields) -> Tenant:
    return Tenant(schema_name="zeta", name="Zeta", **fields)


@pytest.mark.parametrize(
    "hours",
    ["08:00-12:00", [["08:00"]], [["8 am", "12:00"]], [["12:00", "08:00"]], [[None, None]]],
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

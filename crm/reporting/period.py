"""The period and scope a report is about, and the arithmetic every figure shares (DESIGN.md
§7): rates computed from counts with two decimals, wholes added up from their groups, never
averaged.

A period is a range of the tenant's local days [start, end] inclusive. Encounter figures
count encounters whose date falls in it; survey figures count responses submitted in it,
complaint and praise figures those received in it (on-time replies: complaints due in it);
spot checks those closed in it."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.db import connection
from django.db.models import DateField
from django.db.models.functions import TruncMonth
from django.utils.translation import gettext as _

from ..calendar import local_midnight, tenant_zone

# The longest period a report covers: a year and a bit, enough for any annual report, and a
# bound on what one page or API call may scan.
MAX_PERIOD_DAYS = 400


def period_error(start: date, end: date) -> str | None:
    """Why [start, end] cannot be reported on, or None when it can."""
    if end < start or (end - start).days >= MAX_PERIOD_DAYS:
        return _("The period must end on or after its start and span at most %(days)s days.") % {
            "days": MAX_PERIOD_DAYS
        }
    return None


def rate(numerator: int, denominator: int) -> Decimal | None:
    """numerator / denominator as a percentage with two decimals; None (shown "—") when
    nothing is counted."""
    if not denominator:
        return None
    return (Decimal(100 * numerator) / denominator).quantize(Decimal("0.01"), ROUND_HALF_UP)


# The days a report can be about: outside them a period's neighbours overflow the calendar.
EARLIEST_DAY, LATEST_DAY = date(1900, 1, 1), date(2999, 12, 31)


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # inclusive

    @classmethod
    def of(cls, kind: str, day: date) -> "Period":
        """The day, ISO week (Monday first), month, quarter or year that holds `day`."""
        if kind == "day":
            return cls(day, day)
        if kind == "week":
            monday = day - timedelta(days=day.weekday())
            return cls(monday, monday + timedelta(days=6))
        if kind == "month":
            first = day.replace(day=1)
        elif kind == "quarter":
            first = date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
        elif kind == "year":
            return cls(date(day.year, 1, 1), date(day.year, 12, 31))
        else:
            raise ValueError(kind)
        months = 3 if kind == "quarter" else 1
        following = date(
            first.year + (first.month + months - 1) // 12, (first.month + months - 1) % 12 + 1, 1
        )
        return cls(first, following - timedelta(days=1))

    def months(self) -> list[date]:
        """The first day of each calendar month the period touches."""
        months, month = [], self.start.replace(day=1)
        while month <= self.end:
            months.append(month)
            month = (month + timedelta(days=32)).replace(day=1)
        return months

    def bounds(self) -> tuple[datetime, datetime]:
        zone = tenant_zone(connection.tenant)
        return local_midnight(self.start, zone), local_midnight(self.end + timedelta(days=1), zone)


@dataclass(frozen=True)
class Scope:
    """Whose figures: the whole tenant, or narrowed to a department (of the encounter), an
    agent (who made the last attempt; never attempted: the assignee of the first task), a
    rule or a tier (only that rule's or tier's follow-ups count)."""

    department: int | None = None
    agent: int | None = None
    rule: int | None = None
    tier: int | None = None

    @property
    def narrowed(self) -> bool:
        """To an agent, rule or tier: below the department, where complaints and praise and
        the summary's facts are not kept."""
        return self.agent is not None or self.rule is not None or self.tier is not None


EVERYTHING = Scope()
GROUPS = ("department", "agent", "rule", "tier", "month")


def month_period(first: date) -> Period:
    """The calendar month starting at `first`."""
    following = (first + timedelta(days=32)).replace(day=1)
    return Period(first, following - timedelta(days=1))


def month_of(field_name: str) -> TruncMonth:
    """The first day of the local month of a timestamp (tenant's zone), for grouping."""
    return TruncMonth(field_name, output_field=DateField(), tzinfo=tenant_zone(connection.tenant))


def total(groups: dict, figures_class):
    """The figures of the whole from those of its groups (every count adds up; rates are
    computed again from the sums, never averaged)."""
    whole = figures_class()
    for figures in groups.values():
        whole.add(figures)
    return whole

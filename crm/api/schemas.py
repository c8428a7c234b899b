"""What the routers of /api/v1/ share: the types of ids, texts, times and cursors, stated in
the schema exactly as the API checks them (the schema is the integrators' contract), the
error bodies, and the statuses every authenticated call may answer."""

import re
from datetime import UTC, date, datetime
from typing import Annotated

from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Schema
from pydantic import AfterValidator, BeforeValidator, WithJsonSchema

# Ids fit PostgreSQL's integer; text has no NUL byte (PostgreSQL refuses it): anything else
# is a 422 from the schema instead of a database error.
Id = Annotated[int, Field(ge=1, le=2_147_483_647)]
Text = Annotated[str, Field(max_length=200, pattern=r"^[^\x00]*$")]
# A code or an address that must name something: an empty one names nothing.
Code = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\x00]*$")]

# RFC 3339, as `format: date-time` says: date, "T", time with seconds, and the offset. Only
# this text is read as a time (not a number of seconds, not a time without its offset, which
# would be read in some zone the caller did not say). Years 1900–2999: PostgreSQL and the
# clinic's calendar have no use for others.
MOMENT_PATTERN = r"^(19\d\d|2\d\d\d)-"
_RFC3339 = re.compile(
    r"(19\d\d|2\d\d\d)-\d\d-\d\d[Tt]\d\d:\d\d:\d\d(\.\d{1,6})?([Zz]|[+-]\d\d:\d\d)",
    re.ASCII,
)


def _moment_text(value):
    if isinstance(value, datetime):  # from Python (tests, services), not from the wire
        return value
    if not isinstance(value, str) or not _RFC3339.fullmatch(value):
        raise ValueError(
            _(
                "a date and time with its offset between the years 1900 and 2999, as RFC 3339 "
                "writes it, e.g. 2026-11-22T10:30:00+08:00"
            )
        )
    return value


def _moment(value: datetime) -> datetime:
    """In UTC (PostgreSQL refuses offsets past ±16 h)."""
    try:
        if timezone.is_naive(value):
            value = timezone.make_aware(value)
        return value.astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise ValueError(_("not a valid time")) from exc


Moment = Annotated[
    datetime,
    BeforeValidator(_moment_text),
    AfterValidator(_moment),
    WithJsonSchema(
        {
            "type": "string",
            "format": "date-time",
            "pattern": MOMENT_PATTERN,
            "description": "RFC 3339 with the offset, years 1900–2999, e.g. "
            "2026-11-22T10:30:00+08:00.",
        }
    ),
]


_DAY = re.compile(r"(19\d\d|2\d\d\d)-\d\d-\d\d", re.ASCII)


def _day_text(value):
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not _DAY.fullmatch(value):
        raise ValueError(_("a day as YYYY-MM-DD between the years 1900 and 2999"))
    return value


# A local day, YYYY-MM-DD, years 1900–2999 (a period's neighbours stay in the calendar).
Day = Annotated[
    date,
    BeforeValidator(_day_text),
    WithJsonSchema({"type": "string", "format": "date", "pattern": MOMENT_PATTERN}),
]

# The `next` of a page: base64url (unpadded) of "id:" and the last id shown. The pattern says
# exactly that (each group of three digits is four characters of these sets), so a cursor the
# schema allows is one the API reads; crm.api.pagination checks it (a 400 `invalid_cursor`).
_DIGITS3 = "(?:[MN][DTjz]|O[DT])[AEIMQUYcgk][w-z0-5]"
_TAIL = "(?:(?:[MN][AQgw]|O[AQ])|(?:[MN][DTjz]|O[DT])[AEIMQUYcgk])"
# Empty (or absent): the first page.
CURSOR_PATTERN = rf"^(?:aWQ6(?:(?:{_DIGITS3}){{1,3}}{_TAIL}?|{_TAIL}))?$"
Cursor = Annotated[str, WithJsonSchema({"type": "string", "pattern": CURSOR_PATTERN})]


def choices(enum) -> WithJsonSchema:
    """A model's choices written out where they are used: two enums of the same name
    (FollowUpTask.Status, Complaint.Status) would otherwise share one schema component."""
    return WithJsonSchema({"type": "string", "enum": list(enum.values)})


class Error(Schema):
    code: str
    message: str


class FieldError(Schema):
    field: str
    code: str | None = Field(None, description="For survey answers: unknown_question, …")
    message: str


class InvalidRequest(Schema):
    """A request the schema refuses: ``errors`` lists each refused part."""

    code: str = Field(description="`invalid_request`, or the endpoint's own code.")
    message: str
    errors: list[FieldError] = []


class AnswersError(Schema):
    """An error of a call with survey answers: ``field`` names the first refused one."""

    code: str
    message: str
    field: str | None = None
    errors: list[FieldError] = []


class RateLimited(Schema):
    code: str = Field(description="`rate_limited`")
    message: str
    retry_after: int = Field(
        description="Seconds until the key's next minute; also in the `Retry-After` header."
    )


# Every call: 401 (no key, a wrong or revoked one), 403 (the plan has no API, the key lacks
# the scope), 413 (a body past API_MAX_BODY_BYTES, saas.middleware), 422 (the request does
# not match the schema), 429 (rate limit).
ERRORS = {401: Error, 403: Error, 413: Error, 422: InvalidRequest, 429: RateLimited}
# Reads of pages: a cursor the API did not give is a 400.
PAGE_ERRORS = {**ERRORS, 400: Error}


class PageQuery(Schema):
    cursor: Cursor | None = Field(None, description="The `next` of the previous page.")
    limit: int = Field(100, ge=1, le=1000)

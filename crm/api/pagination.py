"""Cursor pagination by id: a page's ``next`` cursor is the last id it showed (opaque to the
client), so rows written while a client pages through are neither skipped nor repeated."""

import base64
import re

from django.utils.translation import gettext as _

from .errors import ApiError
from .schemas import CURSOR_PATTERN

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
# Ids are PostgreSQL integers: a cursor past the largest is past every row.
ID_END = 2**31
_CURSOR = re.compile(CURSOR_PATTERN)


def cursor_encode(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"id:{last_id}".encode()).decode().rstrip("=")


def cursor_decode(cursor: str) -> int:
    """The last id a cursor names, or a 400: the pattern admits only base64 of "id:<digits>"."""
    if not _CURSOR.fullmatch(cursor):
        raise ApiError(400, "invalid_cursor", _("This cursor is not one the API gave."))
    text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    return int(text.removeprefix("id:"))


def page(queryset, *, cursor: str | None, limit: int | None, item) -> dict:
    """``{"items": [...], "next": cursor or null}`` of the rows after ``cursor``."""
    limit = min(max(limit or DEFAULT_LIMIT, 1), MAX_LIMIT)
    if cursor:
        last_id = cursor_decode(cursor)
        if last_id >= ID_END:
            return {"items": [], "next": None}
        queryset = queryset.filter(pk__gt=last_id)
    rows = list(queryset.order_by("pk")[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    return {
        "items": [item(row) for row in rows],
        "next": cursor_encode(rows[-1].pk) if more else None,
    }

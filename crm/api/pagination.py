"""Cursor pagination by id: a page's ``next`` cursor is the last id it showed (opaque to the
client), so rows written while a client pages through are neither skipped nor repeated."""

import base64
import binascii

from django.utils.translation import gettext as _

from .errors import ApiError

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


def cursor_encode(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"id:{last_id}".encode()).decode().rstrip("=")


def cursor_decode(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, value = text.split(":", 1)
        if kind != "id":
            raise ValueError(kind)
        last_id = int(value)
        if not 0 <= last_id < 2**31:
            raise ValueError(value)
        return last_id
    except (ValueError, UnicodeDecodeError, binascii.Error) as exc:
        raise ApiError(400, "invalid_cursor", _("This cursor is not one the API gave.")) from exc


def page(queryset, *, cursor: str | None, limit: int | None, item) -> dict:
    """``{"items": [...], "next": cursor or null}`` of the rows after ``cursor``."""
    limit = min(max(limit or DEFAULT_LIMIT, 1), MAX_LIMIT)
    if cursor:
        queryset = queryset.filter(pk__gt=cursor_decode(cursor))
    rows = list(queryset.order_by("pk")[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    return {
        "items": [item(row) for row in rows],
        "next": cursor_encode(rows[-1].pk) if more else None,
    }

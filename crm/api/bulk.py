"""Bulk intake of contacts and encounters through the API: every row checked by the same
rules as the CSV/XLSX import (crm.registers.row_check), the accepted ones written set-based
by crm.services.encounter_rows (COPY into a staging table, a handful of SQL statements), never one
ORM save per row. Encounters are identified by (source, external_id), so sending the same
batch again changes nothing."""

from dataclasses import dataclass, field

from django.db import transaction
from django.utils.translation import gettext as _

from .. import registers
from ..services.encounter_rows import encounters_intake
from ..services.import_jobs import _context as row_context

MAX_ROWS = 10_000
# Fields a row may carry: exactly the import's fields, so a column an HIS exports to the CSV
# import has the same name here.
ROW_FIELDS = frozenset(registers.FIELD_KEYS)
LIST_FIELDS = frozenset({"phone", "phone2", "tags"})


@dataclass
class BulkResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[dict] = field(default_factory=list)  # {index, field, code, message}
    encounters: list[dict] = field(default_factory=list)  # {index, external_id, id, outcome}

    @property
    def rejected(self) -> int:
        return len({e["index"] for e in self.errors})


def _as_text(key: str, value) -> str | None:
    """The row's value as the text the import checks read, or None for a wrong JSON type."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
    if key in LIST_FIELDS and isinstance(value, list) and all(isinstance(v, str) for v in value):
        return ",".join(value)
    return None


def _texts(row: dict) -> bool:
    """Whether the row is what HIS systems send: known fields, every value text without a NUL
    byte (PostgreSQL cannot store one). Tested in C: a join fails on anything but text."""
    try:
        joined = "".join(row.values())
    except TypeError:
        return False
    return "\x00" not in joined and row.keys() <= ROW_FIELDS


def _converted(row: dict, errors: list) -> dict:
    """The row's values as text, the unknown fields and wrong types recorded in ``errors``."""
    raw = {}
    for key, value in row.items():
        if key not in ROW_FIELDS:
            errors.append((key, "unknown_field", _("Unknown field “%(field)s”.") % {"field": key}))
            continue
        text = value if value.__class__ is str else _as_text(key, value)
        if text is not None and "\x00" in text:  # PostgreSQL cannot store a NUL byte
            text = None
        if text is None:
            errors.append(
                (key, "wrong_type", _("%(field)s must be text.") % {"field": registers._label(key)})
            )
            continue
        raw[key] = text
    return raw


def _row_read(index: int, row: dict, result: BulkResult, ctx) -> dict | None:
    """The checked values of one row, or None after recording why it is rejected."""
    errors = []
    raw = row if _texts(row) else _converted(row, errors)
    if not raw.get("external_id", "").strip():
        errors.append(
            (
                "external_id",
                "required",
                _("%(field)s is missing.") % {"field": registers._label("external_id")},
            )
        )
    checked = registers.row_check(index, raw, ctx)
    if checked.errors:
        errors.extend(
            (key, code, message)
            for (key, message), code in zip(checked.errors, checked.codes, strict=True)
        )
    if errors:
        result.errors.extend(
            {"index": index, "field": key, "code": code, "message": message}
            for key, code, message in errors
        )
        return None
    return checked.values


def encounters_bulk_upsert(*, source: str, rows: list[dict]) -> BulkResult:
    """Check every row, then write the accepted ones in one transaction and queue their
    planning. Rejected rows (bad values, a repeated external id, over the plan's allowance)
    write nothing."""
    result = BulkResult()
    ctx = row_context()
    accepted: list[tuple[int, dict]] = []
    first_index: dict[str, int] = {}
    for index, row in enumerate(rows):
        values = _row_read(index, row, result, ctx)
        if values is None:
            continue
        if values["key"] in first_index:
            result.errors.append(
                {
                    "index": index,
                    "field": "external_id",
                    "code": "duplicate",
                    "message": _("Same external id as row %(index)s.")
                    % {"index": first_index[values["key"]]},
                }
            )
            continue
        first_index[values["key"]] = index
        accepted.append((index, values))
    with transaction.atomic():
        written = encounters_intake(source=source, rows=accepted)
    result.errors.extend(
        {"index": index, "field": "", "code": "plan_limit", "message": message}
        for index, message in written.refused.items()
    )
    result.created, result.updated, result.unchanged = (
        written.created,
        written.updated,
        written.unchanged,
    )
    result.encounters = [
        {"index": index, "external_id": key, "id": encounter_id, "outcome": outcome}
        for index, (key, encounter_id, outcome) in sorted(written.rows.items())
    ]
    result.errors.sort(key=lambda e: e["index"])
    return result

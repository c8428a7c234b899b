"""Bulk intake of contacts and encounters through the API: every row checked by the same
rules as the CSV/XLSX import (crm.importing.row_check), the accepted ones written with a
handful of set-based statements (multi-row INSERT … ON CONFLICT, batched UPDATEs), never
one ORM save per row. Encounters are identified by (source, external_id), so sending the
same batch again changes nothing."""

from dataclasses import dataclass, field

from django.db import connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _
from psycopg2.extras import execute_values

from billing import entitlements

from .. import importing
from ..models import Contact, ContactPhone, Encounter, FollowUpTask
from ..services.imports import CONTACT_FIELDS, ENCOUNTER_FIELDS
from ..services.imports import _context as row_context
from ..services.planning import encounters_plan_later, tasks_cancel

MAX_ROWS = 10_000
# Fields a row may carry: exactly the import's fields, so a column an HIS exports to the CSV
# import has the same name here.
ROW_FIELDS = set(importing.FIELD_KEYS)
LIST_FIELDS = {"phone", "phone2", "tags"}


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
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
    if key in LIST_FIELDS and isinstance(value, list) and all(isinstance(v, str) for v in value):
        return ",".join(value)
    return None


def _row_read(index: int, row: dict, result: BulkResult, ctx) -> dict | None:
    """The checked values of one row, or None after recording why it is rejected."""
    errors = []
    raw = {}
    for key, value in row.items():
        if key not in ROW_FIELDS:
            errors.append((key, "unknown_field", _("Unknown field “%(field)s”.") % {"field": key}))
            continue
        text = _as_text(key, value)
        if text is not None and "\x00" in text:  # PostgreSQL cannot store a NUL byte
            text = None
        if text is None:
            errors.append(
                (key, "wrong_type", _("%(field)s must be text.") % {"field": importing._label(key)})
            )
            continue
        raw[key] = text
    if not raw.get("external_id", "").strip():
        errors.append(
            (
                "external_id",
                "required",
                _("%(field)s is missing.") % {"field": importing._label("external_id")},
            )
        )
    checked = importing.row_check(index, raw, ctx)
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
        _write(source, accepted, result)
    result.errors.sort(key=lambda e: e["index"])
    result.encounters.sort(key=lambda e: e["index"])
    return result


def _write(source: str, accepted: list[tuple[int, dict]], result: BulkResult) -> None:
    now = timezone.now()
    tenant = connection.tenant
    keys = [values["key"] for _index, values in accepted]
    existing = {
        e["external_id"]: e
        for e in Encounter.objects.filter(source=source, external_id__in=keys).values(
            "id", "contact_id", "external_id", *ENCOUNTER_FIELDS
        )
    }

    # The plan's monthly allowance of new encounters: the new rows past it are rejected.
    new_rows = [(i, v) for i, v in accepted if v["key"] not in existing]
    granted = entitlements.usage_reserve(tenant, "encounters", len(new_rows))
    if granted < len(new_rows):
        message = entitlements.encounter_limit_error(tenant).messages[0]
        over = {i for i, _v in new_rows[granted:]}
        result.errors.extend(
            {"index": i, "field": "", "code": "plan_limit", "message": message} for i in over
        )
        accepted = [(i, v) for i, v in accepted if i not in over]
    if not accepted:
        return

    contact_of = _contacts_resolve(accepted, existing)
    contact_changed = _contacts_write(accepted, contact_of, now)
    phones_added = _phones_write(accepted, contact_of)

    to_write = []
    outcome_of = {}
    for index, values in accepted:
        old = existing.get(values["key"])
        if old is None:
            outcome_of[index] = "created"
        elif any(old[name] != values[name] for name in ENCOUNTER_FIELDS):
            outcome_of[index] = "updated"
        elif contact_of[index] in contact_changed or contact_of[index] in phones_added:
            outcome_of[index] = "updated"  # as the CSV import counts it: the record changed
            continue
        else:
            outcome_of[index] = "unchanged"
            continue
        to_write.append((index, values))
    ids = _encounters_upsert(source, to_write, contact_of, now)
    for index, values in accepted:
        key = values["key"]
        encounter_id = ids.get(key) or existing[key]["id"]
        result.encounters.append(
            {"index": index, "external_id": key, "id": encounter_id, "outcome": outcome_of[index]}
        )
        setattr(result, outcome_of[index], getattr(result, outcome_of[index]) + 1)
    _cascade(to_write, contact_of, ids, now)
    # A new phone or changed details can make excluded follow-ups workable: re-plan those too.
    encounters_plan_later(
        e["id"] for e in result.encounters if e["outcome"] in ("created", "updated")
    )


def _contacts_resolve(accepted, existing) -> dict[int, int | str]:
    """Row index → the id of its contact, or a placeholder string for a contact still to be
    made (rows of one new person share it). Found as the import finds them: the encounter's
    contact, else the same record number, else the same name with one of the phones."""
    by_record = dict(
        Contact.objects.filter(
            record_no__in={v["record_no"] for _i, v in accepted if v["record_no"]}
        ).values_list("record_no", "pk")
    )
    by_name_phone: dict[tuple[str, str], int] = {}
    for contact_id, name, number in (
        ContactPhone.objects.filter(
            number__in={n for _i, v in accepted for n in v["phones"]},
            contact__name__in={v["name"] for _i, v in accepted},
        )
        .order_by("contact_id")
        .values_list("contact_id", "contact__name", "number")
    ):
        by_name_phone.setdefault((name, number), contact_id)
    contact_of: dict[int, int | str] = {}
    for index, values in accepted:
        old = existing.get(values["key"])
        if old is not None:
            contact_of[index] = old["contact_id"]
            continue
        if values["record_no"]:
            contact_of[index] = by_record.get(values["record_no"], f"r:{values['record_no']}")
            continue
        found = next(
            (
                by_name_phone[(values["name"], n)]
                for n in values["phones"]
                if (values["name"], n) in by_name_phone
            ),
            None,
        )
        if found is None and values["phones"]:
            found = f"p:{values['name']}:{values['phones'][0]}"
        contact_of[index] = found if found is not None else f"n:{index}"
    return contact_of


def _contacts_write(accepted, contact_of, now) -> set[int]:
    """Create the new contacts and update the known ones whose details the rows change (a
    value given replaces the stored one; an empty value keeps it). Returns the ids of the
    known contacts that changed; placeholders in ``contact_of`` are replaced by new ids."""
    known_ids = {c for c in contact_of.values() if isinstance(c, int)}
    known = {c.pk: c for c in Contact.objects.filter(pk__in=known_ids)}
    taken_records = set(
        Contact.objects.filter(
            record_no__in={v["record_no"] for _i, v in accepted if v["record_no"]}
        ).values_list("record_no", flat=True)
    )
    # Record numbers the batch's new contacts will carry are taken too.
    taken_records |= {ref[2:] for ref in contact_of.values() if str(ref).startswith("r:")}
    new: dict[str, Contact] = {}
    changed: set[int] = set()
    for index, values in accepted:
        ref = contact_of[index]
        if isinstance(ref, int):
            contact = known[ref]
        else:
            contact = new.get(ref)
            if contact is None:
                contact = new[ref] = Contact(record_no=values["record_no"])
        for name in CONTACT_FIELDS:
            value = values.get(name)
            if value not in (None, "") and getattr(contact, name) != value:
                setattr(contact, name, value)
                if isinstance(ref, int):
                    changed.add(ref)
        if (
            values["record_no"]
            and not contact.record_no
            and values["record_no"] not in taken_records
        ):
            contact.record_no = values["record_no"]
            taken_records.add(values["record_no"])
            if isinstance(ref, int):
                changed.add(ref)
    if changed:
        for pk in changed:
            known[pk].updated_at = now
        Contact.objects.bulk_update(
            [known[pk] for pk in changed],
            [*CONTACT_FIELDS, "record_no", "updated_at"],
            batch_size=1000,
        )
    new_ids = dict(zip(new, _contacts_insert(list(new.values()), now), strict=True))
    for index, ref in contact_of.items():
        if isinstance(ref, str):
            contact_of[index] = new_ids[ref]
    return changed


_CONTACT_COLUMNS = [
    "name",
    "sex",
    "birth_date",
    "record_no",
    "email",
    "address",
    "language",
    "do_not_contact",
    "do_not_contact_reason",
    "deceased",
    "notes",
    "created_at",
    "updated_at",
]


def _contacts_insert(contacts: list[Contact], now) -> list[int]:
    """Multi-row INSERT … RETURNING id (ids in the order given, as bulk_create relies on
    too), without the ORM's per-field preparation, which costs more than the INSERT."""
    if not contacts:
        return []
    table = Contact._meta.db_table
    sql = f"INSERT INTO {table} ({', '.join(_CONTACT_COLUMNS)}) VALUES %s RETURNING id"  # noqa: S608
    ids: list[int] = []
    with connection.cursor() as cursor:
        for start in range(0, len(contacts), 2000):
            values = [
                (
                    c.name,
                    c.sex,
                    c.birth_date,
                    c.record_no,
                    c.email,
                    c.address,
                    c.language,
                    False,
                    "",
                    False,
                    "",
                    now,
                    now,
                )
                for c in contacts[start : start + 2000]
            ]
            returned = execute_values(cursor.cursor, sql, values, fetch=True, page_size=2000)
            ids.extend(row[0] for row in returned)
    return ids


def _phones_write(accepted, contact_of) -> set[int]:
    """Add the rows' phone numbers their contacts do not have yet; returns those contacts."""
    known: dict[int, set[str]] = {}
    for contact_id, number in ContactPhone.objects.filter(
        contact_id__in=set(contact_of.values())
    ).values_list("contact_id", "number"):
        known.setdefault(contact_id, set()).add(number)
    new = []
    for index, values in accepted:
        contact_id = contact_of[index]
        numbers = known.setdefault(contact_id, set())
        for number in values["phones"]:
            if number not in numbers:
                new.append((contact_id, number, ContactPhone.Label.MOBILE.value, len(numbers)))
                numbers.add(number)
    table = ContactPhone._meta.db_table
    sql = (
        f"INSERT INTO {table} (contact_id, number, label, position, invalid)"  # noqa: S608
        " VALUES %s ON CONFLICT (contact_id, number) DO NOTHING"
    )
    with connection.cursor() as cursor:
        execute_values(cursor.cursor, sql, new, template="(%s, %s, %s, %s, false)", page_size=5000)
    return {contact_id for contact_id, *_rest in new}


_COLUMNS = ["contact_id", "source", "external_id", *ENCOUNTER_FIELDS, "created_at", "updated_at"]


def _encounters_upsert(source, to_write, contact_of, now) -> dict[str, int]:
    """One INSERT … ON CONFLICT per 2,000 rows; external id → encounter id of every row
    written. ON CONFLICT (rather than trusting the read above) keeps two concurrent pushes
    of the same discharge from failing on the unique constraint."""
    if not to_write:
        return {}
    table = Encounter._meta.db_table
    template = "(" + ", ".join("%s::varchar(40)[]" if c == "tags" else "%s" for c in _COLUMNS) + ")"
    updates = ", ".join(
        f"{c} = EXCLUDED.{c}"
        for c in _COLUMNS
        if c not in ("source", "external_id", "created_at", "contact_id")
    )
    sql = (
        f"INSERT INTO {table} ({', '.join(_COLUMNS)}) VALUES %s"  # noqa: S608 - names are ours
        f" ON CONFLICT (source, external_id) WHERE NOT (external_id = '')"
        f" DO UPDATE SET {updates} RETURNING external_id, id"
    )
    ids: dict[str, int] = {}
    with connection.cursor() as cursor:
        for start in range(0, len(to_write), 2000):
            values = [
                (
                    contact_of[index],
                    source,
                    row["key"],
                    *(row[name] for name in ENCOUNTER_FIELDS),
                    now,
                    now,
                )
                for index, row in to_write[start : start + 2000]
            ]
            returned = execute_values(
                cursor.cursor, sql, values, template=template, fetch=True, page_size=2000
            )
            ids.update(dict(returned))
    return ids


def _cascade(to_write, contact_of, ids, now) -> None:
    """What crm.services.planning.encounter_cascade does for one encounter, for the whole
    batch at once: a death closes the contact's open follow-ups, a later discharge (a
    readmission) cancels those of earlier stays."""
    died = {contact_of[i] for i, v in to_write if v["discharge_outcome"] == Encounter.Outcome.DIED}
    if died:
        Contact.objects.filter(pk__in=died, deceased=False).update(
            deceased=True, deceased_at=now, updated_at=now
        )
        tasks_cancel(
            FollowUpTask.objects.filter(contact_id__in=died),
            reason=FollowUpTask.Reason.DECEASED,
            now=now,
        )
    discharges = [
        ids[v["key"]]
        for i, v in to_write
        if v["kind"] == Encounter.Kind.DISCHARGE and contact_of[i] not in died
    ]
    if discharges:
        later_stay = Encounter.objects.filter(
            pk__in=discharges,
            kind=Encounter.Kind.DISCHARGE,
            contact_id=OuterRef("contact_id"),
            occurred_at__gt=OuterRef("encounter__occurred_at"),
        )
        tasks_cancel(
            FollowUpTask.objects.filter(encounter__kind=Encounter.Kind.DISCHARGE).filter(
                Exists(later_stay)
            ),
            reason=FollowUpTask.Reason.READMITTED,
            now=now,
        )

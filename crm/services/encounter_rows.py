"""Writing checked encounter rows (with their contacts and phones) set-based, whatever the
number of rows: known encounters and contacts are found with a few ``= ANY(array)``
look-ups, the rows with their resolved ids are COPYed into a temporary staging table, and
the contact, phone and encounter inserts and updates are a handful of SQL statements over
it. Shared by the integration API's bulk call and the CSV/XLSX import, so both find the same
contacts and count created/updated/unchanged the same way.

Rows are identified by (source, key): sending the same rows again writes nothing and counts
them unchanged.

Names, addresses, phone numbers, diagnoses, procedures and notes are encrypted at rest
(crm/crypto.py): they are encrypted here in Python before the COPY, with their blind indexes,
and contacts are matched on those indexes. Encryption is randomised, so a value the row
repeats keeps its stored ciphertext (compared in plain text here): SQL then sees it
unchanged."""

import csv
import io
from dataclasses import dataclass, field

from django.db import connection

from billing import entitlements
from saas import clock

from .. import crypto
from ..models import Contact, ContactPhone, Encounter
from .cascade import EncounterWritten, encounters_cascade
from .planning import encounters_plan_later

ENCOUNTER_FIELDS = [
    "kind",
    "department_id",
    "attending_id",
    "attending_name",
    "responsible_nurse_id",
    "responsible_nurse_name",
    "occurred_at",
    "admitted_at",
    "serial_no",
    "age",
    "diagnosis_code",
    "diagnosis",
    "procedure_code",
    "procedure",
    "treatment_course",
    "discharge_outcome",
    "length_of_stay",
    "bed",
    "tags",
    "notes",
]

_STAGE = "crm_intake_rows"
# Column, type, whether an empty CSV field is NULL (else it is the empty string).
_STAGE_COLUMNS = [
    ("idx", "integer", True),
    ("key", "text", False),
    ("contact_id", "bigint", True),
    ("new_contact", "boolean", True),
    ("alone", "boolean", True),
    ("encounter_id", "bigint", True),
    ("created", "boolean", True),
    ("name", "text", False),
    ("name_index", "text", False),
    ("sex", "text", False),
    ("birth_date", "date", True),
    ("record_no", "text", False),
    ("email", "text", False),
    ("address", "text", False),
    ("phones", "text[]", False),
    ("phone_index", "text[]", False),
    ("phone_tail", "text[]", False),
    ("kind", "text", False),
    ("department_id", "bigint", True),
    ("attending_id", "bigint", True),
    ("attending_name", "text", False),
    ("responsible_nurse_id", "bigint", True),
    ("responsible_nurse_name", "text", False),
    ("occurred_at", "timestamptz", True),
    ("admitted_at", "date", True),
    ("serial_no", "text", False),
    ("age", "integer", True),
    ("diagnosis_code", "text", False),
    ("diagnosis", "text", False),
    ("procedure_code", "text", False),
    ("procedure", "text", False),
    ("treatment_course", "text", False),
    ("discharge_outcome", "text", False),
    ("length_of_stay", "integer", True),
    ("bed", "text", False),
    ("tags", "varchar(40)[]", False),
    ("notes", "text", False),
]
_COPY_SQL = (
    f"COPY {_STAGE} ({', '.join(c for c, _t, _n in _STAGE_COLUMNS)}) FROM STDIN WITH (FORMAT csv,"
    f" FORCE_NOT_NULL ({', '.join(c for c, _t, nullable in _STAGE_COLUMNS if not nullable)}))"
)


@dataclass
class IntakeResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    # Rows past the plan's monthly allowance of new encounters: index → message.
    refused: dict[int, str] = field(default_factory=dict)
    # index → (key, encounter id, outcome), for every row written or found unchanged.
    rows: dict[int, tuple[str, int, str]] = field(default_factory=dict)


def _array(items: list[str]) -> str:
    """A PostgreSQL array literal of text items (quoted, so commas and braces are data).
    Also how a long list of keys is passed to ``= ANY(%s::text[])``: PostgreSQL reads one
    literal in 2 ms where the ARRAY[…] of 10,000 parameters psycopg2 makes of a list costs
    12 ms to parse and plan."""
    if not items:
        return "{}"
    quoted = (i.replace("\\", "\\\\").replace('"', '\\"') for i in items)
    return '{"' + '","'.join(quoted) + '"}'


def _ref(index: int, v: dict) -> str:
    """Which rows of the batch are one new person when no stored contact is theirs: the same
    record number, else the same name with the same first phone; else the row alone."""
    if v["record_no"]:
        return "r:" + v["record_no"]
    if v["phones"]:
        return f"p:{v['phones'][0]}:{v['name']}"
    return f"n:{index}"


# The encrypted values the intake writes: of the contact, of the encounter.
_CONTACT_SECRETS = ("name", "address")
_ENCOUNTER_SECRETS = ("diagnosis", "procedure", "notes")


def _stored(cursor, table: str, ids, columns) -> dict[int, tuple]:
    """id → the stored (encrypted) values of ``columns``."""
    if not ids:
        return {}
    cursor.execute(
        f"SELECT id, {', '.join(columns)} FROM {table} WHERE id = ANY(%s::bigint[])",  # noqa: S608
        ["{" + ",".join(map(str, ids)) + "}"],  # one literal, as _array() says
    )
    return {pk: values for pk, *values in cursor.fetchall()}


def _seal(plain: str, stored: str | None, keys) -> str:
    """The ciphertext to write: the stored one when it holds the same text."""
    if not plain:
        return plain
    if stored and crypto.decrypt(stored, keys) == plain:
        return stored
    return crypto.encrypt(plain, keys)


def _stage(
    cursor, rows: list[tuple[int, dict]], resolved: dict[int, tuple], contact: str, encounter: str
) -> None:
    """COPY the rows with their resolution (contact id, new contact?, the new contact's only
    row?, encounter id, created?) into a temporary table, dropped at commit."""
    keys = crypto.ring()
    known_contacts = _stored(
        cursor, contact, {r[0] for r in resolved.values() if not r[1]}, _CONTACT_SECRETS
    )
    known_encounters = _stored(
        cursor, encounter, {r[3] for r in resolved.values() if not r[4]}, _ENCOUNTER_SECRETS
    )
    nothing = (None, None, None)
    buffer = io.StringIO()
    csv.writer(buffer).writerows(
        (
            index,
            v["key"],
            *resolved[index],
            *_contact_sealed(v, known_contacts.get(resolved[index][0], nothing), keys),
            v["kind"],
            v["department_id"],
            v["attending_id"],
            v["attending_name"],
            v.get("responsible_nurse_id"),  # optional: rows checked before the column existed
            v.get("responsible_nurse_name", ""),
            v["occurred_at"],
            v["admitted_at"],
            v["serial_no"],
            v["age"],
            *_encounter_sealed(v, known_encounters.get(resolved[index][3], nothing), keys),
            v["treatment_course"],
            v["discharge_outcome"],
            v["length_of_stay"],
            v["bed"],
            _array(v["tags"]),
            _seal(v["notes"], known_encounters.get(resolved[index][3], nothing)[2], keys),
        )
        for index, v in rows
    )
    buffer.seek(0)
    columns = ", ".join(f"{c} {t}" for c, t, _n in _STAGE_COLUMNS)
    with connection.cursor() as cursor:
        # Dropped first too, in case an enclosing transaction (a test, a caller's atomic
        # block) still holds the one of an earlier call.
        cursor.execute(
            f"DROP TABLE IF EXISTS pg_temp.{_STAGE};"
            f" CREATE TEMPORARY TABLE {_STAGE} ({columns}) ON COMMIT DROP"
        )
        with connection.wrap_database_errors:  # psycopg2's own errors as Django's
            cursor.cursor.copy_expert(_COPY_SQL, buffer)


def _contact_sealed(v: dict, stored: tuple, keys) -> tuple:
    """name, name index, sex, birth date, record no, email, address, the phones (encrypted,
    their indexes, their last-four indexes) of a staged row."""
    phones = v["phones"]
    return (
        _seal(v["name"], stored[0], keys),
        crypto.blind_name(v["name"], keys),
        v["sex"],
        v["birth_date"],
        v["record_no"],
        v["email"],
        _seal(v["address"], stored[1], keys),
        _array([crypto.encrypt(n, keys) for n in phones]),
        _array([crypto.blind_phone(n, keys) for n in phones]),
        _array([crypto.blind_tail(n, keys) for n in phones]),
    )


def _encounter_sealed(v: dict, stored: tuple, keys) -> tuple:
    """diagnosis code, diagnosis, procedure code, procedure of a staged row."""
    return (
        v["diagnosis_code"],
        _seal(v["diagnosis"], stored[0], keys),
        v["procedure_code"],
        _seal(v["procedure"], stored[1], keys),
    )


def encounters_intake(*, source: str, rows: list[tuple[int, dict]]) -> IntakeResult:
    """Write checked rows (index, values as crm.registers.row_check returns them; keys unique
    among the rows) in the caller's transaction, and queue the planning of the encounters
    created or changed once it commits. New encounters past the plan's monthly allowance
    are refused, writing nothing."""
    result = IntakeResult()
    if not rows:
        return result
    now = clock.now()
    tenant = connection.tenant
    encounter, contact, phone = (
        Encounter._meta.db_table,
        Contact._meta.db_table,
        ContactPhone._meta.db_table,
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT external_id, id, contact_id FROM {encounter}"  # noqa: S608
            " WHERE source = %s AND external_id = ANY(%s::text[]) AND NOT (external_id = '')",
            [source, _array([v["key"] for _i, v in rows])],
        )
        existing = {key: (pk, contact_id) for key, pk, contact_id in cursor.fetchall()}
        # The plan's monthly allowance of new encounters: the new rows past it are refused.
        # Reserving locks the tenant's meter until commit; on a plan without a limit nothing
        # can be refused, so the new encounters are counted last and concurrent pushes of
        # one tenant hold the lock only for the increment and commit (a plan changed during
        # the call applies from the next one).
        new = [index for index, v in rows if v["key"] not in existing]
        unlimited = entitlements.usage_left(tenant, "encounters") is None
        if not unlimited:
            granted = entitlements.usage_reserve(tenant, "encounters", len(new))
            if granted < len(new):
                message = entitlements.encounter_limit_error(tenant).messages[0]
                result.refused = dict.fromkeys(new[granted:], message)
                rows = [(index, v) for index, v in rows if index not in result.refused]
        resolved = _contacts_resolve(cursor, rows, existing, contact, phone, encounter)
        _stage(cursor, rows, resolved, contact, encounter)

        changed = _contacts_write(cursor, contact, now)
        changed |= _phones_write(cursor, phone)
        updated = _encounters_write(cursor, encounter, source, now)
        cursor.execute(f"DROP TABLE {_STAGE}")
        if unlimited:
            # The deferred foreign keys are checked now, before the meter's lock is taken:
            # concurrent pushes then wait for each other only for the increment, not for the
            # ~30,000 checks of a 10,000-row batch at commit.
            connection.check_constraints()
            entitlements.usage_reserve(tenant, "encounters", len(new))

    written = []
    for index, v in rows:
        contact_id, new_contact, _alone, encounter_id, created = resolved[index]
        if created:
            outcome = "created"
        elif index in updated:
            outcome = "updated"
        else:
            # The same encounter, its contact changed (details, a new phone): updated, as
            # the import always counted it.
            outcome = "updated" if contact_id in changed else "unchanged"
        result.rows[index] = (v["key"], encounter_id, outcome)
        setattr(result, outcome, getattr(result, outcome) + 1)
        if created or index in updated:
            written.append(
                EncounterWritten(
                    encounter_id=encounter_id,
                    contact_id=contact_id,
                    kind=v["kind"],
                    discharge_outcome=v["discharge_outcome"],
                    new_contact=new_contact,
                )
            )
    encounters_cascade(written, now=now)
    # A new phone or changed details can make excluded follow-ups workable: re-plan those too.
    encounters_plan_later(
        encounter_id
        for _key, encounter_id, outcome in result.rows.values()
        if outcome in ("created", "updated")
    )
    return result


def _ids_take(cursor, table: str, n: int) -> list[int]:
    """``n`` new primary keys of ``table``, so the inserts need not return them."""
    if not n:
        return []
    # The sequence is looked up first: pg_get_serial_sequence() in the series' select list
    # is evaluated for every row (45 ms for 20,000 ids instead of 5).
    cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
    (sequence,) = cursor.fetchone()
    cursor.execute("SELECT nextval(%s::regclass) FROM generate_series(1, %s)", [sequence, n])
    return [pk for (pk,) in cursor.fetchall()]


def _contacts_resolve(cursor, rows, existing, contact, phone, encounter) -> dict[int, tuple]:
    """Row index → (contact id, new contact?, the new contact's only row?, encounter id, new
    encounter?). Contacts are found as the import always found them: the encounter's
    contact, else the one with the same record number, else the first with the same name
    and one of the phones; else a new one, shared by the rows with the same ``_ref``."""
    unknown = [(index, v) for index, v in rows if v["key"] not in existing]
    records = list({v["record_no"] for _i, v in unknown if v["record_no"]})
    by_record = {}
    if records:
        cursor.execute(
            f"SELECT record_no, id FROM {contact}"  # noqa: S608
            " WHERE record_no = ANY(%s::text[]) AND NOT (record_no = '')",
            [_array(records)],
        )
        by_record = dict(cursor.fetchall())
    by_phone: dict[tuple[str, str], int] = {}  # (number index, name index) → contact
    numbers: dict[str, str] = {}
    names: dict[str, str] = {}
    named = [(i, v) for i, v in unknown if not v["record_no"] and v["phones"]]
    if named:
        # On the blind indexes: the numbers and names themselves are encrypted.
        keys = crypto.ring()
        numbers = {n: crypto.blind_phone(n, keys) for _i, v in named for n in v["phones"]}
        names = {v["name"]: crypto.blind_name(v["name"], keys) for _i, v in named}
        cursor.execute(
            f"SELECT p.number_index, c.name_index, min(c.id) FROM {phone} p"  # noqa: S608
            f" JOIN {contact} c ON c.id = p.contact_id"
            " WHERE p.number_index = ANY(%s::text[]) AND c.name_index = ANY(%s::text[])"
            " GROUP BY p.number_index, c.name_index",
            [_array(list(set(numbers.values()))), _array(list(set(names.values())))],
        )
        by_phone = {(number, name): pk for number, name, pk in cursor.fetchall()}

    contact_of: dict[int, int | str] = {}
    refs: dict[str, int] = {}  # new contact → its number of rows
    for index, v in unknown:
        found = by_record.get(v["record_no"]) if v["record_no"] else None
        if found is None and not v["record_no"] and v["phones"]:
            pairs = ((numbers[n], names[v["name"]]) for n in v["phones"])
            found = min((by_phone[p] for p in pairs if p in by_phone), default=None)
        if found is None:
            found = _ref(index, v)
            refs[found] = refs.get(found, 0) + 1
        contact_of[index] = found
    new_contact = dict(zip(refs, _ids_take(cursor, contact, len(refs)), strict=True))
    new_encounter = iter(_ids_take(cursor, encounter, len(unknown)))
    resolved = {}
    for index, v in rows:
        known = existing.get(v["key"])
        if known is not None:
            resolved[index] = (known[1], False, False, known[0], False)
            continue
        ref = contact_of[index]
        if isinstance(ref, str):
            resolved[index] = (new_contact[ref], True, refs[ref] == 1, next(new_encounter), True)
        else:
            resolved[index] = (ref, False, False, next(new_encounter), True)
    return resolved


def _last_given(column: str, empty: str = "''") -> str:
    """The value of the batch's last row that gives one (an empty value keeps the stored one)."""
    missing = "IS NOT NULL" if empty == "NULL" else f"<> {empty}"
    return f"(array_agg({column} ORDER BY idx DESC) FILTER (WHERE {column} {missing}))[1]"


def _contacts_write(cursor, contact: str, now) -> set[int]:
    """Insert the new contacts and update the known ones whose details the rows change.
    Returns the ids of the known contacts that changed."""
    # Most new contacts have one row (one discharge each): taken as they are, without the
    # grouping that merges the details of a contact's several rows.
    cursor.execute(
        f"INSERT INTO {contact} (id, name, name_index, sex, birth_date, record_no, email,"  # noqa: S608
        " address, language, do_not_contact, do_not_contact_reason, deceased, notes,"
        " created_at, updated_at)"
        " SELECT contact_id, name, name_index, sex, birth_date, record_no, email, address, '',"
        f" false, '', false, '', %s, %s FROM {_STAGE} WHERE alone"
        f" UNION ALL SELECT contact_id, coalesce({_last_given('name')}, ''),"
        f" coalesce({_last_given('name_index')}, ''),"
        f" coalesce({_last_given('sex')}, ''), {_last_given('birth_date', 'NULL')},"
        f" max(record_no), coalesce({_last_given('email')}, ''),"
        f" coalesce({_last_given('address')}, ''), '', false, '', false, '', %s, %s"
        f" FROM {_STAGE} WHERE new_contact AND NOT alone GROUP BY contact_id",
        [now, now, now, now],
    )
    # A known contact without a record number takes the first one a row gives it that no
    # other contact (stored, or new in this batch) has: greedy in row order, as rows are read.
    cursor.execute(
        f"SELECT r.contact_id, r.record_no FROM {_STAGE} r JOIN {contact} c"  # noqa: S608
        " ON c.id = r.contact_id WHERE NOT r.new_contact AND r.record_no <> ''"
        " AND c.record_no = '' ORDER BY r.idx"
    )
    claims = cursor.fetchall()
    record_of: dict[int, str] = {}
    if claims:
        cursor.execute(
            f"SELECT record_no FROM {contact} WHERE record_no = ANY(%s::text[])",  # noqa: S608
            [_array(list({r for _c, r in claims}))],
        )
        taken = {r for (r,) in cursor.fetchall()}
        for contact_id, record_no in claims:
            if contact_id not in record_of and record_no not in taken:
                record_of[contact_id] = record_no
                taken.add(record_no)
    cursor.execute(
        f"WITH given AS (SELECT contact_id, {_last_given('name')} AS name,"  # noqa: S608
        f" {_last_given('name_index')} AS name_index,"
        f" {_last_given('sex')} AS sex, {_last_given('birth_date', 'NULL')} AS birth_date,"
        f" {_last_given('email')} AS email, {_last_given('address')} AS address"
        f" FROM {_STAGE} WHERE NOT new_contact GROUP BY contact_id),"
        " claimed AS (SELECT * FROM unnest(%s::bigint[], %s::text[]) AS t(contact_id, record_no)),"
        " wanted AS (SELECT g.contact_id, g.name, g.name_index, g.sex, g.birth_date, g.email,"
        " g.address, claimed.record_no FROM given g LEFT JOIN claimed USING (contact_id))"
        f" UPDATE {contact} c SET name = coalesce(w.name, c.name),"
        " name_index = coalesce(w.name_index, c.name_index), sex = coalesce(w.sex, c.sex),"
        " birth_date = coalesce(w.birth_date, c.birth_date),"
        " email = coalesce(w.email, c.email), address = coalesce(w.address, c.address),"
        " record_no = coalesce(w.record_no, c.record_no), updated_at = %s"
        " FROM wanted w WHERE c.id = w.contact_id AND ("
        " c.name IS DISTINCT FROM coalesce(w.name, c.name)"
        " OR c.sex IS DISTINCT FROM coalesce(w.sex, c.sex)"
        " OR c.birth_date IS DISTINCT FROM coalesce(w.birth_date, c.birth_date)"
        " OR c.email IS DISTINCT FROM coalesce(w.email, c.email)"
        " OR c.address IS DISTINCT FROM coalesce(w.address, c.address)"
        " OR w.record_no IS NOT NULL) RETURNING c.id",
        [list(record_of), list(record_of.values()), now],
    )
    return {contact_id for (contact_id,) in cursor.fetchall()}


def _phones_write(cursor, phone: str) -> set[int]:
    """Add the rows' numbers their contacts do not have yet, after the ones they have, in
    row order. Returns the known contacts that got a number."""
    # A new contact's only row: its numbers as they are (a row's numbers are distinct).
    phones = (
        "unnest(r.phones, r.phone_index, r.phone_tail) WITH ORDINALITY"
        " AS p(number, number_index, tail_index, ord)"
    )
    cursor.execute(
        f"INSERT INTO {phone} (contact_id, number, number_index, tail_index, label, position,"  # noqa: S608
        " invalid) SELECT r.contact_id, p.number, p.number_index, p.tail_index, %s,"
        f" p.ord - 1, false FROM {_STAGE} r, {phones} WHERE r.alone",
        [ContactPhone.Label.MOBILE.value],
    )
    cursor.execute(
        "WITH given AS (SELECT DISTINCT ON (r.contact_id, p.number_index) r.contact_id,"  # noqa: S608
        " r.new_contact, p.number, p.number_index, p.tail_index, r.idx, p.ord"
        f" FROM {_STAGE} r, {phones}"
        " WHERE NOT r.alone ORDER BY r.contact_id, p.number_index, r.idx, p.ord),"
        " missing AS (SELECT g.* FROM given g WHERE g.new_contact OR NOT EXISTS ("
        f" SELECT 1 FROM {phone} cp WHERE cp.contact_id = g.contact_id"
        " AND cp.number_index = g.number_index))"
        f" INSERT INTO {phone} (contact_id, number, number_index, tail_index, label, position,"
        " invalid) SELECT m.contact_id, m.number, m.number_index, m.tail_index, %s,"
        " row_number() OVER (PARTITION BY m.contact_id ORDER BY m.idx, m.ord) - 1"
        " + CASE WHEN m.new_contact THEN 0"
        f" ELSE (SELECT count(*) FROM {phone} cp WHERE cp.contact_id = m.contact_id) END, false"
        " FROM missing m ON CONFLICT (contact_id, number_index) DO NOTHING"
        " RETURNING contact_id",
        [ContactPhone.Label.MOBILE.value],
    )
    return {contact_id for (contact_id,) in cursor.fetchall()}


def _encounters_write(cursor, encounter: str, source: str, now) -> set[int]:
    """Insert the new encounters and update those whose values differ; returns the indexes
    of the rows updated. Two concurrent pushes of the same new discharge: the second fails
    on the unique constraint and writes nothing (the API answers 409, send again; the
    import splits the chunk and finds the row known)."""
    fields = ", ".join(ENCOUNTER_FIELDS)
    cursor.execute(
        f"INSERT INTO {encounter} (id, contact_id, source, external_id, {fields}, created_at,"  # noqa: S608
        f" updated_at) SELECT encounter_id, contact_id, %s, key, {fields}, %s, %s"
        f" FROM {_STAGE} WHERE created",
        [source, now, now],
    )
    cursor.execute(
        f"UPDATE {encounter} e SET {', '.join(f'{f} = r.{f}' for f in ENCOUNTER_FIELDS)},"  # noqa: S608
        f" updated_at = %s FROM {_STAGE} r WHERE NOT r.created AND e.id = r.encounter_id"
        f" AND ({', '.join(f'r.{f}' for f in ENCOUNTER_FIELDS)}) IS DISTINCT FROM"
        f" ({', '.join(f'e.{f}' for f in ENCOUNTER_FIELDS)}) RETURNING r.idx",
        [now],
    )
    return {index for (index,) in cursor.fetchall()}

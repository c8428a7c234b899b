"""Writing checked encounter rows (with their contacts and phones) set-based: the accepted
rows are COPYed into a temporary staging table, and contact resolution, the contact, phone
and encounter upserts and the outcome of each row are a handful of SQL statements over it,
whatever the number of rows. Shared by the integration API's bulk call and the CSV/XLSX
import, so both find the same contacts and count created/updated/unchanged the same way.

Rows are identified by (source, key): sending the same rows again writes nothing and counts
them unchanged."""

import csv
import io
from dataclasses import dataclass, field

from django.db import connection
from django.utils import timezone

from billing import entitlements

from ..models import Contact, ContactPhone, Encounter, FollowUpTask
from .planning import encounters_plan_later, tasks_cancel

ENCOUNTER_FIELDS = [
    "kind",
    "department_id",
    "attending_id",
    "attending_name",
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
    ("ref", "text", False),
    ("name", "text", False),
    ("sex", "text", False),
    ("birth_date", "date", True),
    ("record_no", "text", False),
    ("email", "text", False),
    ("address", "text", False),
    ("phones", "text[]", False),
    ("kind", "text", False),
    ("department_id", "bigint", True),
    ("attending_id", "bigint", True),
    ("attending_name", "text", False),
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
    """A PostgreSQL array literal of text items (quoted, so commas and braces are data)."""
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


def _stage(rows: list[tuple[int, dict]]) -> None:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(
        (
            index,
            v["key"],
            _ref(index, v),
            v["name"],
            v["sex"],
            v["birth_date"],
            v["record_no"],
            v["email"],
            v["address"],
            "{" + ",".join(v["phones"]) + "}",  # E.164: digits and a plus sign only
            v["kind"],
            v["department_id"],
            v["attending_id"],
            v["attending_name"],
            v["occurred_at"],
            v["admitted_at"],
            v["serial_no"],
            v["age"],
            v["diagnosis_code"],
            v["diagnosis"],
            v["procedure_code"],
            v["procedure"],
            v["treatment_course"],
            v["discharge_outcome"],
            v["length_of_stay"],
            v["bed"],
            _array(v["tags"]),
            v["notes"],
        )
        for index, v in rows
    )
    buffer.seek(0)
    columns = ", ".join(f"{c} {t}" for c, t, _n in _STAGE_COLUMNS)
    with connection.cursor() as cursor:
        # Dropped at commit; dropped first too, in case an enclosing transaction (a test, a
        # caller's atomic block) still holds the one of an earlier call.
        cursor.execute(
            f"DROP TABLE IF EXISTS pg_temp.{_STAGE};"
            f" CREATE TEMPORARY TABLE {_STAGE} ({columns}, encounter_id bigint,"
            " contact_id bigint, new_contact boolean NOT NULL DEFAULT false, outcome text,"
            " write boolean NOT NULL DEFAULT false) ON COMMIT DROP"
        )
        with connection.wrap_database_errors:  # psycopg2's own errors as Django's
            cursor.cursor.copy_expert(_COPY_SQL, buffer)


def encounters_intake(*, source: str, rows: list[tuple[int, dict]]) -> IntakeResult:
    """Write checked rows (index, values as crm.importing.row_check returns them; keys unique
    among the rows) in the caller's transaction, and queue the planning of the encounters
    created or changed once it commits. New encounters past the plan's monthly allowance
    are refused, writing nothing."""
    result = IntakeResult()
    if not rows:
        return result
    now = timezone.now()
    tenant = connection.tenant
    encounter, contact, phone = (
        Encounter._meta.db_table,
        Contact._meta.db_table,
        ContactPhone._meta.db_table,
    )
    _stage(rows)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {_STAGE} r SET encounter_id = e.id, contact_id = e.contact_id"  # noqa: S608
            f" FROM {encounter} e WHERE e.source = %s AND e.external_id = r.key"
            " AND NOT (e.external_id = '')",
            [source],
        )
        # The plan's monthly allowance of new encounters: the new rows past it are refused.
        cursor.execute(f"SELECT idx FROM {_STAGE} WHERE encounter_id IS NULL ORDER BY idx")  # noqa: S608
        new = [i for (i,) in cursor.fetchall()]
        granted = entitlements.usage_reserve(tenant, "encounters", len(new))
        if granted < len(new):
            message = entitlements.encounter_limit_error(tenant).messages[0]
            result.refused = dict.fromkeys(new[granted:], message)
            cursor.execute(f"DELETE FROM {_STAGE} WHERE idx = ANY(%s)", [new[granted:]])  # noqa: S608

        _contacts_resolve(cursor, contact, phone, encounter)
        changed = _contacts_write(cursor, contact, now)
        changed |= _phones_write(cursor, phone)
        _encounters_write(cursor, encounter, source, now)

        # A row whose encounter is the same but whose contact changed (details, a new phone)
        # counts as updated, as the import always counted it.
        cursor.execute(
            f"SELECT idx, key, encounter_id, coalesce(outcome, CASE WHEN contact_id = ANY(%s)"  # noqa: S608
            " THEN 'updated' ELSE 'unchanged' END), write, contact_id, kind, discharge_outcome"
            f" FROM {_STAGE}",
            [list(changed)],
        )
        written = []
        for index, key, encounter_id, outcome, write, *cascade in cursor.fetchall():
            result.rows[index] = (key, encounter_id, outcome)
            setattr(result, outcome, getattr(result, outcome) + 1)
            if write:
                written.append((cascade[0], encounter_id, *cascade[1:]))
        _cascade(written, now)
        cursor.execute(f"DROP TABLE {_STAGE}")
    # A new phone or changed details can make excluded follow-ups workable: re-plan those too.
    encounters_plan_later(
        encounter_id
        for _key, encounter_id, outcome in result.rows.values()
        if outcome in ("created", "updated")
    )
    return result


def _contacts_resolve(cursor, contact: str, phone: str, encounter: str) -> None:
    """Each row's contact, found as the import always found them: the encounter's contact,
    else the one with the same record number, else the first with the same name and one of
    the phones; else a new one, shared by the rows with the same ``ref``."""
    cursor.execute(
        f"UPDATE {_STAGE} r SET contact_id = c.id FROM {contact} c"  # noqa: S608
        " WHERE r.contact_id IS NULL AND r.record_no <> '' AND c.record_no = r.record_no"
        " AND NOT (c.record_no = '')"
    )
    cursor.execute(
        f"UPDATE {_STAGE} r SET contact_id = found.contact_id FROM ("  # noqa: S608
        f" SELECT s.idx, min(c.id) AS contact_id FROM {_STAGE} s"
        f" JOIN {phone} p ON p.number = ANY(s.phones)"
        f" JOIN {contact} c ON c.id = p.contact_id AND c.name = s.name"
        " WHERE s.contact_id IS NULL AND s.record_no = '' GROUP BY s.idx"
        ") found WHERE r.idx = found.idx"
    )
    # New contacts and new encounters get their ids here, so that the inserts below need
    # not return them.
    cursor.execute(
        f"WITH refs AS (SELECT ref, nextval(pg_get_serial_sequence('{contact}', 'id')) AS id"  # noqa: S608
        f" FROM (SELECT DISTINCT ref FROM {_STAGE} WHERE contact_id IS NULL) AS r),"
        f" new AS (SELECT s.idx, refs.id FROM {_STAGE} s LEFT JOIN refs"
        " ON s.contact_id IS NULL AND refs.ref = s.ref WHERE s.encounter_id IS NULL)"
        f" UPDATE {_STAGE} r SET new_contact = new.id IS NOT NULL,"
        " contact_id = coalesce(r.contact_id, new.id),"
        f" encounter_id = nextval(pg_get_serial_sequence('{encounter}', 'id')),"
        " outcome = 'created', write = true FROM new WHERE r.idx = new.idx"
    )


def _last_given(column: str, empty: str = "''") -> str:
    """The value of the batch's last row that gives one (an empty value keeps the stored one)."""
    missing = "IS NOT NULL" if empty == "NULL" else f"<> {empty}"
    return f"(array_agg({column} ORDER BY idx DESC) FILTER (WHERE {column} {missing}))[1]"


def _contacts_write(cursor, contact: str, now) -> set[int]:
    """Insert the new contacts and update the known ones whose details the rows change.
    Returns the ids of the known contacts that changed."""
    cursor.execute(
        f"INSERT INTO {contact} (id, name, sex, birth_date, record_no, email, address,"  # noqa: S608
        " language, do_not_contact, do_not_contact_reason, deceased, notes, created_at,"
        " updated_at)"
        f" SELECT contact_id, coalesce({_last_given('name')}, ''),"
        f" coalesce({_last_given('sex')}, ''), {_last_given('birth_date', 'NULL')},"
        f" max(record_no), coalesce({_last_given('email')}, ''),"
        f" coalesce({_last_given('address')}, ''), '', false, '', false, '', %s, %s"
        f" FROM {_STAGE} WHERE new_contact GROUP BY contact_id",
        [now, now],
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
            f"SELECT record_no FROM {contact} WHERE record_no = ANY(%s)",  # noqa: S608
            [list({r for _c, r in claims})],
        )
        taken = {r for (r,) in cursor.fetchall()}
        for contact_id, record_no in claims:
            if contact_id not in record_of and record_no not in taken:
                record_of[contact_id] = record_no
                taken.add(record_no)
    cursor.execute(
        f"WITH given AS (SELECT contact_id, {_last_given('name')} AS name,"  # noqa: S608
        f" {_last_given('sex')} AS sex, {_last_given('birth_date', 'NULL')} AS birth_date,"
        f" {_last_given('email')} AS email, {_last_given('address')} AS address"
        f" FROM {_STAGE} WHERE NOT new_contact GROUP BY contact_id),"
        " claimed AS (SELECT * FROM unnest(%s::bigint[], %s::text[]) AS t(contact_id, record_no)),"
        " wanted AS (SELECT g.contact_id, g.name, g.sex, g.birth_date, g.email, g.address,"
        " claimed.record_no FROM given g LEFT JOIN claimed USING (contact_id))"
        f" UPDATE {contact} c SET name = coalesce(w.name, c.name), sex = coalesce(w.sex, c.sex),"
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
    cursor.execute(
        f"WITH given AS (SELECT DISTINCT ON (r.contact_id, p.number) r.contact_id,"  # noqa: S608
        " r.new_contact, p.number, r.idx, p.ord"
        f" FROM {_STAGE} r, unnest(r.phones) WITH ORDINALITY AS p(number, ord)"
        " ORDER BY r.contact_id, p.number, r.idx, p.ord),"
        " missing AS (SELECT g.* FROM given g WHERE g.new_contact OR NOT EXISTS ("
        f" SELECT 1 FROM {phone} cp WHERE cp.contact_id = g.contact_id AND cp.number = g.number))"
        f" INSERT INTO {phone} (contact_id, number, label, position, invalid)"
        " SELECT m.contact_id, m.number, %s, row_number() OVER ("
        " PARTITION BY m.contact_id ORDER BY m.idx, m.ord) - 1 + CASE WHEN m.new_contact THEN 0"
        f" ELSE (SELECT count(*) FROM {phone} cp WHERE cp.contact_id = m.contact_id) END, false"
        " FROM missing m ON CONFLICT (contact_id, number) DO NOTHING"
        " RETURNING contact_id",
        [ContactPhone.Label.MOBILE.value],
    )
    return {contact_id for (contact_id,) in cursor.fetchall()}


def _encounters_write(cursor, encounter: str, source: str, now) -> None:
    """Insert the new encounters and update those whose values differ. Two concurrent
    pushes of the same new discharge: the second fails on the unique constraint and writes
    nothing (the API answers 409, send again; the import retries its rows one by one)."""
    fields = ", ".join(ENCOUNTER_FIELDS)
    cursor.execute(
        f"UPDATE {_STAGE} r SET write = true, outcome = 'updated' FROM {encounter} e"  # noqa: S608
        " WHERE e.id = r.encounter_id AND r.outcome IS NULL"
        f" AND ({', '.join(f'r.{f}' for f in ENCOUNTER_FIELDS)}) IS DISTINCT FROM"
        f" ({', '.join(f'e.{f}' for f in ENCOUNTER_FIELDS)});"
        f" INSERT INTO {encounter} (id, contact_id, source, external_id, {fields}, created_at,"
        f" updated_at) SELECT encounter_id, contact_id, %s, key, {fields}, %s, %s"
        f" FROM {_STAGE} WHERE outcome = 'created' ORDER BY idx;"
        f" UPDATE {encounter} e SET {', '.join(f'{f} = r.{f}' for f in ENCOUNTER_FIELDS)},"
        f" updated_at = %s FROM {_STAGE} r WHERE r.outcome = 'updated' AND e.id = r.encounter_id",
        [source, now, now, now],
    )


def _cascade(written: list[tuple[int, int, str, str]], now) -> None:
    """What crm.services.planning.encounter_cascade does for one encounter, for the whole
    batch at once: a death closes the contact's open follow-ups, a later discharge (a
    readmission) cancels those of earlier stays."""
    died = {c for c, _e, _kind, outcome in written if outcome == Encounter.Outcome.DIED}
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
        e for c, e, kind, _o in written if kind == Encounter.Kind.DISCHARGE and c not in died
    ]
    if not discharges:
        return
    task, encounter = FollowUpTask._meta.db_table, Encounter._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            # The open tasks of the contact's discharges earlier than one of the batch's.
            f"SELECT DISTINCT t.id FROM {encounter} n"  # noqa: S608
            f" JOIN {task} t ON t.contact_id = n.contact_id"
            f" JOIN {encounter} e ON e.id = t.encounter_id"
            " WHERE n.id = ANY(%s) AND e.kind = %s AND e.occurred_at < n.occurred_at"
            " AND t.status = ANY(%s)",
            [discharges, Encounter.Kind.DISCHARGE, list(FollowUpTask.OPEN)],
        )
        earlier = [pk for (pk,) in cursor.fetchall()]
    if earlier:
        tasks_cancel(
            FollowUpTask.objects.filter(pk__in=earlier),
            reason=FollowUpTask.Reason.READMITTED,
            now=now,
        )

"""Keeping crm_encounterkpi exact (see crm.models.kpi): the refresh that recomputes the
encounters the triggers of migration 0012 marked stale, a full rebuild and a verification
against a full recomputation. The KPI facts are defined here once (FACTS): the facts query,
the summary's columns, the figures' aggregate and the trigger bodies are generated from
them; crm.reporting.figures.followup reuses the facts query for the figures the summary
does not hold (per rule, tier or agent)."""

from dataclasses import dataclass

from django.db import connection, transaction

# The one source of the KPI facts (DESIGN.md §7). Each fact of an encounter is a column of
# crm_encounterkpi: how it is computed over the encounter's follow-ups `t`, and how a figure
# adds it up over many encounters. From this table come the facts query below, the summary's
# columns, the figures' aggregate (AGGREGATE_SQL) and the bodies of the triggers that mark an
# encounter stale (stale_functions(), over TASK_COLUMNS: tests hold them to exactly the
# follow-up columns the facts read). Migration 0012 installed those triggers and is history:
# tests/crm/test_kpi_summary.py holds the installed bodies equal to stale_functions(), so a
# fact that needs other triggers fails there until a new migration installs them.


@dataclass(frozen=True)
class Fact:
    name: str  # the column of crm_encounterkpi
    of_followups: str  # SQL over the encounter's follow-ups `t`
    added_up: str  # SQL over many encounters' facts: how a figure counts it


FACTS = (
    Fact("attempted", "bool_or(t.attempts_count > 0)", "count(*) FILTER (WHERE attempted)"),
    Fact("reached", "bool_or(t.status = 'completed')", "count(*) FILTER (WHERE reached)"),
    Fact("lost", "bool_and(t.status = 'unreachable')", "count(*) FILTER (WHERE lost)"),
    Fact("completed", "count(*) FILTER (WHERE t.status = 'completed')", "sum(completed)"),
    Fact(
        "in_window",
        "count(*) FILTER (WHERE t.status = 'completed' AND t.reached_in_window)",
        "sum(in_window)",
    ),
    Fact(
        "transferred",
        "bool_or(t.last_outcome = 'transferred_elsewhere')",
        "count(*) FILTER (WHERE transferred)",
    ),
    Fact(
        "readmitted",
        "bool_or(t.reason = 'readmitted' OR t.last_outcome = 'readmitted')",
        "count(*) FILTER (WHERE readmitted)",
    ),
)

# The facts of each eligible encounter (a follow-up that is neither excluded nor a spot
# check), per encounter and `task_key` (a rule or tier when only its follow-ups count).
# `last` is the category and agent of the last attempt, looked up where it is needed. Never
# attempted for want of a number or address is "no_contact", not "never_attempted": the
# regulations want that reason written down (电话不详). `assignee_id` serves the figures per
# agent only, which never come from the summary.
FACTS_SQL = (
    """
encounter AS (
    SELECT t.encounter_id, {task_key} AS task_key, e.occurred_at, e.department_id,
"""  # noqa: S608
    + "".join(f"           {fact.of_followups} AS {fact.name},\n" for fact in FACTS)
    + """           bool_or(t.reason = 'no_contact') AS no_contact,
           (array_agg(t.assignee_id ORDER BY t.due_at, t.id)
                FILTER (WHERE t.assignee_id IS NOT NULL))[1] AS assignee_id,
           array_agg(t.id) AS task_ids
    FROM crm_followuptask t JOIN crm_encounter e ON e.id = t.encounter_id
    WHERE {where} AND t.spot_check_of_id IS NULL AND t.status <> 'excluded'
    GROUP BY t.encounter_id, 2, e.occurred_at, e.department_id
), facts AS (
    SELECT encounter.*, last.agent_id,
           CASE WHEN reached THEN ''
                WHEN last.category IS NOT NULL THEN last.category
                WHEN no_contact THEN 'no_contact'
                ELSE 'never_attempted' END AS last_category
    FROM encounter LEFT JOIN LATERAL (
        SELECT a.category, a.agent_id FROM crm_callattempt a
        WHERE {need_last} AND a.task_id = ANY(encounter.task_ids)
        ORDER BY a.started_at DESC, a.id DESC LIMIT 1
    ) last ON true
)"""
)

COLUMNS = ", ".join(
    (
        "encounter_id",
        "occurred_at",
        "department_id",
        *(fact.name for fact in FACTS),
        "last_category",
    )
)

# What a figure reads of many encounters' facts (the summary's rows or the facts query), per
# `key` and the last attempt's category: the encounters, then each fact added up, in the
# order of ADDED_UP.
ADDED_UP = ("eligible", *(fact.name for fact in FACTS))
AGGREGATE_SQL = (
    "\nSELECT {key}, last_category, count(*), "
    + ", ".join(fact.added_up for fact in FACTS)
    + "\nFROM {source}\nGROUP BY 1, 2\n"
)

# The columns whose change makes an encounter's facts stale: those of a follow-up the facts
# read (its status apart: claims and releases, pending <-> in progress, change tasks all day
# and no fact), and the encounter's date and department. Any change to an attempt does.
TASK_COLUMNS = ("attempts_count", "reached_in_window", "last_outcome", "reason", "spot_check_of_id")
OPEN_STATUSES = ("pending", "in_progress")
ENCOUNTER_COLUMNS = ("occurred_at", "department_id")


def _task_row(alias: str) -> str:
    statuses = ", ".join(f"'{status}'" for status in OPEN_STATUSES)
    status = f"CASE WHEN {alias}.status IN ({statuses}) THEN 'open' ELSE {alias}.status END"
    return "(" + ", ".join([status, *(f"{alias}.{column}" for column in TASK_COLUMNS)]) + ")"


def _encounter_row(alias: str) -> str:
    return "(" + ", ".join(f"{alias}.{column}" for column in ENCOUNTER_COLUMNS) + ")"


def stale_functions() -> dict[str, str]:
    """The body of each trigger function that marks encounters stale, by function name (in
    schema public), as the facts above require it."""
    return {
        "crm_kpi_stale_tasks": f"""
BEGIN
    IF TG_OP = 'DELETE' THEN
        INSERT INTO crm_encounterkpistale (encounter_id)
        SELECT DISTINCT encounter_id FROM old_rows ON CONFLICT DO NOTHING;
    ELSIF TG_OP = 'INSERT' THEN
        INSERT INTO crm_encounterkpistale (encounter_id)
        SELECT DISTINCT encounter_id FROM new_rows ON CONFLICT DO NOTHING;
    ELSE
        INSERT INTO crm_encounterkpistale (encounter_id)
        SELECT DISTINCT n.encounter_id FROM new_rows n JOIN old_rows o ON o.id = n.id
        WHERE {_task_row("n")} IS DISTINCT FROM {_task_row("o")}
        ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END """,  # noqa: S608
        "crm_kpi_stale_attempts": """
BEGIN
    IF TG_OP = 'DELETE' THEN
        INSERT INTO crm_encounterkpistale (encounter_id)
        SELECT DISTINCT t.encounter_id FROM old_rows a JOIN crm_followuptask t ON t.id = a.task_id
        ON CONFLICT DO NOTHING;
    ELSE
        INSERT INTO crm_encounterkpistale (encounter_id)
        SELECT DISTINCT t.encounter_id FROM new_rows a JOIN crm_followuptask t ON t.id = a.task_id
        ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END """,
        "crm_kpi_stale_encounters": f"""
BEGIN
    INSERT INTO crm_encounterkpistale (encounter_id)
    SELECT n.id FROM new_rows n JOIN old_rows o ON o.id = n.id
    WHERE {_encounter_row("n")} IS DISTINCT FROM {_encounter_row("o")}
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END """,  # noqa: S608
    }


def stale_functions_installed() -> dict[str, str]:
    """The bodies of the same functions as the database has them (from pg_proc)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT p.proname, p.prosrc FROM pg_proc p"
            " JOIN pg_namespace n ON n.oid = p.pronamespace"
            " WHERE n.nspname = 'public' AND p.proname = ANY(%s)",
            [list(stale_functions())],
        )
        return dict(cursor.fetchall())


# Only constants are formatted into these statements.
_FACTS_OF = FACTS_SQL.format(
    task_key="NULL::int", where="t.encounter_id = ANY(%(ids)s)", need_last="NOT reached"
)
_FACTS_ALL = FACTS_SQL.format(task_key="NULL::int", where="true", need_last="NOT reached")
_RECOMPUTE_SQL = (
    f"WITH {_FACTS_OF} INSERT INTO crm_encounterkpi ({COLUMNS}) SELECT {COLUMNS} FROM facts"  # noqa: E501, S608
)
_VERIFY_SQL = f"""WITH {_FACTS_ALL}, expected AS (SELECT {COLUMNS} FROM facts)
SELECT (SELECT count(*) FROM expected),
       (SELECT count(*) FROM (SELECT * FROM expected
                              EXCEPT SELECT {COLUMNS} FROM crm_encounterkpi) missing),
       (SELECT count(*) FROM (SELECT {COLUMNS} FROM crm_encounterkpi
                              EXCEPT SELECT * FROM expected) extra)"""  # noqa: S608


def refresh() -> int:
    """Recompute the stale encounters' rows; returns how many. Safe to run concurrently:
    each stale mark is taken (deleted) by exactly one refresh, and a change committed while
    this one runs leaves a new mark for the next."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM crm_encounterkpistale RETURNING encounter_id")
        ids = [row[0] for row in cursor.fetchall()]
        if ids:
            cursor.execute("DELETE FROM crm_encounterkpi WHERE encounter_id = ANY(%s)", [ids])
            cursor.execute(_RECOMPUTE_SQL, {"ids": ids})
    return len(ids)


def rebuild() -> int:
    """Every encounter recomputed: after data was loaded around the triggers (TRUNCATE)."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("TRUNCATE crm_encounterkpi")
        cursor.execute(
            "INSERT INTO crm_encounterkpistale (encounter_id) SELECT id FROM crm_encounter"
            " ON CONFLICT DO NOTHING"
        )
    return refresh()


def verify() -> dict:
    """The summary against a full recomputation from the tasks and attempts, row by row:
    {"rows", "missing", "extra"} (rows that differ count once in each)."""
    refresh()
    with connection.cursor() as cursor:
        cursor.execute(_VERIFY_SQL)
        rows, missing, extra = cursor.fetchone()
    return {"rows": rows, "missing": missing, "extra": extra}

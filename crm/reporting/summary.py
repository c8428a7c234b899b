"""Keeping crm_encounterkpi exact (see crm.models.kpi): the refresh that recomputes the
encounters the triggers of migration 0012 marked stale, a full rebuild and a verification
against a full recomputation. The SQL of one encounter's facts is here once;
crm.reporting.figures.followup reuses it for the figures the summary does not hold (per
rule, tier or agent)."""

from django.db import connection, transaction

# The facts of each eligible encounter (a follow-up that is neither excluded nor a spot
# check), per encounter and `task_key` (a rule or tier when only its follow-ups count).
# `last` is the category and agent of the last attempt, looked up where it is needed. Never
# attempted for want of a number or address is "no_contact", not "never_attempted": the
# regulations want that reason written down (电话不详).
FACTS_SQL = """
encounter AS (
    SELECT t.encounter_id, {task_key} AS task_key, e.occurred_at, e.department_id,
           bool_or(t.attempts_count > 0) AS attempted,
           bool_or(t.status = 'completed') AS reached,
           bool_and(t.status = 'unreachable') AS lost,
           count(*) FILTER (WHERE t.status = 'completed') AS completed,
           count(*) FILTER (WHERE t.status = 'completed' AND t.reached_in_window) AS in_window,
           bool_or(t.last_outcome = 'transferred_elsewhere') AS transferred,
           bool_or(t.reason = 'readmitted' OR t.last_outcome = 'readmitted') AS readmitted,
           bool_or(t.reason = 'no_contact') AS no_contact,
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

COLUMNS = (
    "encounter_id, occurred_at, department_id, attempted, reached, lost, completed, in_window,"
    " transferred, readmitted, last_category"
)

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

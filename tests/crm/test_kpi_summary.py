"""The KPI facts have one source (crm.reporting.summary.FACTS): the summary table's columns,
the facts query, and the triggers of migration 0012 that mark an encounter stale must all
agree with it. Migration 0012 is history and is not edited: these tests hold the installed
trigger bodies equal to what the source generates, so a change to the facts that needs
another trigger fails here until a new migration installs it."""

import re

from crm.models import EncounterKpi
from crm.reporting import summary


def _normalised(body: str) -> str:
    """A plpgsql body without comments, with one space wherever there was any whitespace and
    none around brackets, commas and semicolons."""
    body = re.sub(r"--[^\n]*", "", body)
    body = re.sub(r"\s+", " ", body)
    return re.sub(r"\s*([(),;])\s*", r"\1", body).strip()


def test_the_installed_stale_triggers_are_those_the_facts_require(tenant_a, in_tenant):
    with in_tenant(tenant_a):
        installed = summary.stale_functions_installed()

    wanted = summary.stale_functions()
    assert sorted(installed) == sorted(wanted)
    for name, body in wanted.items():
        assert _normalised(installed[name]) == _normalised(body), name


def test_the_summary_table_holds_exactly_the_facts():
    columns = [field.column for field in EncounterKpi._meta.concrete_fields]

    assert summary.COLUMNS.split(", ") == columns


def test_every_follow_up_column_a_stored_fact_reads_is_watched_by_the_triggers():
    stored = summary.FACTS_SQL.format(task_key="NULL::int", where="true", need_last="NOT reached")
    read = set(re.findall(r"\bt\.(\w+)", stored))
    # Keys, and the first assignee, which only the figures per agent read (never stored).
    not_stored = {"id", "encounter_id", "assignee_id", "due_at"}

    assert read - not_stored == {"status", *summary.TASK_COLUMNS}
    assert set(re.findall(r"\be\.(\w+)", stored)) - {"id"} == set(summary.ENCOUNTER_COLUMNS)

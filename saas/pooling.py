"""Connection pooling that cannot leak one clinic's data into another's pages.

django-tenants sets ``search_path`` once per connection and clinic (TENANT_LIMIT_SET_CALLS):
the setting lives on the server connection. Behind PgBouncer in *session* mode (the default
in deploy/) a client keeps its server connection, so that is safe. In *transaction* mode the
next transaction may run on a server connection another client left with another clinic's
``search_path``, and read or write that clinic's tables. It is safe only when the pooler puts
each client's ``search_path`` back on whichever server connection it gets: PgBouncer 1.25.2
or newer with ``track_extra_parameters = search_path``, which works only when the server
reports ``search_path`` changes (PostgreSQL 18 or newer, or Citus).

So the product refuses to start when DATABASE_POOL_MODE says "transaction" unless the
pooler's admin console (DATABASE_POOLER_ADMIN_URL) shows all of that; and when the admin URL
is given, a pooler that runs in transaction mode while DATABASE_POOL_MODE says "session" is
refused too."""

import re
from dataclasses import dataclass

import psycopg2

PGBOUNCER_TRACKS_SEARCH_PATH = (1, 25, 2)
SERVER_REPORTS_SEARCH_PATH = 180000  # server_version_num of PostgreSQL 18


class UnsafePooling(Exception):
    pass


@dataclass(frozen=True)
class PoolerFacts:
    version: tuple[int, ...]
    pool_mode: str
    tracked: frozenset[str]  # track_extra_parameters


def pooler_facts(admin_url: str) -> PoolerFacts:
    """Read PgBouncer's version and settings from its admin console (the ``pgbouncer``
    database; the user must be in admin_users or stats_users)."""
    connection = psycopg2.connect(admin_url, connect_timeout=5)
    connection.autocommit = True  # the admin console accepts no transactions
    try:
        with connection.cursor() as cursor:
            cursor.execute("SHOW VERSION")
            text = " ".join(str(cell) for cell in cursor.fetchone())
            cursor.execute("SHOW CONFIG")
            columns = [column.name for column in cursor.description]
            config = {row[0]: row[columns.index("value")] for row in cursor.fetchall()}
    finally:
        connection.close()
    found = re.search(r"(\d+)\.(\d+)\.(\d+)", text)
    version = tuple(int(part) for part in found.groups()) if found else (0,)
    tracked = frozenset(
        name.strip().lower()
        for name in config.get("track_extra_parameters", "").split(",")
        if name.strip()
    )
    return PoolerFacts(version=version, pool_mode=config.get("pool_mode", ""), tracked=tracked)


def server_version(database: dict) -> int:
    """The server's version as the pooler passes it on, from Django's DATABASES entry."""
    connection = psycopg2.connect(
        dbname=database["NAME"],
        user=database.get("USER") or None,
        password=database.get("PASSWORD") or None,
        host=database.get("HOST") or None,
        port=database.get("PORT") or None,
        connect_timeout=5,
    )
    try:
        return connection.server_version
    finally:
        connection.close()


def pooling_problems(
    *, mode: str, facts: PoolerFacts | None, server_version_num: int | None
) -> list[str]:
    """Why this pooling could serve one clinic's rows to another; empty when safe."""
    if mode not in ("session", "transaction"):
        return [f"DATABASE_POOL_MODE must be 'session' or 'transaction', not {mode!r}."]
    if facts is not None and facts.pool_mode != mode:
        return [
            f"The pooler runs in {facts.pool_mode} mode but DATABASE_POOL_MODE says {mode}: "
            "set DATABASE_POOL_MODE to what the pooler does."
        ]
    if mode == "session":
        return []
    if facts is None:
        return [
            "DATABASE_POOL_MODE is 'transaction' but DATABASE_POOLER_ADMIN_URL is not set: "
            "without reading the pooler's settings CareBridge cannot tell whether it puts each "
            "clinic's search_path back. Use session pooling, or give the admin console's URL."
        ]
    problems = []
    if facts.version < PGBOUNCER_TRACKS_SEARCH_PATH:
        problems.append(
            "PgBouncer {} cannot track search_path in transaction mode: it needs 1.25.2 or "
            "newer.".format(".".join(map(str, facts.version)))
        )
    if "search_path" not in facts.tracked:
        problems.append("PgBouncer's track_extra_parameters does not include search_path.")
    if server_version_num is not None and server_version_num < SERVER_REPORTS_SEARCH_PATH:
        problems.append(
            f"PostgreSQL {server_version_num // 10000} does not report search_path changes to "
            "the pooler: that needs PostgreSQL 18 or newer (or Citus)."
        )
    return problems


def pooling_check(*, mode: str, admin_url: str, database: dict) -> None:
    """Raise UnsafePooling, saying why, unless this pooling keeps clinics apart. Connects only
    when a pooler is declared (transaction mode, or an admin URL)."""
    if mode == "session" and not admin_url:
        return
    facts = pooler_facts(admin_url) if admin_url else None
    version = server_version(database) if mode == "transaction" else None
    problems = pooling_problems(mode=mode, facts=facts, server_version_num=version)
    if problems:
        raise UnsafePooling(
            "CareBridge refuses to start: this database pooling could show one clinic "
            "another's data. " + " ".join(problems)
        )

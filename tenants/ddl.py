"""The template schema's DDL, generated once per migration state and replayed to make a clinic.

django-tenants' clone_schema() walks the catalog table by table at every clone, which grows
slower as the catalog grows (BENCHMARKS.md), and re-creates unique constraints under
PostgreSQL's default names instead of the ones the migrations gave them. Here the walk is
done once, when the template is refreshed, with PostgreSQL's own deparsers
(pg_get_constraintdef, pg_get_indexdef, pg_get_triggerdef, pg_get_functiondef, format_type):
the result is a script that names every object exactly as the template does. A new schema
is made by sending that script in one round trip, inside the caller's transaction.

The script is generated with ``search_path`` set to the template alone, so the deparsers
leave the template's own objects unqualified (and name anything outside it, such as the KPI
trigger functions in ``public``, with its schema); it is replayed with ``search_path`` set to
the new schema alone, so every unqualified name lands there. The rows are not part of the
script: it copies them from the template as it stands at replay time (roles, the Wagtail
tree, starter articles, the applied-migrations record) and sets every sequence to the
template's position.

Chosen over ``pg_dump --schema-only``: the server's functions always match the server, while
a pg_dump binary must be of the server's major version (the embedded PostgreSQL of ``./dev``
and the deploy images need not have one), and pg_dump qualifies every name with the
template's schema, which would have to be rewritten as text."""

import hashlib
import re
from contextlib import contextmanager

from django.db import connection, transaction

# Bump when the generator changes what it writes: a stored script of another version is
# generated again at the next template refresh.
GENERATOR_VERSION = "2"

# Lowercase letters, digits, underscores and hyphens (clinic slugs have hyphens, pooled
# schemas underscores), 63 bytes at most (PostgreSQL's identifier length), never pg_*.
SCHEMA_NAME_PATTERN = re.compile(r"^(?!pg_)[a-z_][a-z0-9_-]{0,62}$")

# The search path a replay found is kept in this setting (transaction-local) so that the
# script can put it back at its end without a second round trip.
SAVED_PATH_SETTING = "carebridge.saved_search_path"


class TemplateDdlError(RuntimeError):
    """The template holds something the generator does not reproduce (a view, a custom
    type, row-level security...): provisioning must not silently leave it out."""


def schema_name_validate(name: str) -> str:
    if not isinstance(name, str) or not SCHEMA_NAME_PATTERN.match(name):
        raise ValueError(
            f"Not a schema name we create: {name!r} (lowercase letters, digits, '_' and '-', "
            "starting with a letter or '_', at most 63 characters, not pg_*)."
        )
    return name


def ddl_fingerprint(migration_fingerprint: str, starter_fingerprint: str) -> str:
    """The key a stored script is valid under: the template's migration state, its starter
    articles and this generator's version."""
    text = "\n".join((migration_fingerprint, starter_fingerprint, GENERATOR_VERSION))
    return hashlib.sha256(text.encode()).hexdigest()


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


@contextmanager
def _search_path(schema_name: str):
    """Inside the current transaction (which the caller opens), the search path is
    ``schema_name`` alone; the path django-tenants set (and believes still set) is back
    afterwards, or, on an error, when the caller's savepoint rolls back."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('search_path')")
        previous = cursor.fetchone()[0]
        cursor.execute("SELECT set_config('search_path', %s, true)", [_q(schema_name)])
        yield cursor
        cursor.execute("SELECT set_config('search_path', %s, true)", [previous])


def _unsupported(cursor, template: str) -> list[str]:
    cursor.execute(
        """
        SELECT 'relation ' || c.relname || ' of kind ' || c.relkind::text
        FROM pg_class c WHERE c.relnamespace = %(ns)s::regnamespace
          AND c.relkind NOT IN ('r', 'i', 'S')
        UNION ALL
        SELECT 'table ' || c.relname || ': ' || concat_ws(', ',
            CASE WHEN c.relpersistence <> 'p' THEN 'unlogged or temporary' END,
            CASE WHEN c.reloptions IS NOT NULL THEN 'storage parameters' END,
            CASE WHEN c.relrowsecurity THEN 'row-level security' END,
            CASE WHEN c.relacl IS NOT NULL THEN 'grants' END,
            CASE WHEN c.relhasrules THEN 'rules' END,
            CASE WHEN c.relispartition OR EXISTS (
                SELECT 1 FROM pg_inherits i WHERE i.inhrelid = c.oid OR i.inhparent = c.oid)
                THEN 'inheritance' END)
        FROM pg_class c WHERE c.relnamespace = %(ns)s::regnamespace AND c.relkind = 'r'
          AND (c.relpersistence <> 'p' OR c.reloptions IS NOT NULL OR c.relrowsecurity
               OR c.relacl IS NOT NULL OR c.relhasrules OR c.relispartition
               OR EXISTS (SELECT 1 FROM pg_inherits i
                          WHERE i.inhrelid = c.oid OR i.inhparent = c.oid))
        UNION ALL
        SELECT 'type ' || t.typname FROM pg_type t
        LEFT JOIN pg_class c ON c.oid = t.typrelid
        WHERE t.typnamespace = %(ns)s::regnamespace
          AND (t.typtype IN ('d', 'e', 'r', 'm') OR (t.typtype = 'c' AND c.relkind = 'c'))
        UNION ALL
        SELECT 'routine ' || p.proname || ' of kind ' || p.prokind::text FROM pg_proc p
        WHERE p.pronamespace = %(ns)s::regnamespace AND p.prokind NOT IN ('f', 'p')
        UNION ALL
        SELECT 'trigger ' || t.tgname || ' not simply enabled' FROM pg_trigger t
        JOIN pg_class c ON c.oid = t.tgrelid
        WHERE c.relnamespace = %(ns)s::regnamespace AND NOT t.tgisinternal
          AND t.tgenabled <> 'O'
        UNION ALL
        SELECT 'extended statistics ' || s.stxname FROM pg_statistic_ext s
        WHERE s.stxnamespace = %(ns)s::regnamespace
        """,
        {"ns": template},
    )
    return [row[0] for row in cursor.fetchall()]


def _sequences(cursor, template: str) -> dict:
    """Every sequence of the template: name → (options, owner) where owner is
    (table, column, is_identity) or None."""
    cursor.execute(
        """
        SELECT s.relname, format_type(q.seqtypid, NULL), q.seqstart, q.seqincrement,
               q.seqmin, q.seqmax, q.seqcache, q.seqcycle,
               t.relname, a.attname, d.deptype
        FROM pg_class s
        JOIN pg_sequence q ON q.seqrelid = s.oid
        LEFT JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = s.oid
             AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
        LEFT JOIN pg_class t ON t.oid = d.refobjid
        LEFT JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
        WHERE s.relnamespace = %s::regnamespace AND s.relkind = 'S'
        ORDER BY s.relname
        """,
        [template],
    )
    sequences = {}
    for (
        name,
        type_,
        start,
        step,
        low,
        high,
        cache,
        cycle,
        table,
        column,
        deptype,
    ) in cursor.fetchall():
        options = (
            f"START WITH {start} INCREMENT BY {step} MINVALUE {low} MAXVALUE {high} "
            f"CACHE {cache} {'CYCLE' if cycle else 'NO CYCLE'}"
        )
        owner = (table, column, deptype == "i") if table else None
        sequences[name] = (type_, options, owner)
    return sequences


def _tables(cursor, template: str) -> dict:
    """table → list of (column, type, collation or None, not null (None: nullable; the NOT
    NULL constraint's name on PostgreSQL ≥ 18, else ""), identity, generated, default
    expression or None), in column order."""
    cursor.execute(
        """
        SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod),
               CASE WHEN a.attcollation <> t.typcollation
                    THEN a.attcollation::regcollation::text END,
               CASE WHEN a.attnotnull THEN coalesce(n.conname, '') END,
               a.attidentity, a.attgenerated, pg_get_expr(d.adbin, d.adrelid)
        FROM pg_class c
        JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
        JOIN pg_type t ON t.oid = a.atttypid
        LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
        -- PostgreSQL 18 keeps each NOT NULL as a named constraint: the copy keeps its name.
        LEFT JOIN pg_constraint n ON n.conrelid = c.oid AND n.contype = 'n'
                                 AND n.conkey[1] = a.attnum
        WHERE c.relnamespace = %s::regnamespace AND c.relkind = 'r'
        ORDER BY c.relname, a.attnum
        """,
        [template],
    )
    tables: dict[str, list] = {}
    for table, *column in cursor.fetchall():
        tables.setdefault(table, []).append(column)
    return tables


def _constraints(cursor, template: str) -> list[tuple[str, str, str, str, bool]]:
    """(table, name, kind, definition, validated) of every constraint."""
    cursor.execute(
        """
        SELECT c.relname, k.conname, k.contype, pg_get_constraintdef(k.oid, true),
               k.convalidated
        FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
        WHERE c.relnamespace = %s::regnamespace AND k.contype <> 'n'  -- with their column
        ORDER BY c.relname, k.contype, k.conname
        """,
        [template],
    )
    return cursor.fetchall()


def _indexes(cursor, template: str) -> list[str]:
    """The definition of every index that does not back a constraint (those come with it)."""
    cursor.execute(
        """
        SELECT pg_get_indexdef(i.indexrelid, 0, true)
        FROM pg_index i JOIN pg_class x ON x.oid = i.indexrelid
        WHERE x.relnamespace = %s::regnamespace
          AND NOT EXISTS (SELECT 1 FROM pg_constraint k
                          WHERE k.conindid = i.indexrelid AND k.contype IN ('p', 'u', 'x'))
        ORDER BY x.relname
        """,
        [template],
    )
    return [row[0] for row in cursor.fetchall()]


def _functions(cursor, template: str) -> list[str]:
    cursor.execute(
        """
        SELECT p.proname, pg_get_functiondef(p.oid) FROM pg_proc p
        WHERE p.pronamespace = %s::regnamespace ORDER BY p.proname, p.oid
        """,
        [template],
    )
    # pg_get_functiondef always names the function with its schema: make it the new one's
    # (the search path). A body naming the template explicitly would still point at it.
    head = re.compile(rf"^CREATE OR REPLACE (FUNCTION|PROCEDURE) {re.escape(_q(template))}\.")
    bare_head = re.compile(rf"^CREATE OR REPLACE (FUNCTION|PROCEDURE) {re.escape(template)}\.")
    functions = []
    for name, definition in cursor.fetchall():
        rewritten, count = head.subn(r"CREATE \1 ", definition, count=1)
        if not count:
            rewritten, count = bare_head.subn(r"CREATE \1 ", definition, count=1)
        if not count:
            raise TemplateDdlError(f"Cannot read the definition of function {name}.")
        functions.append(rewritten)
    return functions


def _triggers(cursor, template: str) -> list[str]:
    cursor.execute(
        """
        SELECT pg_get_triggerdef(t.oid, true) FROM pg_trigger t
        JOIN pg_class c ON c.oid = t.tgrelid
        WHERE c.relnamespace = %s::regnamespace AND NOT t.tgisinternal
        ORDER BY c.relname, t.tgname
        """,
        [template],
    )
    return [row[0] for row in cursor.fetchall()]


def _column_sql(column, identity_sequence: str | None, options: str) -> str:
    name, type_, collation, not_null, identity, generated, default = column
    parts = [_q(name), type_]
    if collation:
        parts.append(f"COLLATE {collation}")
    if identity:
        kind = "ALWAYS" if identity == "a" else "BY DEFAULT"
        parts.append(
            f"GENERATED {kind} AS IDENTITY (SEQUENCE NAME {_q(identity_sequence)} {options})"
        )
    elif generated:
        parts.append(f"GENERATED ALWAYS AS ({default}) STORED")
    elif default is not None:
        parts.append(f"DEFAULT {default}")
    if not_null:
        parts.append(f"CONSTRAINT {_q(not_null)} NOT NULL")
    elif not_null == "":
        parts.append("NOT NULL")
    return " ".join(parts)


def template_ddl_generate(template: str) -> str:
    """The script making a schema equal to ``template`` (structure, rows, sequence positions),
    to be run with the new schema alone on the search path (see ddl_replay)."""
    with transaction.atomic(), _search_path(template) as cursor:
        problems = _unsupported(cursor, template)
        if problems:
            raise TemplateDdlError(
                f"The template schema {template} holds what provisioning does not copy: "
                + "; ".join(problems)
            )
        sequences = _sequences(cursor, template)
        tables = _tables(cursor, template)
        constraints = _constraints(cursor, template)
        indexes = _indexes(cursor, template)
        functions = _functions(cursor, template)
        triggers = _triggers(cursor, template)

    source = _q(template)
    statements = []
    # Sequences not made by an identity column first: a column default may name one.
    for name, (type_, options, owner) in sequences.items():
        if not (owner and owner[2]):
            statements.append(f"CREATE SEQUENCE {_q(name)} AS {type_} {options}")
    # Tables with the constraints that need no other table (primary keys, unique, checks,
    # exclusions); the rows go in before the foreign keys and triggers, so that no trigger
    # fires on the copy and no key is checked row by row.
    inline: dict[str, list[str]] = {}
    later = []
    for table, name, kind, definition, validated in constraints:
        if kind in "pucx" and validated:
            inline.setdefault(table, []).append(f"CONSTRAINT {_q(name)} {definition}")
        else:
            later.append(f"ALTER TABLE {_q(table)} ADD CONSTRAINT {_q(name)} {definition}")
    identities = {
        owner[:2]: (name, options)
        for name, (_type, options, owner) in sequences.items()
        if owner and owner[2]
    }
    for table, columns in tables.items():
        body = [
            _column_sql(column, *identities.get((table, column[0]), (None, "")))
            for column in columns
        ]
        body += inline.get(table, [])
        statements.append(f"CREATE TABLE {_q(table)} ({', '.join(body)})")
    for table, columns in tables.items():
        names = ", ".join(_q(column[0]) for column in columns if not column[5])
        # Identifiers only, read from the catalog and quoted.
        statements.append(
            f"INSERT INTO {_q(table)} ({names}) OVERRIDING SYSTEM VALUE "  # noqa: S608
            f"SELECT {names} FROM {source}.{_q(table)}"
        )
    for name, (_type, _options, owner) in sequences.items():
        statements.append(
            f"SELECT setval('{_q(name)}', last_value, is_called) FROM {source}.{_q(name)}"  # noqa: S608
        )
        if owner and not owner[2]:
            statements.append(f"ALTER SEQUENCE {_q(name)} OWNED BY {_q(owner[0])}.{_q(owner[1])}")
    statements += later
    statements += indexes
    statements += functions
    statements += triggers
    return ";\n".join(statements) + ";\n"


def ddl_replay(ddl: str, target: str) -> None:
    """Create schema ``target`` by running the template's script, in one round trip and in
    the current transaction (a savepoint when one is open): a failure anywhere leaves no
    schema and the search path as it was."""
    schema_name_validate(target)
    script = (
        f"SELECT set_config('{SAVED_PATH_SETTING}', current_setting('search_path'), true);\n"
        f"CREATE SCHEMA {_q(target)};\n"
        f"SELECT set_config('search_path', '{_q(target)}', true);\n"
        f"{ddl}"
        f"SELECT set_config('search_path', current_setting('{SAVED_PATH_SETTING}'), true);\n"
    )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(script)

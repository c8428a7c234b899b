"""The road past one database (deploy/README.md, "Past one database: Citus"): Citus'
schema-based sharding moves a clinic's schema to another node as a unit, which works only if
nothing in it points outside it. A foreign key from a clinic's table into another schema is
allowed only to a table declared a reference table (copied to every node); today there are
none, and this test keeps it so."""

from django.db import connection

# Tables of the public schema that Citus would replicate to every node, and so may be the
# target of a clinic table's foreign key. Adding one here is a decision for deploy/README.md.
REFERENCE_TABLES: set[str] = set()

CROSS_SCHEMA_KEYS = """
    SELECT source_ns.nspname, source.relname, c.conname, target_ns.nspname, target.relname
    FROM pg_constraint c
    JOIN pg_class source ON source.oid = c.conrelid
    JOIN pg_namespace source_ns ON source_ns.oid = source.relnamespace
    JOIN pg_class target ON target.oid = c.confrelid
    JOIN pg_namespace target_ns ON target_ns.oid = target.relnamespace
    WHERE c.contype = 'f' AND source_ns.nspname = ANY(%s) AND target_ns.oid <> source_ns.oid
"""


def test_no_clinic_table_has_a_foreign_key_into_another_schema(tenant_a, tenant_b):
    schemas = ["_template", tenant_a.schema_name, tenant_b.schema_name]
    with connection.cursor() as cursor:
        cursor.execute(CROSS_SCHEMA_KEYS, [schemas])
        keys = cursor.fetchall()
        cursor.execute(
            "SELECT count(*) FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid"
            " JOIN pg_namespace n ON n.oid = t.relnamespace"
            " WHERE c.contype = 'f' AND n.nspname = %s",
            [tenant_a.schema_name],
        )
        (keys_in_clinic,) = cursor.fetchone()
    assert keys_in_clinic > 50  # the query does look at a clinic's schema and its keys
    outside = [key for key in keys if f"{key[3]}.{key[4]}" not in REFERENCE_TABLES]
    assert outside == []

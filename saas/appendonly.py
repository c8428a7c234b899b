"""Append-only models (the audit trails, DESIGN.md §9): rows are written once and never
changed or removed through the ORM. The database refuses it too (a trigger on each table,
see the migrations that install them); this layer makes the refusal a clear Python error at
the line that tried, instead of a PostgreSQL exception at commit."""

from django.db import migrations, models


class AppendOnlyError(RuntimeError):
    """Raised on any attempt to change or delete a row of an append-only table."""


def _refuse(what: str):
    raise AppendOnlyError(f"Audit rows are append-only: {what} refused.")


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):
        _refuse("update()")

    def delete(self):
        _refuse("delete()")

    def bulk_update(self, objs, fields, batch_size=None):
        _refuse("bulk_update()")

    def update_or_create(self, defaults=None, create_defaults=None, **kwargs):
        _refuse("update_or_create()")


class AppendOnlyModel(models.Model):
    """Base of an audit table: save() inserts, never updates; delete() refuses."""

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding:
            _refuse("saving an existing row")
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        _refuse("delete()")


def trigger_operation(table: str):
    """A migration operation installing, in the schema it runs in, a trigger that refuses
    every UPDATE and DELETE of ``table``'s rows. (TRUNCATE and DROP SCHEMA fire no row
    trigger: dropping a tenant, or a test database's flush, still works.)"""
    function = f"{table}_append_only"
    return migrations.RunSQL(
        sql=f"""
            CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'Audit rows are append-only: % of {table} refused.', TG_OP;
            END;
            $$;
            CREATE TRIGGER {function} BEFORE UPDATE OR DELETE ON {table}
                FOR EACH ROW EXECUTE FUNCTION {function}();
        """,
        reverse_sql=f"""
            DROP TRIGGER IF EXISTS {function} ON {table};
            DROP FUNCTION IF EXISTS {function}();
        """,
    )

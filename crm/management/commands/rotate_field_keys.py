"""Rotate the clinics' field encryption keys (crm/crypto.py, README "Encryption at rest")."""

from django.core.management.base import BaseCommand, CommandError

from crm.services.encryption import field_keys_rotate
from tenants.fanout import clinics, in_each_clinic


class Command(BaseCommand):
    help = (
        "Re-wrap every clinic's keys under the current master key (the first of"
        " FIELD_ENCRYPTION_KEYS) and, unless --rewrap-only, start a new data key version and"
        " re-encrypt the clinic's values under it in batches."
    )

    def add_arguments(self, parser):
        parser.add_argument("--schema", help="Only this clinic (its slug, the schema name).")
        parser.add_argument(
            "--rewrap-only",
            action="store_true",
            help="Only re-wrap the keys (after adding a master key); no new data key.",
        )
        parser.add_argument(
            "--resume",
            action="store_true",
            help="Finish an interrupted rotation: re-encrypt under the current data key.",
        )
        parser.add_argument("--batch", type=int, default=2000, help="Rows a statement (2000).")

    def handle(self, *args, schema, rewrap_only, resume, batch, **options):
        tenants = clinics(schema=schema or "")
        if schema and not tenants:
            raise CommandError(f"No tenant with the slug {schema!r}.")
        for tenant in in_each_clinic(tenants):
            done = field_keys_rotate(rewrap_only=rewrap_only, resume=resume, batch=batch)
            self.stdout.write(
                f"{tenant.schema_name}: {done.rewrapped} keys re-wrapped"
                + ("" if rewrap_only else f", {done.reencrypted} values under v{done.version}")
            )

"""Make an API key for a tenant from a script (deployment, an integrator's set-up). Prints the
key once: it is stored hashed and cannot be shown again."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django_tenants.utils import tenant_context

from crm.services.api_keys import api_key_create
from tenants.models import Tenant


class Command(BaseCommand):
    help = "Create an API key for a tenant and print it once."

    def add_arguments(self, parser):
        parser.add_argument("--schema", required=True, help="The tenant's slug (schema name).")
        parser.add_argument("--name", required=True, help="What will use the key, e.g. HIS.")
        parser.add_argument(
            "--scopes", default="read", help="Comma-separated: read, write, reports."
        )

    def handle(self, *args, schema, name, scopes, **options):

        tenant = Tenant.objects.exclude(schema_name="public").filter(schema_name=schema).first()
        if tenant is None:
            raise CommandError(f"No tenant with the slug {schema!r}.")
        with tenant_context(tenant):
            try:
                api_key, key = api_key_create(
                    name=name, scopes=[s.strip() for s in scopes.split(",") if s.strip()]
                )
            except ValidationError as exc:
                raise CommandError("; ".join(exc.messages)) from exc
        self.stderr.write(
            f"API key {api_key.prefix} ({', '.join(api_key.scopes)}) for {tenant.primary_host}:"
        )
        self.stdout.write(key)

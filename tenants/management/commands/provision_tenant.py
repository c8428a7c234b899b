"""Create a tenant from the command line and print its first admin's set-password link."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from tenants.models import Tenant
from tenants.services import tenant_provision


class Command(BaseCommand):
    help = "Provision a tenant: schema, preset, domain and first administrator."

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True)
        parser.add_argument("--slug", required=True, help="DNS-safe; also the schema name")
        parser.add_argument("--kind", required=True, choices=Tenant.Kind.values)
        parser.add_argument("--admin-email", required=True)
        parser.add_argument("--admin-name", default="")
        parser.add_argument("--locale", default=Tenant.Locale.ZH_HANS, choices=Tenant.Locale.values)
        parser.add_argument("--no-pool", action="store_true", help="do not take a pooled schema")

    def handle(self, *args, **options):
        try:
            result = tenant_provision(
                name=options["name"],
                slug=options["slug"],
                kind=options["kind"],
                admin_email=options["admin_email"],
                admin_name=options["admin_name"],
                locale=options["locale"],
                use_pool=not options["no_pool"],
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        self.stdout.write(
            self.style.SUCCESS(
                f"Tenant {result.tenant.slug} ready at {result.tenant.primary_host} "
                f"({result.method}, {result.seconds * 1000:.0f} ms)."
            )
        )
        self.stdout.write(f"Set-password link for {result.admin_email}: {result.set_password_url}")

"""django-tenants' migrate_schemas, plus: after migrating all tenants, bring the template
schema (which new tenants are cloned from) to the same state, drop stale pooled schemas, and
bring every tenant's roles to the permissions the code gives them."""

from django_tenants.management.commands.migrate_schemas import MigrateSchemasCommand


class Command(MigrateSchemasCommand):
    def handle(self, *args, **options):
        super().handle(*args, **options)
        migrating_every_tenant = self.sync_tenant and not options.get("schema_name")
        if migrating_every_tenant and not options.get("migration_name"):
            from tenants.schemas import roles_sync_every_tenant, template_refresh

            template_refresh(verbosity=int(options.get("verbosity", 1)) - 1)
            roles_sync_every_tenant()

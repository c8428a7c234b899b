"""django-tenants' migrate_schemas, with releases that cost what changed: migrating every
clinic (``migrate`` with no schema and no target) migrates the public schema, then hands the
clinics to tenants.release, which skips those already at the code's state and does the rest
in parallel, resumably, holding the release lock (one release at a time; a second refuses, or
waits with ``--wait``). A single schema (``--schema``) or a target migration goes through
django-tenants as before."""

from django.core.management.base import CommandError
from django_tenants.management.commands.migrate_schemas import MigrateSchemasCommand

from tenants.release import ReleaseRunning, release_lock, release_run


class Command(MigrateSchemasCommand):
    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument(
            "--processes",
            type=int,
            default=2,
            help="clinics migrated at once, each by a process with its own connection (2)",
        )
        parser.add_argument(
            "--wait",
            action="store_true",
            help="when another release is running on this database, wait for it to end "
            "instead of refusing at once",
        )

    def handle(self, *args, **options):
        every_clinic = (
            not options.get("schema_name")
            and not options.get("app_label")
            and not options.get("migration_name")
            and not options.get("shared")
            and not options.get("fake")
            and not options.get("plan")
            and not options.get("check_unapplied")
        )
        if not every_clinic:
            return super().handle(*args, **options)
        verbosity = int(options.get("verbosity", 1))
        try:
            with release_lock(
                wait=options.get("wait", False),
                waiting=self.stdout.write if verbosity >= 1 else None,
            ):
                self._release(*args, **options)
        except ReleaseRunning as running:
            raise CommandError(
                f"Not migrating: {running}. Let it finish, or run migrate with --wait."
            ) from None

    def _release(self, *args, **options):
        verbosity = int(options.get("verbosity", 1))
        if not options.get("tenant"):
            super().handle(*args, **{**options, "shared": True, "tenant": False})
        report = release_run(
            processes=options["processes"],
            progress=self.stdout.write if verbosity >= 1 else None,
        )
        if verbosity >= 1:
            self.stdout.write(
                f"Release: {report.clinics} clinics, {len(report.migrated)} migrated, "
                f"{len(report.synced)} synced, {len(report.failed)} failed, template "
                f"{'refreshed' if report.template_refreshed else 'current'}, "
                f"{report.seconds:.1f} s"
            )
        if report.failed:
            lines = "\n".join(f"  {schema}: {error}" for schema, error in report.failed.items())
            raise CommandError(
                f"{len(report.failed)} clinics failed to migrate (the others are done; run "
                f"migrate again to continue):\n{lines}"
            )

"""The five staff roles (Django groups) and the permissions each one carries. Roles are
synchronised into every tenant schema by crm.services.roles_sync."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    ADMIN = "admin", _("Administrator")
    SUPERVISOR = "supervisor", _("Supervisor")
    AGENT = "agent", _("Agent")
    CLINICIAN = "clinician", _("Clinician")
    VIEWER = "viewer", _("Viewer")


_READ = ["crm.view_department"]

ROLE_PERMISSIONS: dict[str, list[str]] = {
    Role.ADMIN: [
        *_READ,
        "crm.add_department",
        "crm.change_department",
        "auth.view_user",
        "auth.add_user",
        "auth.change_user",
        "wagtailadmin.access_admin",
        "tenants.change_tenant",  # the clinic's own settings: name, language, time zone, hours
    ],
    Role.SUPERVISOR: [*_READ, "auth.view_user"],
    Role.AGENT: [*_READ],
    Role.CLINICIAN: [*_READ],
    Role.VIEWER: [*_READ],
}

# The permission that opens staff management (invite, deactivate, change role).
MANAGE_STAFF = "auth.change_user"
# The permission that opens the clinic's settings page.
MANAGE_SETTINGS = "tenants.change_tenant"

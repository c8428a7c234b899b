"""Who read or exported patient data, or gave someone access to it, and when (DESIGN.md §9)."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class AuditEntry(models.Model):
    class Action(models.TextChoices):
        CONTACT_VIEWED = "contact_viewed", _("Viewed a contact")
        PHONE_REVEALED = "phone_revealed", _("Revealed a phone number")
        IMPORT_ERRORS_EXPORTED = "import_errors_exported", _("Downloaded rejected import rows")
        REPORT_EXPORTED = "report_exported", _("Downloaded a KPI report")
        REPORT_LIST_EXPORTED = "report_list_exported", _("Downloaded the list behind a figure")
        STAFF_INVITED = "staff_invited", _("Invited a staff member")
        CONTACT_ERASED = "contact_erased", _("Erased a contact's personal data")
        CLINIC_EXPORTED = "clinic_exported", _("Downloaded the clinic's full export")

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(max_length=40, choices=Action.choices)
    contact = models.ForeignKey(
        "crm.Contact", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    object_id = models.CharField(max_length=40, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit entries")

    def __str__(self) -> str:
        return f"{self.action} {self.created_at:%Y-%m-%d %H:%M}"

"""Who read or exported patient data, gave someone access to it, changed the clinic's set-up
or signed in, and when (DESIGN.md §9). Append-only: no update or delete path here, and a
trigger in every tenant schema refuses them in the database (migration 0018)."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from saas.appendonly import AppendOnlyModel


class AuditEntry(AppendOnlyModel):
    class Action(models.TextChoices):
        CONTACT_VIEWED = "contact_viewed", _("Viewed a contact")
        CONTACT_EDIT_VIEWED = "contact_edit_viewed", _("Opened a contact's edit page")
        CONTACT_CHANGED = "contact_changed", _("Changed a contact")
        PHONE_REVEALED = "phone_revealed", _("Revealed a phone number")
        COMPLAINT_VIEWED = "complaint_viewed", _("Viewed a complaint")
        COMPLAINT_LIST_VIEWED = "complaint_list_viewed", _("Viewed the list of complaints")
        RESPONSE_LIST_VIEWED = "response_list_viewed", _("Viewed a survey's responses")
        OUTBOX_VIEWED = "outbox_viewed", _("Viewed the outbox")
        OUTBOX_REQUEUED = "outbox_requeued", _("Queued failed messages again")
        IMPORT_ERRORS_EXPORTED = "import_errors_exported", _("Downloaded rejected import rows")
        REPORT_EXPORTED = "report_exported", _("Downloaded a KPI report")
        REPORT_LIST_EXPORTED = "report_list_exported", _("Downloaded the list behind a figure")
        AUDIT_EXPORTED = "audit_exported", _("Downloaded the audit trail")
        STAFF_INVITED = "staff_invited", _("Created a staff account (invitation)")
        ROLE_CHANGED = "role_changed", _("Changed a staff member's role")
        STAFF_DEACTIVATED = "staff_deactivated", _("Deactivated a staff member")
        STAFF_REACTIVATED = "staff_reactivated", _("Reactivated a staff member")
        TWO_STEP_RESET = "two_step_reset", _("Reset a staff member's two-step sign-in")
        TWO_STEP_ENROLLED = "two_step_enrolled", _("Set up two-step sign-in")
        TWO_STEP_CODES_RENEWED = "two_step_codes_renewed", _("Made new recovery codes")
        TWO_STEP_TURNED_OFF = "two_step_turned_off", _("Turned two-step sign-in off")
        API_KEY_CREATED = "api_key_created", _("Created an API key")
        API_KEY_REVOKED = "api_key_revoked", _("Revoked an API key")
        SETTINGS_CHANGED = "settings_changed", _("Changed the clinic's settings")
        SMS_PROVIDER_CHANGED = "sms_provider_changed", _("Changed the clinic's SMS provider")
        SMS_TEST_SENT = "sms_test_sent", _("Sent a test SMS")
        MESSAGE_TEMPLATE_MAPPED = (
            "message_template_mapped",
            _("Mapped a message template to the provider's template"),
        )
        SIGNED_IN = "signed_in", _("Signed in")
        SIGN_IN_FAILED = "sign_in_failed", _("Failed to sign in")
        SIGNED_OUT = "signed_out", _("Signed out")
        CONTACT_ERASED = "contact_erased", _("Erased a contact's personal data")
        CLINIC_EXPORTED = "clinic_exported", _("Downloaded the clinic's full export")
        WECHAT_CONNECTED = "wechat_connected", _("Connected the WeChat Official Account")
        WECHAT_SLIP_MADE = "wechat_slip_made", _("Made a WeChat link slip (consent recorded)")
        REGISTER_SIGNED = "register_signed", _("Signed off a department's monthly register")
        REPORT_COMMENTED = "report_commented", _("Commented on the monthly report")
        CORRECTIVE_ACTION_RECORDED = (
            "corrective_action_recorded",
            _("Recorded a corrective action"),
        )
        CORRECTIVE_ACTION_CLOSED = "corrective_action_closed", _("Closed a corrective action")
        ENCOUNTER_KIND_ADDED = "encounter_kind_added", _("Added an encounter kind")
        ENCOUNTER_KIND_CHANGED = "encounter_kind_changed", _("Changed an encounter kind")
        ENCOUNTER_KIND_DELETED = "encounter_kind_deleted", _("Deleted an encounter kind")

    # Neither foreign key is a database constraint, nor does deleting a user or a contact
    # touch these rows (SET_NULL would UPDATE them, which the append-only trigger refuses):
    # a row keeps the id of who and whom it was about; a deleted or anonymised contact simply
    # no longer resolves (select_related gives None).
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
        verbose_name=_("who"),
    )
    action = models.CharField(_("action"), max_length=40, choices=Action.choices)
    contact = models.ForeignKey(
        "crm.Contact",
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
        verbose_name=_("contact"),
    )
    object_id = models.CharField(max_length=40, blank=True, default="")
    # Ids, role names, names of changed fields: never a value that is personal data (a phone
    # number, a name, an email address).
    detail = models.JSONField(_("detail"), default=dict, blank=True)
    # Sign-ins only. An IP address is personal data (PIPL); it is kept here, where the
    # clinic's administrators need it, and never written to a log.
    client_address = models.GenericIPAddressField(_("client address"), null=True, blank=True)
    created_at = models.DateTimeField(_("when"), auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit entries")

    def __str__(self) -> str:
        return f"{self.action} {self.created_at:%Y-%m-%d %H:%M}"

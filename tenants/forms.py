from django import forms
from django.utils.translation import gettext_lazy as _

from .models import (
    MAX_RETENTION_YEARS,
    MAX_SURVEY_INTERVAL_DAYS,
    MAX_SURVEY_REMINDER_DAYS,
    ChannelOrder,
    Tenant,
    timezone_choices,
    validate_caller_number,
)


def calling_hours_parse(text: str, message: str) -> list[list[str]]:
    """ "08:00-12:00, 13:30-17:30" → [["08:00", "12:00"], ["13:30", "17:30"]]; ``message`` when
    an interval is not written start-end (the model's validator checks the times)."""
    intervals = []
    for part in text.split(","):
        bounds = [bound.strip() for bound in part.replace("–", "-").split("-")]
        if len(bounds) != 2 or not all(bounds):
            raise forms.ValidationError(message, code="invalid")
        intervals.append(bounds)
    return intervals


def calling_hours_format(hours: list[list[str]]) -> str:
    return ", ".join(f"{start}-{end}" for start, end in hours)


class TenantCreateForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    slug = forms.CharField(
        label=_("Address name"),
        max_length=40,
        help_text=_(
            "Lowercase letters, digits and hyphens; the tenant's address will be <name>.%(domain)s"
        ),
    )
    kind = forms.ChoiceField(label=_("Kind"), choices=Tenant.Kind.choices)
    locale = forms.ChoiceField(label=_("Language"), choices=Tenant.Locale.choices)
    admin_email = forms.EmailField(label=_("Administrator's email"))
    admin_name = forms.CharField(label=_("Administrator's name"), max_length=150, required=False)

    def __init__(self, *args, base_domain: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["slug"].help_text = self.fields["slug"].help_text % {"domain": base_domain}


class DomainAddForm(forms.Form):
    domain = forms.CharField(label=_("Custom domain"), max_length=253)


class TenantSettingsForm(forms.Form):
    """A clinic's own settings, edited by its administrators."""

    name = forms.CharField(label=_("Name"), max_length=200)
    locale = forms.ChoiceField(label=_("Language"), choices=Tenant.Locale.choices)
    timezone = forms.ChoiceField(label=_("Time zone"), choices=timezone_choices)
    calling_hours = forms.CharField(
        label=_("Calling hours"),
        help_text=_("Comma-separated intervals, e.g. 08:00-12:00, 13:30-17:30"),
        max_length=200,
    )
    phone_region = forms.CharField(
        label=_("Phone region"),
        max_length=2,
        help_text=_("Country of phone numbers written without a country code, e.g. CN."),
    )
    caller_number = forms.CharField(
        label=_("Number we call from"),
        max_length=32,
        required=False,
        validators=[validate_caller_number],
        help_text=_(
            "Shown to patients in the SMS before the first call. Empty: no such SMS is sent."
        ),
    )
    spot_check_percent = forms.IntegerField(
        label=_("Spot-check share (%)"),
        min_value=0,
        max_value=100,
        help_text=_(
            "Share of completed centre follow-ups that supervisors re-call. Each week every "
            "agent and every department gets at least its share, rounded up."
        ),
    )

    message_hours = forms.CharField(
        label=_("Message hours"),
        help_text=_(
            "Automatic SMS and emails go out only inside these hours, e.g. 08:00-21:00 "
            "(00:00-24:00 is the whole day)."
        ),
        max_length=200,
    )
    complaint_ack_days = forms.IntegerField(
        label=_("Acknowledge complaints within (working days)"),
        min_value=1,
        max_value=10,
        help_text=_("The customer hears that their complaint is being looked into."),
    )
    complaint_reply_days = forms.IntegerField(
        label=_("Reply to complaints within (working days)"),
        min_value=1,
        max_value=60,
        help_text=_(
            "Working days skip weekends and, for a clinic in mainland China (phone region CN), "
            "public holidays, counting make-up working days. Time spent waiting on the "
            "customer does not count."
        ),
    )
    sms_per_number_day = forms.IntegerField(
        label=_("SMS to one number in 24 hours, at most"),
        min_value=1,
        max_value=20,
        help_text=_("Further messages to that number wait until the 24 hours have passed."),
    )
    sms_per_number_month = forms.IntegerField(
        label=_("SMS to one number in 30 days, at most"),
        min_value=1,
        max_value=100,
        help_text=_("Further messages to that number are not sent, with the reason."),
    )
    channel_order = forms.ChoiceField(
        label=_("Channel order for automatic messages"),
        choices=ChannelOrder.choices,
        help_text=_(
            "WeChat reaches only patients who linked their WeChat to the clinic's Official "
            "Account and still follow it; the others get the next channel."
        ),
    )

    survey_interval_days = forms.IntegerField(
        label=_("One survey per contact every (days), at most"),
        min_value=1,
        max_value=MAX_SURVEY_INTERVAL_DAYS,
        error_messages={
            "min_value": _(
                "Write at least 1 day: a contact can be sent at most one survey in that time."
            )
        },
        help_text=_(
            "A follow-up message to a contact sent a survey more recently goes without one "
            "(90 days is usual)."
        ),
    )
    survey_reminder_days = forms.IntegerField(
        label=_("Remind those who have not answered after (days)"),
        min_value=0,
        max_value=MAX_SURVEY_REMINDER_DAYS,
        error_messages={
            "min_value": _("Write a number of days, or 0 for no reminder; it cannot be negative.")
        },
        help_text=_(
            "One reminder with the same survey, while its link is still valid; 0: no reminder."
        ),
    )

    retention_years = forms.IntegerField(
        label=_("Keep patient data for (years)"),
        min_value=1,
        max_value=MAX_RETENTION_YEARS,
        required=False,
        help_text=_(
            "Contacts are anonymised (name, numbers, notes and free text erased; counts and "
            "reports kept) this many years after their last encounter. Leave empty to keep "
            "everything, e.g. when the law requires the clinic to keep its own records longer."
        ),
    )

    def clean(self):
        cleaned = super().clean()
        day, month = cleaned.get("sms_per_number_day"), cleaned.get("sms_per_number_month")
        if day and month and day > month:
            self.add_error(
                "sms_per_number_day", _("A day cannot allow more messages than 30 days.")
            )
        return cleaned

    require_two_step = forms.BooleanField(
        label=_("Require two-step sign-in for all staff"),
        required=False,
        help_text=_(
            "Administrators and supervisors always need a code from their phone; with this, "
            "agents, clinicians and viewers need one too."
        ),
    )

    def clean_caller_number(self) -> str:
        return " ".join(self.cleaned_data["caller_number"].split())

    def clean_phone_region(self) -> str:
        return self.cleaned_data["phone_region"].strip().upper()

    def clean_calling_hours(self) -> list[list[str]]:
        return calling_hours_parse(
            self.cleaned_data["calling_hours"],
            _("Write each interval as start-end, e.g. 08:00-12:00."),
        )

    def clean_message_hours(self) -> list[list[str]]:
        return calling_hours_parse(
            self.cleaned_data["message_hours"],
            _("Write each interval as start-end, e.g. 08:00-12:00."),
        )

    @staticmethod
    def initial_for(tenant: Tenant) -> dict:
        hours = calling_hours_format(tenant.calling_hours)
        return {
            "name": tenant.name,
            "locale": tenant.locale,
            "timezone": tenant.timezone,
            "calling_hours": hours,
            "phone_region": tenant.phone_region,
            "caller_number": tenant.caller_number,
            "spot_check_percent": tenant.spot_check_percent,
            "message_hours": calling_hours_format(tenant.message_hours),
            "complaint_ack_days": tenant.complaint_ack_days,
            "complaint_reply_days": tenant.complaint_reply_days,
            "sms_per_number_day": tenant.sms_per_number_day,
            "sms_per_number_month": tenant.sms_per_number_month,
            "channel_order": tenant.channel_order,
            "retention_years": tenant.retention_years,
            "require_two_step": tenant.require_two_step,
            "survey_interval_days": tenant.survey_interval_days,
            "survey_reminder_days": tenant.survey_reminder_days,
        }


class ConsoleAuditFilterForm(forms.Form):
    """The console audit page's filters: a clinic and an action of either vendor trail."""

    tenant = forms.ModelChoiceField(
        label=_("Clinic"),
        queryset=Tenant.objects.exclude(schema_name="public").order_by("name"),
        required=False,
        empty_label=_("Every clinic"),
    )
    action = forms.ChoiceField(label=_("Action"), required=False)

    def __init__(self, *args, actions, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["action"].choices = [("", _("Any action")), *actions]

from dataclasses import fields as dataclass_fields

from django import forms
from django.contrib.auth import get_user_model
from django.core.validators import MaxValueValidator, MinValueValidator
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from cms.selectors import article_languages
from surveys.models import SurveyTemplate
from tenants.forms import calling_hours_format, calling_hours_parse

from .message_templates import MESSAGE_VARIABLES, template_check
from .models import (
    AuditEntry,
    Complaint,
    Contact,
    ContactPhone,
    Department,
    Encounter,
    EncounterKind,
    FollowUpRule,
    KpiTarget,
    MessageTemplate,
    OutcomeCode,
    Praise,
    RuleStep,
    SmsAccount,
)
from .models.rules import lapse_days_message
from .phones import phone_mask
from .reporting.period import EARLIEST_DAY, LATEST_DAY, period_error
from .roles import Role
from .selectors_kinds import kinds_active, kinds_all
from .services.feedback import EDITABLE as COMPLAINT_EDITABLE
from .services.rules import RuleValues, StepValues, steps_overlap
from .vocabulary import clinic_vocabulary

User = get_user_model()


class StaffInviteForm(forms.Form):
    email = forms.EmailField(label=_("Email"))
    full_name = forms.CharField(label=_("Name"), max_length=150, required=False)
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices, initial=Role.AGENT)


class StaffRoleForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices)


class StaffDepartmentsForm(forms.Form):
    departments = forms.ModelMultipleChoiceField(
        label=_("Departments"),
        queryset=Department.objects.filter(active=True),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Follow-ups queued for these departments appear in their worklist."),
    )


class DepartmentForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    code = forms.SlugField(
        label=_("Code"),
        max_length=40,
        help_text=_("Letters, digits and hyphens; the code an import or the API names it by."),
    )
    active = forms.BooleanField(
        label=_("Active"),
        required=False,
        initial=True,
        help_text=_("An inactive department keeps its history but takes no new follow-ups."),
    )


class TagsField(forms.CharField):
    """Comma-separated words ↔ a list (for tags and code lists)."""

    def __init__(self, *, upper: bool = False, **kwargs):
        self.upper = upper
        kwargs.setdefault("required", False)
        kwargs.setdefault("help_text", _("Separate with commas."))
        super().__init__(**kwargs)

    def prepare_value(self, value):
        return ", ".join(value) if isinstance(value, list | tuple) else value

    def to_python(self, value):
        words = [w.strip() for w in (value or "").replace("，", ",").split(",") if w.strip()]
        return list(dict.fromkeys(w.upper() if self.upper else w for w in words))


class LocalDateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%dT%H:%M", **kwargs)


class ContactForm(forms.ModelForm):
    """A contact's details. The numbers on file are listed masked and removed one by one, new
    ones are typed in: the form never prints a full number (reading one is the audited
    reveal of the call page), so no page lets a number be copied or scraped."""

    phones_remove = forms.ModelMultipleChoiceField(
        label=_("Remove phone numbers"),
        queryset=ContactPhone.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    phones = forms.CharField(
        label=_("Phone numbers"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("One per line; national numbers are read in the clinic's country."),
    )

    class Meta:
        model = Contact
        fields = [
            "name",
            "sex",
            "birth_date",
            "record_no",
            "phones",
            "email",
            "address",
            "language",
            "do_not_contact",
            "do_not_contact_reason",
            "deceased",
            "notes",
        ]
        widgets = {
            "birth_date": forms.DateInput(attrs={"type": "date"}),
            "notes": forms.Textarea(attrs={"rows": 2}),
        }

    field_order = ["name", "sex", "birth_date", "record_no", "phones_remove", "phones"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["record_no"].label = clinic_vocabulary().record_no
        if self.instance.pk:
            self.fields["phones"].label = _("Add phone numbers")
            self.fields["phones_remove"].queryset = self.instance.phones.order_by("pk")
            self.fields["phones_remove"].label_from_instance = _phone_choice
        else:
            del self.fields["phones_remove"]

    def phone_list(self) -> list[tuple[str, str]]:
        """The numbers to keep, then the new ones: (number, label)."""
        removed = set(self.cleaned_data.get("phones_remove") or ())
        kept = (
            [(p.number, p.label) for p in self.instance.phones.order_by("pk") if p not in removed]
            if self.instance.pk
            else []
        )
        lines = [line.strip() for line in self.cleaned_data["phones"].splitlines()]
        return kept + [(line, "") for line in lines if line]


def _phone_choice(phone: ContactPhone) -> str:
    masked = phone_mask(phone.number)
    return f"{masked} · {phone.get_label_display()}" if phone.label else masked


class ContactEraseForm(forms.Form):
    """An erasure request: why (a fixed list: free text would hold what is being erased) and
    a confirmation, since it cannot be undone."""

    reason = forms.ChoiceField(
        label=_("Reason"),
        choices=[
            (value, label)
            for value, label in Contact.Erasure.choices
            if value != Contact.Erasure.RETENTION
        ],
    )
    confirm = forms.BooleanField(
        label=_("I understand that this cannot be undone."),
        error_messages={"required": _("Tick the box to confirm the erasure.")},
    )


class EncounterForm(forms.ModelForm):
    tags = TagsField(label=_("Tags"))

    class Meta:
        model = Encounter
        fields = [
            "kind",
            "occurred_at",
            "department",
            "attending",
            "attending_name",
            "responsible_nurse",
            "responsible_nurse_name",
            "serial_no",
            "admitted_at",
            "age",
            "diagnosis_code",
            "diagnosis",
            "procedure_code",
            "procedure",
            "treatment_course",
            "discharge_outcome",
            "length_of_stay",
            "bed",
            "tags",
            "external_id",
            "notes",
        ]
        widgets = {
            "occurred_at": LocalDateTimeInput(),
            "admitted_at": forms.DateInput(attrs={"type": "date"}),
            "notes": forms.Textarea(attrs={"rows": 2}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The clinic's active kinds, and the encounter's own if it is archived since.
        current = self.instance.kind if self.instance.pk else None
        self.fields["kind"] = forms.ChoiceField(
            label=self.fields["kind"].label,
            choices=[
                (kind.code, kind.label)
                for kind in kinds_all()
                if not kind.archived or kind.code == current
            ],
        )
        self.fields["department"].queryset = Department.objects.filter(active=True)
        self.fields["attending"].queryset = User.objects.filter(
            is_active=True, groups__name=Role.CLINICIAN
        ).order_by("first_name", "last_name")
        self.fields["attending"].label_from_instance = lambda u: u.get_full_name() or u.email
        self.fields["responsible_nurse"].queryset = User.objects.filter(
            is_active=True, groups__name=Role.CLINICIAN
        ).order_by("first_name", "last_name")
        self.fields["responsible_nurse"].label_from_instance = lambda u: (
            u.get_full_name() or u.email
        )


# The values that are the model's own columns (the rest are many-to-many or the step's id).
_RULE_COLUMNS = [f.name for f in dataclass_fields(RuleValues) if f.name != "department_ids"]
_STEP_COLUMNS = [
    f.name
    for f in dataclass_fields(StepValues)
    if f.name not in ("step_id", "survey_id", "article_ids")
]


class RuleForm(forms.ModelForm):
    match_codes = TagsField(
        label=_("Diagnosis or procedure codes"),
        upper=True,
        help_text=_("A code matches itself and every code that starts with it, e.g. I10, K35."),
    )
    match_tags = TagsField(label=_("Tags"), help_text=_("Any one of them; separate with commas."))
    exclude_tags = TagsField(
        label=_("Excluded tags"),
        help_text=_("e.g. privacy-sensitive: such encounters are never called."),
    )
    calling_hours = forms.CharField(
        label=_("Calling hours override"),
        required=False,
        help_text=_("Empty: the clinic's calling hours. Otherwise e.g. 18:00-20:30"),
    )
    # An IntegerField, not the model's positive one: 0 and -5 get the same plain message.
    lapse_days = forms.IntegerField(
        label=_("Lapsed after (days)"),
        required=False,
        help_text=FollowUpRule._meta.get_field("lapse_days").help_text,
    )

    class Meta:
        model = FollowUpRule
        fields = [
            "name",
            "active",
            "position",
            "exclusive",
            "trigger",
            "lapse_days",
            "match_kinds",
            "match_departments",
            "match_codes",
            "match_tags",
            "match_outcomes",
            "min_age",
            "max_age",
            "exclude_outcomes",
            "exclude_tags",
            "calling_hours",
        ]
        widgets = {
            "match_kinds": forms.CheckboxSelectMultiple,
            "match_departments": forms.CheckboxSelectMultiple,
            "match_outcomes": forms.CheckboxSelectMultiple,
            "exclude_outcomes": forms.CheckboxSelectMultiple,
            "trigger": forms.RadioSelect,
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        outcomes = [c for c in Encounter.Outcome.choices if c[0]]
        # The clinic's active kinds, and any archived one the rule names already (so that
        # saving the rule does not silently drop it).
        named = set(self.instance.match_kinds or [])
        kinds = [
            (kind.code, kind.label)
            for kind in kinds_all()
            if not kind.archived or kind.code in named
        ]
        for name, choices in (
            ("match_kinds", kinds),
            ("match_outcomes", outcomes),
            ("exclude_outcomes", outcomes),
        ):
            self.fields[name] = forms.MultipleChoiceField(
                label=self.fields[name].label,
                choices=choices,
                required=False,
                widget=forms.CheckboxSelectMultiple,
                help_text=_("None ticked: any."),
            )
        self.fields["match_departments"].help_text = _("None ticked: any.")
        # Forms posted before lapsed rules existed (and scripts) mean an ordinary rule.
        self.fields["trigger"].required = False
        if self.instance.calling_hours and not self.is_bound:
            self.initial["calling_hours"] = calling_hours_format(self.instance.calling_hours)

    def clean_lapse_days(self):
        days = self.cleaned_data["lapse_days"]
        if days is not None and not 1 <= days <= 3650:
            raise forms.ValidationError(lapse_days_message())
        return days

    def clean_trigger(self):
        return self.cleaned_data["trigger"] or FollowUpRule.Trigger.ENCOUNTER

    def clean(self):
        cleaned = super().clean()
        lapsed = cleaned.get("trigger") == FollowUpRule.Trigger.LAPSED
        if lapsed and cleaned.get("lapse_days") is None and "lapse_days" not in self.errors:
            self.add_error("lapse_days", lapse_days_message())
        if not lapsed:
            cleaned["lapse_days"] = None
        return cleaned

    def clean_calling_hours(self):
        text = self.cleaned_data["calling_hours"].strip()
        if not text:
            return None
        return calling_hours_parse(text, _("Write each interval as start-end, e.g. 18:00-20:30."))

    def rule_values(self) -> RuleValues:
        """The checked rule for crm.services.rules.rule_save (once the form is valid)."""
        return RuleValues(
            **{name: getattr(self.instance, name) for name in _RULE_COLUMNS},
            department_ids=[d.pk for d in self.cleaned_data["match_departments"]],
        )


class ArticleSelect(forms.SelectMultiple):
    """The articles a step sends, each option marked with its article's language: an English
    title in the Chinese interface is read (and checked) as English, not as a label."""

    languages: dict[int, str] = {}

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        language = self.languages.get(getattr(value, "value", value))
        if language:
            option["attrs"]["lang"] = language
        return option


class RuleStepForm(forms.ModelForm):
    class Meta:
        model = RuleStep
        fields = [
            "name",
            "offset_days",
            "due_days",
            "grace_days",
            "channel",
            "tier",
            "assignee_policy",
            "team",
            "max_attempts",
            "retry_gap_hours",
            "repeat_every_days",
            "repeat_limit",
            "stop_when",
            "pre_notice",
            "survey",
            "script",
            "articles",
            "articles_matching",
        ]
        widgets = {
            "script": forms.Textarea(attrs={"rows": 2}),
            "articles": ArticleSelect(attrs={"size": 4}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)

        self.fields["survey"].queryset = SurveyTemplate.objects.filter(active=True)
        self.fields["team"].queryset = Department.objects.filter(active=True)
        self.fields["articles"].widget.languages = article_languages()


class BaseRuleStepFormSet(forms.BaseInlineFormSet):
    def clean(self):
        super().clean()
        if any(self.errors):
            return
        steps = [
            form.instance
            for form in self.forms
            if form.cleaned_data and not form.cleaned_data.get("DELETE")
        ]
        if not steps:
            raise forms.ValidationError(_("A rule needs at least one step."))

        clash = steps_overlap(steps)
        if clash:
            first, second = clash
            raise forms.ValidationError(
                _("The windows of “%(first)s” and “%(second)s” overlap.")
                % {"first": first.name, "second": second.name}
            )

    def step_values(self) -> list[StepValues]:
        """The steps added or changed, in the editor's order (once the formset is valid)."""
        return [
            _step_values(form)
            for form in self.forms
            if form.has_changed() and not self._should_delete_form(form)
        ]

    def removed_step_ids(self) -> list[int]:
        """The saved steps ticked for deletion (once the formset is valid)."""
        return [form.instance.pk for form in self.deleted_forms if form.instance.pk is not None]


def _step_values(form: RuleStepForm) -> StepValues:
    step = form.instance
    return StepValues(
        **{name: getattr(step, name) for name in _STEP_COLUMNS},
        step_id=step.pk,
        survey_id=step.survey_id,
        article_ids=[article.pk for article in form.cleaned_data["articles"]],
    )


RuleStepFormSet = forms.inlineformset_factory(
    FollowUpRule,
    RuleStep,
    form=RuleStepForm,
    formset=BaseRuleStepFormSet,
    extra=1,
    can_delete=True,
)


class RulePreviewForm(forms.Form):
    """A sample encounter for the rule preview."""

    kind = forms.ChoiceField(label=_("Kind"), choices=())
    occurred_at = forms.DateTimeField(label=_("Date"), widget=LocalDateTimeInput())
    department = forms.ModelChoiceField(
        label=_("Department"), queryset=Department.objects.filter(active=True), required=False
    )
    diagnosis_code = forms.CharField(label=_("Diagnosis code"), required=False)
    procedure_code = forms.CharField(label=_("Procedure code"), required=False)
    discharge_outcome = forms.ChoiceField(
        label=_("Outcome at discharge"), choices=Encounter.Outcome.choices, required=False
    )
    tags = TagsField(label=_("Tags"))
    age = forms.IntegerField(label=_("Age"), required=False, min_value=0, max_value=150)
    has_phone = forms.BooleanField(label=_("Has a phone number"), required=False, initial=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = [(kind.code, kind.label) for kind in kinds_active()]


class EncounterKindForm(forms.Form):
    """A kind of the clinic's own, or a new name for one. The code is given once, when it is
    added (or made from the name): encounters name their kind by it."""

    name = forms.CharField(label=_("Name"), max_length=60)
    code = forms.CharField(
        label=_("Code"),
        max_length=20,
        required=False,
        help_text=_(
            "Optional: what imports and the API may send, e.g. new-hire. Empty: made from the name."
        ),
    )
    books_return_visit = forms.BooleanField(
        label=_("A booked return visit"),
        required=False,
        help_text=EncounterKind._meta.get_field("books_return_visit").help_text,
    )

    def __init__(self, *args, adding: bool, **kwargs):
        super().__init__(*args, **kwargs)
        if not adding:
            del self.fields["code"]


class OutcomeCodeForm(forms.ModelForm):
    class Meta:
        model = OutcomeCode
        fields = ["label", "code", "category", "position", "active"]


class AttemptForm(forms.Form):
    outcome = forms.ModelChoiceField(
        label=_("Outcome"),
        queryset=OutcomeCode.objects.filter(active=True),
        widget=forms.RadioSelect,
        empty_label=None,
    )
    notes = forms.CharField(
        label=_("Notes"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    callback_at = forms.DateTimeField(
        label=_("Call back at"), required=False, widget=LocalDateTimeInput()
    )
    duration_minutes = forms.IntegerField(
        label=_("Duration (minutes)"), required=False, min_value=0, max_value=600
    )
    recovered = forms.BooleanField(label=_("The patient has recovered"), required=False)
    audit_agrees = forms.TypedChoiceField(
        label=_("Do the answers agree with the original call?"),
        choices=[("", "—"), ("yes", _("Yes, they agree")), ("no", _("No, discrepancy"))],
        coerce=lambda v: v == "yes",
        empty_value=None,
        required=False,
    )


class ImportUploadForm(forms.Form):
    file = forms.FileField(
        label=_("File"), help_text=_("CSV (UTF-8 or GB18030) or Excel .xlsx; first row = headings.")
    )


class ComplaintForm(forms.ModelForm):
    class Meta:
        model = Complaint
        fields = list(COMPLAINT_EDITABLE)  # the form edits exactly what the service lets change
        widgets = {
            "summary": forms.Textarea(attrs={"rows": 4}),
            "corrective_action": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["department"].queryset = Department.objects.filter(active=True)
        staff = User.objects.filter(is_active=True).order_by("first_name", "email")
        self.fields["staff"].queryset = staff
        self.fields["assignee"].queryset = staff
        self.fields["staff"].label_from_instance = _staff_label
        self.fields["assignee"].label_from_instance = _staff_label


def _staff_label(user) -> str:
    return user.get_full_name() or user.email


class ComplaintNewForm(ComplaintForm):
    """Receiving one: where it came from too."""

    class Meta(ComplaintForm.Meta):
        fields = ["source", *ComplaintForm.Meta.fields]


class ComplaintMoveForm(forms.Form):
    reply = forms.CharField(
        label=_("Reply to the customer"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    note = forms.CharField(label=_("Note"), required=False, max_length=500)


class PraiseForm(forms.ModelForm):
    class Meta:
        model = Praise
        fields = ["staff", "staff_name", "department", "text"]
        widgets = {"text": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["department"].queryset = Department.objects.filter(active=True)
        self.fields["staff"].queryset = User.objects.filter(is_active=True).order_by(
            "first_name", "email"
        )
        self.fields["staff"].label_from_instance = _staff_label


class MessageTemplateForm(forms.ModelForm):
    class Meta:
        model = MessageTemplate
        fields = ["subject", "body"]
        widgets = {"body": forms.Textarea(attrs={"rows": 6})}

    def clean_body(self):

        body = self.cleaned_data["body"]
        problem = template_check(body)
        if problem:
            raise forms.ValidationError(
                _("The text has a template error: %(problem)s"), params={"problem": problem}
            )
        return body


class KpiTargetsForm(forms.Form):
    """A target per figure for the clinic and per department; empty means none (a department
    without its own is held to the clinic's). Below, the follow-up rate per kind of patient
    (issue 19: inpatients ≥ 80 %, outpatient surgery ≥ 50 %), for the clinic and per
    department; a kind without one is held to the figure's target above."""

    def __init__(self, *args, departments, current, **kwargs):
        super().__init__(*args, **kwargs)
        self.scopes = [None, *(department.pk for department in departments)]
        # The clinic's active kinds but bookings (never followed up themselves), and any
        # other kind a target names already.
        named = {kind for (_metric, _scope, kind) in current if kind}
        self.kinds = [
            (kind.code, kind.label)
            for kind in kinds_all()
            if kind.code in named or not (kind.archived or kind.books_return_visit)
        ]
        for metric, label in KpiTarget.Metric.choices:
            low = -100 if metric == KpiTarget.Metric.NPS else 0
            for scope in self.scopes:
                self.fields[self._name(metric, scope)] = self._field(
                    label,
                    low,
                    current.get((metric, scope, "")),
                    labelledby=f"kpi-{metric} kpi-scope-{scope or 'clinic'}",
                )
        for kind, label in self.kinds:
            for scope in self.scopes:
                self.fields[self._name(self.KIND_METRIC, scope, kind)] = self._field(
                    label,
                    0,
                    current.get((self.KIND_METRIC, scope, kind)),
                    labelledby=f"kpi-kind-{kind} kpi-kind-scope-{scope or 'clinic'}",
                )

    KIND_METRIC = KpiTarget.Metric.FOLLOW_UP_RATE

    @staticmethod
    def _field(label, low: int, initial, *, labelledby: str) -> forms.DecimalField:
        return forms.DecimalField(
            label=label,
            required=False,
            min_value=low,
            max_value=100,
            max_digits=5,
            decimal_places=2,
            initial=initial,
            # Named by its row's and its column's headings: "Reach rate, Surgery".
            widget=forms.NumberInput(
                attrs={"step": "0.01", "class": "narrow", "aria-labelledby": labelledby}
            ),
        )

    @staticmethod
    def _name(metric: str, scope: int | None, kind: str = "") -> str:
        name = f"{metric}__{scope or 'clinic'}"
        return f"{name}__{kind}" if kind else name

    def rows(self) -> list[dict]:
        return [
            {
                "metric": metric,
                "label": label,
                "fields": [self[self._name(metric, s)] for s in self.scopes],
            }
            for metric, label in KpiTarget.Metric.choices
        ]

    def kind_rows(self) -> list[dict]:
        return [
            {
                "kind": kind,
                "label": label,
                "fields": [self[self._name(self.KIND_METRIC, s, kind)] for s in self.scopes],
            }
            for kind, label in self.kinds
        ]

    def targets(self) -> dict:
        """(metric, department id or None, kind or "") → target or None."""
        values = {
            (metric, scope, ""): self.cleaned_data[self._name(metric, scope)]
            for metric in KpiTarget.Metric.values
            for scope in self.scopes
        }
        for kind, _label in self.kinds:
            for scope in self.scopes:
                values[(self.KIND_METRIC, scope, kind)] = self.cleaned_data[
                    self._name(self.KIND_METRIC, scope, kind)
                ]
        return values


REPORT_DAYS = [MinValueValidator(EARLIEST_DAY), MaxValueValidator(LATEST_DAY)]


class ReportFilterForm(forms.Form):
    """Which period and whose figures a report shows (GET: ids and dates only)."""

    PERIODS = [
        ("day", _("Day")),
        ("week", _("Week")),
        ("month", _("Month")),
        ("quarter", _("Quarter")),
        ("year", _("Year")),
        ("custom", _("Custom")),
    ]
    period = forms.ChoiceField(label=_("Period"), choices=PERIODS, required=False)
    day = forms.DateField(
        label=_("Including the day"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        validators=REPORT_DAYS,
    )
    start = forms.DateField(
        label=pgettext_lazy("period", "From"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        validators=REPORT_DAYS,
    )
    end = forms.DateField(
        label=pgettext_lazy("period", "To"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        validators=REPORT_DAYS,
    )
    department = forms.ModelChoiceField(
        label=_("Department"), queryset=Department.objects.none(), required=False
    )
    agent = forms.ModelChoiceField(
        label=_("Agent"), queryset=get_user_model().objects.none(), required=False
    )
    rule = forms.ModelChoiceField(
        label=_("Rule"), queryset=FollowUpRule.objects.none(), required=False
    )
    tier = forms.TypedChoiceField(
        label=_("Tier"),
        choices=[("", _("All tiers")), (1, _("Tier 1")), (2, _("Tier 2"))],
        coerce=int,
        empty_value=None,
        required=False,
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["department"].queryset = Department.objects.order_by("name")
        self.fields["department"].empty_label = _("All departments")
        self.fields["agent"].empty_label = _("All agents")
        self.fields["rule"].empty_label = _("All rules")
        self.fields["agent"].queryset = (
            get_user_model()
            .objects.filter(is_active=True, groups__isnull=False)
            .distinct()
            .order_by("first_name", "last_name", "email")
        )
        self.fields["agent"].label_from_instance = lambda user: user.get_full_name() or user.email
        self.fields["rule"].queryset = FollowUpRule.objects.order_by("name")

    def clean(self):
        data = super().clean()
        if data.get("period") == "custom":
            start, end = data.get("start"), data.get("end")
            if not start or not end:
                raise forms.ValidationError(_("A custom period needs a first and a last day."))
            problem = period_error(start, end)
            if problem:
                raise forms.ValidationError(problem)
        return data


class AuditFilterForm(forms.Form):
    """The audit page's filters, in its URL (none is personal data: a staff member's id, an
    action, dates); the contact's record number is posted and kept in the session instead."""

    actor = forms.ModelChoiceField(
        label=_("Person"),
        queryset=get_user_model().objects.order_by("first_name", "last_name", "email"),
        required=False,
        empty_label=_("Anyone"),
    )
    action = forms.ChoiceField(label=_("Action"), required=False)
    since = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["action"].choices = [("", _("Any action")), *AuditEntry.Action.choices]
        self.fields["actor"].label_from_instance = lambda user: user.get_full_name() or user.email

    def clean(self):
        cleaned = super().clean()
        since, until = cleaned.get("since"), cleaned.get("until")
        if since and until and since > until:
            raise forms.ValidationError(
                {"until": _("The end date must be on or after the start date.")}
            )
        return cleaned


class SmsAccountForm(forms.Form):
    """The clinic's SMS provider. The secret is never shown again: left empty, the stored one
    is kept."""

    provider = forms.ChoiceField(label=_("Provider"), choices=SmsAccount.Provider.choices)
    key_id = forms.CharField(
        label=_("AccessKey ID (Alibaba Cloud), SecretId (Tencent Cloud) or Account SID"),
        max_length=128,
    )
    key_secret = forms.CharField(
        label=_("AccessKey secret, SecretKey or auth token"),
        max_length=256,
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text=_("Stored encrypted and never shown again. Leave empty to keep the saved one."),
    )
    app_id = forms.CharField(
        label=_("SMS SDK AppID (Tencent Cloud) or sender number (Twilio)"),
        max_length=64,
        required=False,
    )
    sign_name = forms.CharField(
        label=_("Signature (签名) registered with the provider"), max_length=64, required=False
    )
    region = forms.CharField(
        label=_("Region"),
        max_length=32,
        required=False,
        help_text=_("Tencent Cloud only, e.g. ap-guangzhou; empty for the default."),
    )


class SmsTestForm(forms.Form):
    to = forms.CharField(label=_("Send a test to this mobile number"), max_length=32)


class TemplateMappingForm(forms.Form):
    """Which of our variables fills each variable of the provider's approved template."""

    code = forms.CharField(label=_("Provider's template code"), max_length=64, required=False)

    def __init__(self, *args, provider_variables: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        choices = [("", "—")] + [
            (name, f"{name} · {meaning}") for name, meaning in MESSAGE_VARIABLES.items()
        ]
        for name in provider_variables:
            self.fields[f"var_{name}"] = forms.ChoiceField(
                label=_("Provider variable %(name)s") % {"name": name},
                choices=choices,
                required=False,
                initial=name if name in MESSAGE_VARIABLES else "",
            )

    def params(self) -> dict[str, str]:
        return {
            name.removeprefix("var_"): value
            for name, value in self.cleaned_data.items()
            if name.startswith("var_") and value
        }


class WeChatAccountForm(forms.Form):
    """The Official Account's developer credentials (公众号 → 设置与开发 → 基本配置). The
    secrets are never shown again: on a change, empty ones keep what is stored."""

    app_id = forms.RegexField(
        label=_("AppID"),
        regex=r"^wx[0-9a-zA-Z]{16}$",
        error_messages={"invalid": _("An AppID is wx followed by 16 letters and digits.")},
    )
    app_secret = forms.RegexField(
        label=_("AppSecret"),
        regex=r"^[0-9a-zA-Z]{32}$",
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        error_messages={"invalid": _("An AppSecret is 32 letters and digits.")},
    )
    token = forms.RegexField(
        label=_("Token"),
        regex=r"^[0-9a-zA-Z]{3,32}$",
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text=_("The Token entered in the server configuration: 3 to 32 letters and digits."),
        error_messages={"invalid": _("A Token is 3 to 32 letters and digits.")},
    )
    encoding_aes_key = forms.RegexField(
        label=_("EncodingAESKey"),
        regex=r"^[0-9a-zA-Z]{43}$",
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text=_("Only for the safe (encrypted) message mode."),
        error_messages={"invalid": _("An EncodingAESKey is 43 letters and digits.")},
    )

    def __init__(self, *args, connected: bool, **kwargs):
        super().__init__(*args, **kwargs)
        if connected:
            for name in ("app_secret", "token", "encoding_aes_key"):
                self.fields[name].widget.attrs["placeholder"] = _("stored; empty keeps it")


class WeChatTemplateForm(forms.Form):
    """The template of one purpose and, one per line, "data key = message variable"."""

    template_id = forms.CharField(label=_("Template ID"), max_length=64)
    data = forms.CharField(
        label=_("Data keys"),
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_(
            "One per line: the template's key = a message variable, e.g. thing1 = clinic_name"
        ),
    )

    def clean_data(self) -> dict[str, str]:
        mapping = {}
        for number, line in enumerate(self.cleaned_data["data"].splitlines(), start=1):
            if not line.strip():
                continue
            key, sep, variable = (part.strip() for part in line.partition("="))
            if not (sep and key and variable):
                raise forms.ValidationError(
                    _("Line %(number)d: write key = variable."), params={"number": number}
                )
            mapping[key] = variable
        return mapping

    @staticmethod
    def initial_for(template) -> dict:
        if template is None:
            return {}
        lines = "\n".join(f"{key} = {variable}" for key, variable in template.data.items())
        return {"template_id": template.template_id, "data": lines}

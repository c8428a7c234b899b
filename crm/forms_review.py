"""Forms of the department's monthly loop (issue 19 §4): they parse; crm.services.review
decides (who may, which month, below which target)."""

from datetime import date

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import CorrectiveAction, KpiTarget, RegisterSignOff
from .reporting.period import EARLIEST_DAY, LATEST_DAY


def month_parse(text: str | None) -> date | None:
    """The first day of the month written YYYY-MM, None when it does not parse."""
    try:
        year, month = (int(part) for part in (text or "").split("-"))
        first = date(year, month, 1)
    except ValueError:
        return None
    return first if EARLIEST_DAY <= first <= LATEST_DAY else None


class MonthField(forms.CharField):
    widget = forms.HiddenInput

    def to_python(self, value):
        value = super().to_python(value)
        if value in self.empty_values:
            return None
        first = month_parse(value)
        if first is None:
            raise forms.ValidationError(_("Choose a month as YYYY-MM, e.g. 2026-11."))
        return first


class SignOffForm(forms.Form):
    month = MonthField()
    department = forms.IntegerField(widget=forms.HiddenInput)
    role = forms.ChoiceField(label=_("I sign as"), choices=RegisterSignOff.Role.choices)
    note = forms.CharField(
        label=_("Note"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class ReportCommentForm(forms.Form):
    month = MonthField()
    body = forms.CharField(
        label=_("Comment"),
        required=False,  # the service says what is missing, in the same words as elsewhere
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class CorrectiveActionForm(forms.Form):
    """Cause, measures, owner and due date of a department's corrective action; the figure
    and the target are the report's and not typed in."""

    metric = forms.ChoiceField(label=_("Figure below target"))
    cause = forms.CharField(
        label=_("Cause"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    measures = forms.CharField(
        label=_("Measures"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    owner = forms.CharField(label=_("Owner"), required=False, max_length=100)
    due_on = forms.DateField(
        label=_("Due by"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args, metrics=CorrectiveAction.METRICS, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["metric"].choices = [
            (metric, KpiTarget.Metric(metric).label) for metric in metrics
        ]


class CorrectiveActionCloseForm(forms.Form):
    result = forms.CharField(
        label=_("Result of the measures"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

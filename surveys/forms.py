from django import forms
from django.utils.translation import gettext_lazy as _

from .models import SurveyQuestion, SurveyTemplate
from .services.templates import choices_format, choices_parse, question_problems


class SurveyTemplateForm(forms.ModelForm):
    class Meta:
        model = SurveyTemplate
        fields = [
            "name",
            "description",
            "satisfied_threshold",
            "low_score_threshold",
            "complaint_on_low_score",
            "link_days",
            "active",
        ]
        widgets = {"description": forms.Textarea(attrs={"rows": 2})}

    def clean(self):
        data = super().clean()
        low, high = data.get("low_score_threshold"), data.get("satisfied_threshold")
        if low is not None and high is not None and not (1 <= low < high <= 5):
            raise forms.ValidationError(
                _("Scores run from 1 to 5: “dissatisfied up to” must be below “satisfied from”.")
            )
        return data


class SurveyQuestionForm(forms.ModelForm):
    choices_text = forms.CharField(
        label=_("Choices"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("One per line, Chinese | English."),
    )

    class Meta:
        model = SurveyQuestion
        fields = ["kind", "text_zh", "text_en", "dimension", "required", "raises_complaint"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and not self.is_bound:
            self.initial["choices_text"] = choices_format(self.instance.choices)

    def clean(self):
        data = super().clean()
        self.instance.choices = choices_parse(data.get("choices_text", ""))
        return data


class BaseQuestionFormSet(forms.BaseInlineFormSet):
    def clean(self):
        super().clean()
        if any(self.errors):
            return

        for form in self.forms:
            if not form.cleaned_data or form.cleaned_data.get("DELETE"):
                continue
            for key in ("kind", "text_zh", "text_en", "dimension", "required", "raises_complaint"):
                setattr(form.instance, key, form.cleaned_data.get(key))
            for problem in question_problems(form.instance):
                form.add_error(None, problem)


QuestionFormSet = forms.inlineformset_factory(
    SurveyTemplate,
    SurveyQuestion,
    form=SurveyQuestionForm,
    formset=BaseQuestionFormSet,
    extra=1,
    can_delete=True,
    can_order=True,
)

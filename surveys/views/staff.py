"""Survey templates (administrators) and the responses received (supervisors)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from crm.models import AuditEntry
from crm.roles import MANAGE_SURVEYS, VIEW_RESPONSES
from crm.services import records
from crm.services.audit import audit_record

from .. import selectors
from ..forms import QuestionFormSet, SurveyTemplateForm
from ..models import SurveyResponse, SurveyTemplate
from ..services import templates
from ..services.templates import QuestionDraft

manage_surveys = permission_required(MANAGE_SURVEYS, raise_exception=True)
view_responses = permission_required(VIEW_RESPONSES, raise_exception=True)


@login_required
@view_responses
def survey_list(request):
    return render(
        request,
        "surveys/survey_list.html",
        {
            "templates": selectors.templates_with_counts(),
            "can_manage": request.user.has_perm(MANAGE_SURVEYS),
        },
    )


def _edit(request, template):
    form = SurveyTemplateForm(request.POST or None, instance=template)
    questions = QuestionFormSet(request.POST or None, instance=template, prefix="questions")
    if request.method == "POST" and form.is_valid() and questions.is_valid():
        saved = templates.template_save(
            template=template,
            settings=form.cleaned_data,
            questions=_question_drafts(questions),
            deleted_ids=[f.instance.pk for f in questions.deleted_forms if f.instance.pk],
        )
        if "publish" in request.POST:
            return _publish(request, saved)
        messages.success(request, _("Draft saved. Publish it to use it in new surveys."))
        return redirect("survey_edit", saved.pk)
    return render(
        request,
        "surveys/survey_form.html",
        {"form": form, "questions": questions, "template": template},
        status=400 if request.method == "POST" else 200,
    )


def _question_drafts(questions) -> list[QuestionDraft]:
    """The formset's questions to keep, in the order the editor gave them (none given: first)."""
    kept = sorted(questions.ordered_forms, key=lambda f: f.cleaned_data.get("ORDER") or 0)
    return [
        QuestionDraft(
            pk=form.instance.pk,
            kind=form.cleaned_data["kind"],
            text_zh=form.cleaned_data["text_zh"],
            text_en=form.cleaned_data["text_en"],
            dimension=form.cleaned_data["dimension"],
            required=form.cleaned_data["required"],
            raises_complaint=form.cleaned_data["raises_complaint"],
            choices=form.instance.choices,
        )
        for form in kept
    ]


def _publish(request, template):
    try:
        version = templates.template_publish(template, request.user)
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    else:
        messages.success(
            request,
            _("Version %(number)s published. Responses already received keep their version.")
            % {"number": version.number},
        )
    return redirect("survey_edit", template.pk)


@login_required
@manage_surveys
def survey_create(request):
    return _edit(request, SurveyTemplate())


@login_required
@manage_surveys
def survey_edit(request, template_id):
    return _edit(request, get_object_or_404(SurveyTemplate, pk=template_id))


@require_POST
@login_required
@manage_surveys
def survey_publish(request, template_id):
    return _publish(request, get_object_or_404(SurveyTemplate, pk=template_id))


@login_required
@view_responses
def response_list(request, template_id):
    template = get_object_or_404(SurveyTemplate, pk=template_id)
    page = Paginator(selectors.responses(template=template), 50).get_page(request.GET.get("page"))
    # The list names the patients who answered.
    audit_record(
        request.user,
        AuditEntry.Action.RESPONSE_LIST_VIEWED,
        obj=template,
        detail={"page": page.number},
    )
    return render(
        request,
        "surveys/response_list.html",
        {"template": template, "page": page, "counts": selectors.response_counts(template)},
    )


@login_required
@view_responses
def response_detail(request, response_id):
    response = get_object_or_404(
        SurveyResponse.objects.select_related("contact", "version", "answered_by", "task"),
        pk=response_id,
    )
    records.contact_viewed(response.contact, request.user)
    return render(
        request,
        "surveys/response_detail.html",
        {"response": response, "answers": selectors.answers_shown(response)},
    )

"""Follow-up rules and outcome codes, edited by the clinic's administrators, and the
preview of what the rule set plans for a sample encounter."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from saas import clock

from ..forms import OutcomeCodeForm, RuleForm, RulePreviewForm, RuleStepFormSet
from ..models import FollowUpRule, FollowUpTask, OutcomeCode
from ..roles import MANAGE_OUTCOMES, MANAGE_RULES
from ..services import planning, rules

manage_rules = permission_required(MANAGE_RULES, raise_exception=True)
manage_outcomes = permission_required(MANAGE_OUTCOMES, raise_exception=True)


@login_required
@manage_rules
def rule_list(request):
    rule_rows = (
        FollowUpRule.objects.prefetch_related("steps", "match_departments")
        .annotate(open_tasks=Count("tasks", filter=Q(tasks__status__in=FollowUpTask.OPEN)))
        .order_by("position", "id")
    )
    return render(request, "crm/rule_list.html", {"rules": rule_rows})


def _edit(request, rule):
    form = RuleForm(request.POST or None, instance=rule)
    steps = RuleStepFormSet(request.POST or None, instance=rule, prefix="steps")
    if request.method == "POST" and form.is_valid() and steps.is_valid():
        try:
            saved = rules.rule_save(
                rule_id=rule.pk,
                values=form.rule_values(),
                steps=steps.step_values(),
                removed_step_ids=steps.removed_step_ids(),
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(
                request,
                _("Rule saved. It applies to new encounters; re-plan to apply it to open tasks."),
            )
            return redirect("rule_edit", saved.pk)
    return render(request, "crm/rule_form.html", {"form": form, "steps": steps, "rule": rule})


@login_required
@manage_rules
def rule_create(request):
    return _edit(request, FollowUpRule())


@login_required
@manage_rules
def rule_edit(request, rule_id):
    return _edit(request, get_object_or_404(FollowUpRule, pk=rule_id))


@require_POST
@login_required
@manage_rules
def rule_replan(request, rule_id):
    rule = get_object_or_404(FollowUpRule, pk=rule_id)
    result = planning.rule_replan(rule)
    messages.success(
        request,
        _("Re-planned: %(created)s follow-ups added, %(updated)s changed.")
        % {"created": result.created, "updated": result.updated},
    )
    return redirect("rule_edit", rule.pk)


@login_required
@manage_rules
def rule_preview(request):
    form = RulePreviewForm(
        request.GET or None, initial={"occurred_at": clock.local().replace(second=0)}
    )
    planned = None
    if request.GET and form.is_valid():
        sample = dict(form.cleaned_data)
        has_phone = sample.pop("has_phone")
        planned = rules.rules_preview(sample, has_phone=has_phone)
    return render(request, "crm/rule_preview.html", {"form": form, "planned": planned})


@login_required
@manage_outcomes
def outcome_list(request):
    form = OutcomeCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, _("Outcome code added."))
        return redirect("outcome_list")
    return render(
        request, "crm/outcome_list.html", {"codes": OutcomeCode.objects.all(), "form": form}
    )


@login_required
@manage_outcomes
def outcome_edit(request, code_id):
    code = get_object_or_404(OutcomeCode, pk=code_id)
    form = OutcomeCodeForm(request.POST or None, instance=code)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, _("Outcome code saved."))
        return redirect("outcome_list")
    return render(request, "crm/outcome_form.html", {"form": form, "code": code})

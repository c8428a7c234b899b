"""The clinic's encounter kinds (Rules → Encounter kinds): list with how many encounters use
each, add, rename, archive, delete. Administrators only, as the rules that name the kinds."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from ..forms import EncounterKindForm
from ..models import EncounterKind
from ..roles import MANAGE_RULES
from ..selectors_kinds import kind_encounter_count, kinds_with_use
from ..services import kinds

manage_rules = permission_required(MANAGE_RULES, raise_exception=True)


@login_required
@manage_rules
def kind_list(request):
    form = EncounterKindForm(request.POST or None, adding=True)
    if request.method == "POST" and form.is_valid():
        try:
            kind = kinds.encounter_kind_add(**form.cleaned_data, actor=request.user)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(
                request,
                _("Kind “%(name)s” added (code %(code)s).")
                % {"name": kind.label, "code": kind.code},
            )
            return redirect("kind_list")
    return render(
        request,
        "crm/kind_list.html",
        {"kinds": kinds_with_use(), "form": form},
        status=400 if request.method == "POST" else 200,
    )


@login_required
@manage_rules
def kind_edit(request, kind_id):
    kind = get_object_or_404(EncounterKind, pk=kind_id)
    form = EncounterKindForm(
        request.POST or None,
        adding=False,
        initial={"name": kind.label, "books_return_visit": kind.books_return_visit},
    )
    if request.method == "POST" and form.is_valid():
        try:
            kinds.encounter_kind_change(kind=kind, **form.cleaned_data, actor=request.user)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("Kind saved."))
            return redirect("kind_list")
    return render(
        request,
        "crm/kind_form.html",
        {"form": form, "kind": kind, "encounters": kind_encounter_count(kind.code)},
        status=400 if request.method == "POST" else 200,
    )


@require_POST
@login_required
@manage_rules
def kind_archive(request, kind_id):
    kind = get_object_or_404(EncounterKind, pk=kind_id)
    archived = request.POST.get("archived") == "1"
    kinds.encounter_kind_archive(kind=kind, archived=archived, actor=request.user)
    if archived:
        messages.success(
            request,
            _("Kind “%(name)s” archived: no longer offered for new rules and imports.")
            % {"name": kind.label},
        )
    else:
        messages.success(request, _("Kind “%(name)s” offered again.") % {"name": kind.label})
    return redirect("kind_list")


@require_POST
@login_required
@manage_rules
def kind_delete(request, kind_id):
    kind = get_object_or_404(EncounterKind, pk=kind_id)
    try:
        kinds.encounter_kind_delete(kind=kind, actor=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Kind “%(name)s” deleted.") % {"name": kind.label})
    return redirect("kind_list")

"""The administrator's page for the clinic's API keys: make one (shown once), revoke one."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from ..models import ApiKey
from ..roles import MANAGE_SETTINGS
from .keys import api_key_create, api_key_revoke

manage_keys_required = permission_required(MANAGE_SETTINGS, raise_exception=True)


class ApiKeyForm(forms.Form):
    name = forms.CharField(
        label=gettext_lazy("Name"),
        max_length=100,
        help_text=gettext_lazy("The system that will use the key, e.g. “HIS nightly push”."),
    )
    scopes = forms.MultipleChoiceField(
        label=gettext_lazy("Scopes"),
        choices=ApiKey.Scope.choices,
        widget=forms.CheckboxSelectMultiple,
    )


@login_required
@manage_keys_required
def api_key_list(request):
    form = ApiKeyForm(request.POST or None)
    new_key = None
    if request.method == "POST" and form.is_valid():
        try:
            _api_key, new_key = api_key_create(user=request.user, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            form = ApiKeyForm()
    return render(
        request,
        "crm/api_keys.html",
        {
            "form": form,
            "new_key": new_key,
            "keys": ApiKey.objects.select_related("created_by"),
            "docs_url": "/api/v1/docs",
        },
    )


@require_POST
@login_required
@manage_keys_required
def api_key_revoke_view(request, key_id: int):
    api_key = get_object_or_404(ApiKey, pk=key_id)
    api_key_revoke(api_key)
    messages.success(request, _("The key “%(name)s” is revoked.") % {"name": api_key.name})
    return redirect("api_key_list")

"""The administrator's pages of the integration API: API keys (made, shown once, revoked) and
webhook endpoints (registered, disabled; deliveries logged and sent again on request)."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from ..models import ApiKey, WebhookDelivery, WebhookEndpoint
from ..roles import MANAGE_SETTINGS
from ..services import webhooks
from ..services.api_keys import api_key_create, api_key_revoke

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
    api_key_revoke(api_key, actor=request.user)
    messages.success(request, _("The key “%(name)s” is revoked.") % {"name": api_key.name})
    return redirect("api_key_list")


class WebhookEndpointForm(forms.Form):
    url = forms.URLField(
        label=gettext_lazy("URL"),
        max_length=500,
        assume_scheme="https",
        help_text=gettext_lazy("An address of your own system that accepts POST requests."),
    )
    events = forms.MultipleChoiceField(
        label=gettext_lazy("Events"),
        choices=WebhookEndpoint.Event.choices,
        widget=forms.CheckboxSelectMultiple,
    )


@login_required
@manage_keys_required
def webhook_list(request):
    form = WebhookEndpointForm(request.POST or None)
    new_endpoint = None
    if request.method == "POST" and form.is_valid():
        try:
            new_endpoint = webhooks.webhook_endpoint_create(**form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            form = WebhookEndpointForm()
    return render(
        request,
        "crm/webhooks.html",
        {
            "form": form,
            "new_endpoint": new_endpoint,
            "endpoints": WebhookEndpoint.objects.all(),
            "deliveries": WebhookDelivery.objects.select_related("endpoint")[:100],
        },
    )


@require_POST
@login_required
@manage_keys_required
def webhook_disable(request, endpoint_id: int):
    endpoint = get_object_or_404(WebhookEndpoint, pk=endpoint_id)
    webhooks.webhook_endpoint_disable(endpoint)
    messages.success(request, _("%(url)s will receive no more events.") % {"url": endpoint.url})
    return redirect("webhook_list")


@require_POST
@login_required
@manage_keys_required
def webhook_replay(request, delivery_id: int):
    delivery = get_object_or_404(WebhookDelivery, pk=delivery_id)
    webhooks.webhook_replay(delivery)
    messages.success(request, _("The event will be sent again."))
    return redirect("webhook_list")

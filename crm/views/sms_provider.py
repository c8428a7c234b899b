"""The clinic's SMS provider page (administrators), the mapping of an SMS template to the
provider's approved template, and the template providers' callbacks (unsigned pushes whose
address carries the account's secret)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse, HttpResponseBadRequest, HttpResponseForbidden
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from tenants.links import tenant_url

from ..forms import SmsAccountForm, SmsTestForm, TemplateMappingForm
from ..gateways import ProviderError
from ..models import MessageTemplate
from ..models.messages import Channel
from ..roles import MANAGE_MESSAGES, MANAGE_SETTINGS
from ..services import sms_accounts, sms_reports

manage_settings = permission_required(MANAGE_SETTINGS, raise_exception=True)
manage_messages = permission_required(MANAGE_MESSAGES, raise_exception=True)


def _callback_urls(request, account) -> dict[str, str]:
    if account is None or account.provider not in sms_accounts.TEMPLATE_GATEWAYS:
        return {}
    return {
        kind: tenant_url(
            request.tenant,
            reverse(
                "sms_provider_callback", args=[account.provider, account.callback_secret, kind]
            ),
        )
        for kind in ("status", "inbound")
    }


@login_required
@manage_settings
def sms_provider(request):
    account = sms_accounts.sms_account()
    initial = {}
    if account is not None:
        initial = {
            "provider": account.provider,
            "key_id": account.key_id,
            "app_id": account.app_id,
            "sign_name": account.sign_name,
            "region": account.region,
        }
    form = SmsAccountForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            sms_accounts.sms_account_save(actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                for error in errors:
                    form.add_error(field if field in form.fields else None, error)
        else:
            messages.success(request, _("SMS provider saved. Send a test to check it."))
            return redirect("sms_provider")
    templates = MessageTemplate.objects.filter(channel=Channel.SMS)
    return render(
        request,
        "crm/sms_provider.html",
        {
            "form": form,
            "account": account,
            "test_form": SmsTestForm(),
            "callback_urls": _callback_urls(request, account),
            "templated": account is not None and account.provider in sms_accounts.TEMPLATE_GATEWAYS,
            "templates": templates,
        },
        status=400 if request.method == "POST" else 200,
    )


@require_POST
@login_required
@manage_settings
def sms_provider_test(request):
    form = SmsTestForm(request.POST)
    if form.is_valid():
        try:
            result = sms_accounts.sms_test_send(actor=request.user, to=form.cleaned_data["to"])
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            (messages.success if result.ok else messages.error)(request, result.text)
    return redirect("sms_provider")


@require_POST
@login_required
@manage_settings
def sms_provider_remove(request):
    sms_accounts.sms_account_remove(actor=request.user)
    messages.success(request, _("The clinic's SMS provider is removed."))
    return redirect("sms_provider")


@login_required
@manage_messages
def message_template_mapping(request, template_id):
    """Map one of our SMS templates to the provider's approved template: first the code (the
    provider is asked which variables it has), then which of ours fills each."""
    template = get_object_or_404(MessageTemplate, pk=template_id, channel=Channel.SMS)
    account = sms_accounts.sms_account()
    if account is None or account.provider not in sms_accounts.TEMPLATE_GATEWAYS:
        messages.error(request, _("The clinic's SMS provider does not use approved templates."))
        return redirect("message_template_edit", template.pk)
    code = (request.POST.get("code") or template.provider_template_code).strip()
    provider_variables, problem = [], ""
    if code:
        try:
            provider_variables = sms_accounts.gateway_for(account).template_variables(code)
        except ProviderError as exc:
            problem = _("The provider refused template %(code)s: %(reason)s") % {
                "code": code,
                "reason": exc,
            }
    form = TemplateMappingForm(
        request.POST if request.POST.get("action") == "save" else None,
        provider_variables=provider_variables,
        initial={"code": code}
        | {
            f"var_{k}": v
            for k, v in template.provider_params.items()
            if template.provider_template_code == code
        },
    )
    if request.POST.get("action") == "save" and form.is_valid():
        try:
            sms_accounts.message_template_map(
                actor=request.user,
                template=template,
                code=form.cleaned_data["code"],
                params=form.params(),
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("Template mapping saved."))
            return redirect("message_template_edit", template.pk)
    elif problem:
        form.add_error(None, problem)
    return render(
        request,
        "crm/message_template_mapping.html",
        {
            "template": template,
            "form": form,
            "account": account,
            "loaded": bool(provider_variables),
        },
        status=400 if form.errors else 200,
    )


@csrf_exempt
@require_POST
def sms_provider_callback(request, provider, secret, kind):
    if kind not in ("status", "inbound"):
        return HttpResponseBadRequest("unknown kind")
    try:
        content_type, body = sms_reports.sms_callback(
            provider=provider, secret=secret, kind=kind, body=request.body
        )
    except PermissionDenied:
        return HttpResponseForbidden("unknown callback address")
    except ValueError:
        return HttpResponseBadRequest("not a report of this provider")
    return HttpResponse(body, content_type=content_type)

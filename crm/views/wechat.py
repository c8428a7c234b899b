"""WeChat Official Account pages: connecting the account and mapping its templates
(administrators, beside the SMS provider in the Messages area), the printable link slip of
a contact (staff), and the callback WeChat pushes events to (unauthenticated, signed with
the clinic's Token)."""

import logging

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.db import connection
from django.http import Http404, HttpResponse, HttpResponseBadRequest, HttpResponseForbidden
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from saas import ratelimit
from tenants.links import tenant_url

from ..forms import WeChatAccountForm, WeChatTemplateForm
from ..gateways import ProviderError
from ..message_templates import MESSAGE_VARIABLES
from ..models import Contact
from ..models.messages import Purpose
from ..models.wechat import WeChatLink, WeChatLinkToken, WeChatTemplate
from ..roles import EDIT_RECORDS, MANAGE_SETTINGS
from ..services import wechat

log = logging.getLogger(__name__)
# As the SMS provider: credentials of the clinic's accounts are for administrators.
manage_settings = permission_required(MANAGE_SETTINGS, raise_exception=True)
edit_records = permission_required(EDIT_RECORDS, raise_exception=True)
# Wrong callback secrets per address and hour before the hook stops answering.
WRONG_HOOKS_PER_HOUR = 30


def _page(request, account_form, template_forms, status=200):
    account = wechat.wechat_account_get()
    hook_url = (
        tenant_url(connection.tenant, reverse("wechat_hook", args=[account.hook_secret]))
        if account
        else ""
    )
    return render(
        request,
        "crm/wechat_settings.html",
        {
            "account": account,
            "account_form": account_form,
            "template_forms": template_forms,
            "hook_url": hook_url,
            "variables": MESSAGE_VARIABLES,
        },
        status=status,
    )


def _template_forms(bound_purpose=None, bound_form=None):
    existing = {t.purpose: t for t in WeChatTemplate.objects.all()}
    forms = []
    for purpose in wechat.WECHAT_PURPOSES:
        if purpose == bound_purpose:
            form = bound_form
        else:
            form = WeChatTemplateForm(
                initial=WeChatTemplateForm.initial_for(existing.get(purpose)), prefix=purpose
            )
        forms.append((Purpose(purpose), form, existing.get(purpose)))
    return forms


@login_required
@manage_settings
def wechat_settings(request):
    account = wechat.wechat_account_get()
    initial = {"app_id": account.app_id} if account else {}
    form = WeChatAccountForm(request.POST or None, initial=initial, connected=bool(account))
    if request.method == "POST" and form.is_valid():
        try:
            wechat.wechat_account_save(**form.cleaned_data, actor=request.user)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(
                request, _('WeChat account saved. Press "Send a test" to check the credentials.')
            )
            return redirect("wechat_settings")
    status = 400 if request.method == "POST" else 200
    return _page(request, form, _template_forms(), status=status)


@require_POST
@login_required
@manage_settings
def wechat_test(request):
    """Ask WeChat for an access token with the stored credentials."""
    account = wechat.wechat_account_get()
    if account is None:
        return redirect("wechat_settings")
    try:
        wechat.wechat_account_check(account=account)
    except ProviderError as exc:
        messages.error(request, _("The test failed: %(reason)s") % {"reason": exc})
    else:
        messages.success(request, _("WeChat accepted the AppID and AppSecret."))
    return redirect("wechat_settings")


@require_POST
@login_required
@manage_settings
def wechat_template(request, purpose):
    account = wechat.wechat_account_get()
    if account is None or purpose not in wechat.WECHAT_PURPOSES:
        raise Http404
    form = WeChatTemplateForm(request.POST, prefix=purpose)
    if form.is_valid():
        try:
            wechat.wechat_template_save(
                account=account,
                purpose=purpose,
                template_id=form.cleaned_data["template_id"].strip(),
                data=form.cleaned_data["data"],
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("WeChat template saved."))
            return redirect("wechat_settings")
    account_form = WeChatAccountForm(initial={"app_id": account.app_id}, connected=True)
    return _page(request, account_form, _template_forms(purpose, form), status=400)


@never_cache
@login_required
@edit_records
def contact_wechat_slip(request, contact_id):
    """The printable slip: staff record that the patient agreed, then print the QR code the
    patient scans (at discharge, or at home) to receive follow-ups in WeChat."""
    contact = get_object_or_404(Contact, pk=contact_id, anonymised_at__isnull=True)
    account = wechat.wechat_account_get()
    offer, error = None, ""
    if request.method == "POST" and account is not None:
        if request.POST.get("consent") != "yes":
            error = _("Tick the box once the patient has agreed.")
        else:
            try:
                offer = wechat.wechat_link_offer(
                    contact=contact, source=WeChatLinkToken.Source.SLIP, consent_by=request.user
                )
            except ProviderError as exc:
                error = _("WeChat could not make a QR code: %(reason)s") % {"reason": exc}
    return render(
        request,
        "crm/wechat_slip.html",
        {
            "contact": contact,
            "account": account,
            "offer": offer,
            "error": error,
            "links": WeChatLink.objects.filter(contact=contact),
        },
        status=400 if error else 200,
    )


@csrf_exempt
@require_http_methods(["GET", "POST"])
def wechat_hook(request, secret):
    """WeChat's server configuration URL: GET answers the echostr of the URL check, POST
    receives an event. Both are signed with the clinic's Token; WeChat wants "success" (or an
    empty answer) within five seconds, else it sends the event again."""
    account = wechat.wechat_account_for_hook(secret)
    if account is None:
        key = f"wechat:hook:{connection.schema_name}:{request.META.get('REMOTE_ADDR', '')}"
        if not ratelimit.hit(key, limit=WRONG_HOOKS_PER_HOUR, seconds=3600):
            return HttpResponse(status=429)
        raise Http404
    query = request.GET.dict()
    if not wechat.wechat_push_verified(account=account, query=query):
        return HttpResponseForbidden("invalid signature")
    if request.method == "GET":
        return HttpResponse(query.get("echostr", ""), content_type="text/plain")
    try:
        xml = wechat.wechat_push_open(account=account, query=query, body=request.body)
        done = wechat.wechat_event_receive(xml=xml)
    except ValueError:
        return HttpResponseBadRequest("not a WeChat push")
    log.info("WeChat push: %s", done)  # what was done, never who
    return HttpResponse("success", content_type="text/plain")

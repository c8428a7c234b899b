"""The outbox page, message templates, and the SMS provider's callbacks (delivery reports
and inbound replies), which arrive unauthenticated but signed."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.http import HttpResponse, HttpResponseForbidden
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from saas.links import secret_links_masked

from ..forms import MessageTemplateForm
from ..gateways.twilio import signature_valid
from ..message_templates import DEFAULTS, MESSAGE_VARIABLES
from ..models import AuditEntry, InboundMessage, Message, MessageTemplate
from ..models.messages import Channel, Purpose
from ..phones import phone_mask
from ..roles import MANAGE_MESSAGES, VIEW_OUTBOX
from ..services import outbox, sms_accounts, sms_replies
from ..services.audit import audit_record

view_outbox = permission_required(VIEW_OUTBOX, raise_exception=True)
manage_messages = permission_required(MANAGE_MESSAGES, raise_exception=True)


@login_required
@view_outbox
def outbox_list(request):
    status = request.GET.get("status", "")
    shown = Message.objects.select_related("contact")
    if status in Message.Status.values:
        shown = shown.filter(status=status)
    page = Paginator(shown, 50).get_page(request.GET.get("page"))
    for message in page:
        message.to_shown = phone_mask(message.to) if message.channel == "sms" else message.to
        # A live survey link answers as the patient: staff see that one was sent, not which.
        message.body_shown = secret_links_masked(message.body)
    # The page shows recipients (names, masked numbers, email addresses) and replies.
    audit_record(
        request.user,
        AuditEntry.Action.OUTBOX_VIEWED,
        detail={"status": status if status in Message.Status.values else "", "page": page.number},
    )
    return render(
        request,
        "crm/outbox.html",
        {
            "page": page,
            "status": status,
            "statuses": Message.Status.choices,
            "sms_configured": bool(settings.SMS_API_BASE) or sms_accounts.sms_account() is not None,
            "requeueable": outbox.outbox_requeueable().count()
            if request.user.has_perm(MANAGE_MESSAGES)
            else 0,
            "inbound": InboundMessage.objects.select_related("contact")[:20],
        },
    )


@require_POST
@login_required
@manage_messages
def outbox_requeue(request):
    requeued = outbox.outbox_requeue_failed()
    audit_record(request.user, AuditEntry.Action.OUTBOX_REQUEUED, detail={"count": requeued})
    messages.success(
        request,
        ngettext(
            "%(count)d failed message is queued again; it goes out in the next message hour.",
            "%(count)d failed messages are queued again; they go out in the next message hour.",
            requeued,
        )
        % {"count": requeued},
    )
    return redirect("outbox")


@login_required
@manage_messages
def message_template_list(request):
    existing = {(t.purpose, t.channel, t.language): t for t in MessageTemplate.objects.all()}
    languages = dict(MessageTemplate._meta.get_field("language").choices)
    rows = [
        {
            "key": key,
            "label": f"{Purpose(key[0]).label} · {Channel(key[1]).label} · {languages[key[2]]}",
            "template": existing.get(key),
            "default": DEFAULTS[key],
        }
        for key in DEFAULTS
    ]
    return render(request, "crm/message_templates.html", {"rows": rows})


@require_POST
@login_required
@manage_messages
def message_template_customise(request):
    """Start a clinic's own text of one purpose, channel and language from the default."""
    key = (request.POST.get("purpose"), request.POST.get("channel"), request.POST.get("language"))
    if key not in DEFAULTS:
        return HttpResponse(status=400)
    subject, body = DEFAULTS[key]
    template, _created = MessageTemplate.objects.get_or_create(
        purpose=key[0], channel=key[1], language=key[2], defaults={"subject": subject, "body": body}
    )
    return redirect("message_template_edit", template.pk)


@login_required
@manage_messages
def message_template_edit(request, template_id):
    template = get_object_or_404(MessageTemplate, pk=template_id)
    form = MessageTemplateForm(request.POST or None, instance=template)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, _("Message template saved."))
        return redirect("message_template_list")
    return render(
        request,
        "crm/message_template_form.html",
        {
            "form": form,
            "template": template,
            "variables": MESSAGE_VARIABLES,
            "templated_provider": sms_accounts.sms_account_templated(),
        },
        status=400 if request.method == "POST" else 200,
    )


def _signed(request) -> bool:
    url = request.build_absolute_uri()
    params = {key: request.POST.get(key) for key in request.POST}
    return signature_valid(
        url, params, request.headers.get("X-Twilio-Signature", ""), settings.SMS_AUTH_TOKEN
    )


@csrf_exempt
@require_POST
def sms_status(request):
    """Delivery report: MessageSid + MessageStatus, signed by the provider."""
    if not _signed(request):
        return HttpResponseForbidden("invalid signature")
    outbox.delivery_report(
        request.POST.get("MessageSid", ""),
        request.POST.get("MessageStatus", ""),
        request.POST.get("ErrorCode", ""),
    )
    return HttpResponse(status=204)


@csrf_exempt
@require_POST
def sms_inbound(request):
    """A contact's reply: answered with an empty TwiML document (we send no auto-reply)."""
    if not _signed(request):
        return HttpResponseForbidden("invalid signature")
    sid = request.POST.get("MessageSid", "")
    if not sid:
        return HttpResponse("MessageSid missing", status=400)
    sms_replies.sms_received(
        provider_id=sid, from_number=request.POST.get("From", ""), body=request.POST.get("Body", "")
    )
    return HttpResponse(
        '<?xml version="1.0" encoding="UTF-8"?><Response></Response>', content_type="text/xml"
    )

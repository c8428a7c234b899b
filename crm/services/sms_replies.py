"""SMS a contact sends back: "TD" / "STOP" opts them out; a digit answers the one-question
satisfaction SMS they were sent; anything else is kept for staff to read."""

import re
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from saas import clock
from surveys.models import SurveyInvitation
from surveys.services.responses import AlreadyAnswered, response_submit

from .. import crypto
from ..models import ContactPhone, InboundMessage, Message
from ..models.messages import Purpose
from ..phones import phone_normalise
from .followup import contact_opt_out

Result = InboundMessage.Result

# Opt-out words of Chinese carriers' convention and of the English-speaking world.
OPT_OUT_WORDS = {"TD", "T", "退订", "STOP", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"}
DIGIT = re.compile(r"^\s*(\d{1,2})\s*[.。!！]?\s*$")
REPLY_DAYS = 14  # a digit answers a satisfaction SMS sent at most this long ago


@transaction.atomic
def sms_received(
    *, provider_id: str, from_number: str, body: str, now: datetime | None = None
) -> InboundMessage:
    """Record one inbound SMS and act on it. The provider's id makes a redelivered webhook
    a no-op."""
    now = now or clock.now()
    existing = InboundMessage.objects.filter(provider_id=provider_id).first()
    if existing is not None:
        return existing
    try:
        number = phone_normalise(from_number, connection.tenant.phone_region)
    except ValidationError:
        number = from_number.strip()[:32]
    phones = ContactPhone.objects.numbered(number).select_related("contact")
    contacts = [phone.contact for phone in phones]
    inbound = InboundMessage(
        provider_id=provider_id,
        from_number=number,
        body=body[:2000],
        contact=contacts[0] if contacts else None,
        result=Result.UNMATCHED,
    )
    word = body.strip().upper()
    if contacts and word in OPT_OUT_WORDS:
        for contact in contacts:
            if not contact.do_not_contact:
                contact_opt_out(contact, f"SMS: {body.strip()[:40]}", now=now)
        inbound.result = Result.OPTED_OUT
    elif contacts:
        inbound.result = Result.KEPT
        match = DIGIT.match(body)
        if match:
            answered = _rating_reply(number, int(match.group(1)), now)
            if answered is not None:
                inbound.reply_to = answered
                inbound.result = Result.ANSWERED
    try:
        with transaction.atomic():
            inbound.save()
    except IntegrityError:  # the same webhook, delivered twice at once
        return InboundMessage.objects.get(provider_id=provider_id)
    return inbound


def _rating_reply(number: str, digit: int, now: datetime) -> Message | None:
    """Answer the newest unanswered one-question SMS sent to this number, if the digit is on
    its scale."""

    invitation = (
        SurveyInvitation.objects.select_related("template__published", "contact", "message")
        .filter(
            message__to_index=crypto.blind_phone(number),
            message__purpose=Purpose.SURVEY_SMS,
            message__created_at__gte=now - timedelta(days=REPLY_DAYS),
            answered_at__isnull=True,
            expires_at__gt=now,
        )
        .order_by("-message__created_at")
        .first()
    )
    if invitation is None or invitation.template.published is None:
        return None
    version = invitation.template.published
    question = version.questions[0]
    if question["kind"] != "rating" or not 1 <= digit <= 5:
        return None
    try:
        response_submit(
            version,
            {question["key"]: digit},
            contact=invitation.contact,
            source="sms_reply",
            invitation=invitation,
            language=invitation.language,
            now=now,
        )
    except AlreadyAnswered:
        return None
    return invitation.message

"""What a template SMS provider reports back: delivery reports and patients' replies, pushed
to our callback address or fetched by the tick's pull. Each is kept once by the provider's
id, so a replayed push or a pull of something already pushed changes nothing."""

import secrets
from datetime import datetime, timedelta

from django.core.exceptions import PermissionDenied

from saas import clock

from ..gateways import PendingReceipt, ProviderError, Receipt, Reply
from ..models import Message
from ..models.messages import Channel
from .sms_accounts import (
    REPORTS_KEPT_FOR,
    TEMPLATE_GATEWAYS,
    gateway_for,
    receipts_apply,
    receipts_record,
    sms_account,
)
from .sms_replies import sms_received

# A message not reported on after this long is asked about by pull (where the provider has
# a pull by message).
PULL_AFTER = timedelta(minutes=10)
PULL_BATCH = 200


def replies_record(replies: list[Reply], *, now: datetime | None = None) -> int:
    for reply in replies:
        sms_received(
            provider_id=reply.provider_id, from_number=reply.from_number, body=reply.body, now=now
        )
    return len(replies)


def sms_callback(*, provider: str, secret: str, kind: str, body: bytes) -> tuple[str, bytes]:
    """A template provider's push of delivery reports ("status") or replies ("inbound").
    Neither provider signs its pushes: the address carries the account's secret, compared in
    constant time. Returns the answer the provider expects."""
    account = sms_account()
    if (
        account is None
        or account.provider != provider
        or provider not in TEMPLATE_GATEWAYS
        or not secrets.compare_digest(account.callback_secret, secret)
    ):
        raise PermissionDenied("unknown callback address")
    gateway = gateway_for(account)
    items = gateway.callback_parse(kind, body)  # ValueError on a body not of the provider
    receipts_record([item for item in items if isinstance(item, Receipt)])
    replies_record([item for item in items if isinstance(item, Reply)])
    return gateway.callback_ack()


def sms_pull_wanted() -> bool:
    account = sms_account()
    return account is not None and account.provider in TEMPLATE_GATEWAYS


def sms_pull(*, now: datetime | None = None) -> int:
    """Ask a template provider for what it has not pushed: reports of messages sent a while
    ago and still "sent", and replies. Run by the tick; a provider that cannot be reached is
    asked again at the next one."""
    now = now or clock.now()
    account = sms_account()
    if account is None or account.provider not in TEMPLATE_GATEWAYS:
        return 0
    gateway = gateway_for(account)
    pending = [
        PendingReceipt(provider_id=provider_id, to=to, sent_at=sent_at)
        for provider_id, to, sent_at in Message.objects.filter(
            channel=Channel.SMS,
            status=Message.Status.SENT,
            sent_at__lte=now - PULL_AFTER,
            sent_at__gte=now - REPORTS_KEPT_FOR,
        )
        .exclude(provider_id="")
        .order_by("sent_at")
        .values_list("provider_id", "to", "sent_at")[:PULL_BATCH]
    ]
    try:
        receipts = gateway.receipts_pull(pending) if pending else []
        replies = gateway.replies_pull()
    except ProviderError:
        return 0
    receipts_record(receipts, now=now)
    receipts_apply(now=now)
    return len(receipts) + replies_record(replies, now=now)

"""The outbox: messages are written in the transaction that causes them and sent by a
worker after it commits. A message is taken for sending by one conditional UPDATE, so a
redelivered task or two workers never send it twice; a provider failure puts it back in
the queue with a growing delay until MAX_ATTEMPTS, after which it is failed with the error
kept. Nothing is ever deleted."""

import json
import logging
from datetime import UTC, datetime, timedelta

from django.core.mail import EmailMessage
from django.db import connection, transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils.translation import gettext as _

from billing import entitlements
from saas import clock
from saas.celery import enqueue_on_commit
from surveys.models import SurveyInvitation
from tenants.links import tenant_url

from ..calendar import next_calling_time, tenant_zone
from ..gateways import ProviderError, Sent
from ..gateways.wechat import UNREACHABLE
from ..message_templates import DEFAULTS, render_text
from ..models import FollowUpTask, Message, MessageTemplate
from ..models.messages import Channel, Purpose
from .channels import contact_routes, step_channel_of
from .sms_accounts import (
    gateway_for,
    outgoing_for,
    receipts_apply,
    sms_account,
    template_mappings,
)
from .wechat import wechat_account_get, wechat_gateway, wechat_outgoing, wechat_unfollowed

UNREACHABLE_CODES = {str(code) for code in UNREACHABLE}

log = logging.getLogger(__name__)
Status = Message.Status
TaskStatus = FollowUpTask.Status
Metric = entitlements.Metric

# A provider outage of hours is outlived: 12 attempts over some six hours (retry_delay).
MAX_ATTEMPTS = 12
BATCH = 100  # messages a worker sends over one provider connection
# A message left "sending" this long was taken by a worker that died mid-send: it goes back
# to the queue (the provider's idempotency token keeps a resend from reaching the phone twice).
STALE_SENDING = timedelta(minutes=10)


RETRY_CAP = timedelta(hours=1)
# "Requeue failed" sends again what an outage failed this recently: a reminder or a survey
# link more than a week late does more harm than good.
REQUEUE_WINDOW = timedelta(days=7)


def retry_delay(attempts: int, *, key: int = 0) -> timedelta:
    """1, 2, 4, 8 … minutes after the n-th failed attempt, an hour at most, plus up to a fifth
    more that differs from one ``key`` (message, delivery) to the next: after an outage the
    retries of a thousand messages do not all arrive in the same second."""
    delay = min(timedelta(minutes=2 ** max(attempts - 1, 0)), RETRY_CAP)
    spread = (key * 2654435761 + attempts) % (int(delay.total_seconds()) // 5 + 1)
    return delay + timedelta(seconds=spread)


def message_render(purpose: str, channel: str, language: str, variables: dict) -> tuple[str, str]:
    """(subject, body) from the clinic's template of this purpose, channel and language,
    else from the built-in default."""
    language = "en" if language.startswith("en") else "zh-hans"
    template = MessageTemplate.objects.filter(
        purpose=purpose, channel=channel, language=language
    ).first()
    if template is not None:
        subject, body = template.subject, template.body
    else:
        subject, body = DEFAULTS[(purpose, channel, language)]
    return render_text(subject, variables), render_text(body, variables)


def message_queue(
    *,
    channel: str,
    purpose: str,
    to: str,
    body: str,
    subject: str = "",
    contact=None,
    task=None,
    now: datetime | None = None,
    respect_hours: bool = True,
    variables: dict | None = None,
    language: str = "",
) -> Message:
    """Write a message to the outbox (in the caller's transaction); it is handed to a worker
    when that transaction commits, or by the tick once the clinic's message hours begin.
    ``variables`` and ``language`` are what ``body`` was rendered from: a template SMS
    provider sends its approved template with them instead of the text."""
    now = now or clock.now()
    send_after = now
    if respect_hours:
        tenant = connection.tenant
        send_after = next_calling_time(now, tenant.message_hours, tenant_zone(tenant))
    message = Message.objects.create(
        channel=channel,
        purpose=purpose,
        to=to,
        subject=subject,
        body=body,
        variables=json.dumps(variables, default=str) if variables else "",
        language=language,
        contact=contact,
        task=task,
        send_after=send_after,
    )
    if send_after <= now:
        enqueue_on_commit("crm.tasks.message_send_task", message.pk)
    return message


def _take(message_ids: list[int], now: datetime) -> list[Message]:
    """Claim the queued, due ones among ``message_ids`` for this worker, in one statement:
    a message another worker took, already sent, or not due yet, is left out."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE crm_message SET status = %s, attempts = attempts + 1"
            " WHERE id = ANY(%s) AND status = %s AND send_after <= %s RETURNING id",
            [Status.SENDING, list(message_ids), Status.QUEUED, now],
        )
        taken = [row[0] for row in cursor.fetchall()]
    return list(Message.objects.filter(pk__in=taken).order_by("pk"))


def messages_send(message_ids: list[int], *, now: datetime | None = None) -> dict[int, str]:
    """Send a batch of messages over one provider connection; returns each taken message's
    new status. The results are written in one transaction (one commit for the batch)."""
    now = now or clock.now()
    taken = _hold_over_allowance(_hold_over_frequency(_take(message_ids, now), now), now)
    if not taken:
        return {}
    account = sms_account()
    provider = gateway_for(account)
    sign_name = account.sign_name if account else ""
    mappings = template_mappings(provider.name) if provider.templated else {}
    wechat = _WeChatSender()
    results = []
    for message in taken:
        try:
            if message.channel == Channel.WECHAT:
                results.append((message, wechat.send(message), None))
                continue
            results.append((message, _deliver(message, provider, sign_name, mappings), None))
        except ProviderError as exc:
            results.append((message, None, exc))
        except Exception as exc:  # an unexpected error must not leave the message "sending"
            log.exception("Message %s: unexpected error while sending", message.pk)
            results.append(
                (message, None, ProviderError(f"{type(exc).__name__}: {exc}", retryable=True))
            )
    statuses = {}
    fallen_back = []
    with transaction.atomic():
        unsent_sms = sum(1 for m, _sent, error in results if error and m.channel == Channel.SMS)
        entitlements.usage_release(connection.tenant, Metric.SMS, unsent_sms, now=now)
        for message, sent, error in results:
            wechat_blocked = (
                error is not None and error.blocked and message.channel == Channel.WECHAT
            )
            if wechat_blocked and _wechat_fall_back(message, error, now=now):
                statuses[message.pk] = Status.QUEUED
                fallen_back.append(message.pk)
                continue
            if error is not None:
                statuses[message.pk] = _failed(message, error, now=now)
                continue
            Message.objects.filter(pk=message.pk).update(
                status=Status.DELIVERED if sent.delivered else Status.SENT,
                provider_id=sent.provider_id,
                sent_at=now,
                delivered_at=now if sent.delivered else None,
                last_error="",
            )
            message_result(message, sent=True, now=now)
            statuses[message.pk] = Status.SENT
    # A provider may report delivery before the id above was written: apply such reports now.
    receipts_apply(provider_ids=[sent.provider_id for _m, sent, error in results if not error])
    if fallen_back:
        # At once, by the next channel, through the same limits as any SMS or email.
        statuses.update(messages_send(fallen_back, now=now))
    return statuses


class _WeChatSender:
    """The clinic's Official Account for the WeChat messages of a batch, opened at the
    first one."""

    def __init__(self):
        self.gateway = None

    def send(self, message: Message) -> Sent:
        if self.gateway is None:
            account = wechat_account_get()
            if account is None:
                # Disconnected since the message was queued: the next channel takes it.
                raise ProviderError(
                    _("The clinic's WeChat Official Account is not connected."),
                    retryable=False,
                    blocked=True,
                    code="no_account",
                )
            self.gateway = wechat_gateway(account)
        return self.gateway.send(
            wechat_outgoing(message, key=f"{connection.schema_name}-{message.pk}")
        )


def _wechat_fall_back(message: Message, error: ProviderError, *, now: datetime) -> bool:
    """A WeChat message its user cannot receive (unfollowed: 43004; not a user of the
    account: 40003) becomes, in place, the same message by the next channel of the clinic's
    order, queued at once; the user's links stop being used. Nothing was delivered in WeChat,
    so nothing goes twice; the message keeps its follow-up and survey link. False when the
    contact has no other way to be reached (the message then fails with the reason)."""
    if error.code in UNREACHABLE_CODES:
        wechat_unfollowed(openid=message.to, now=now)
    contact = message.contact
    if contact is None or contact.do_not_contact:
        return False
    routes = contact_routes(
        contact,
        step_channel=step_channel_of(message),
        purpose=message.purpose,
        exclude=(Channel.WECHAT,),
    )
    if not routes:
        return False
    route = routes[0]
    language = message.language or connection.tenant.locale
    variables = json.loads(message.variables or "{}")
    message.subject, message.body = message_render(
        message.purpose, route.channel, language, variables
    )
    message.channel, message.to = route.channel, route.to
    message.status, message.send_after = Status.QUEUED, now
    message.last_error = _("Not delivered in WeChat (%(reason)s): sent by %(channel)s instead.") % {
        "reason": error,
        "channel": Channel(route.channel).label,
    }
    message.save(
        update_fields=[
            "channel",
            "to",
            "to_index",
            "subject",
            "body",
            "status",
            "send_after",
            "last_error",
        ]
    )
    SurveyInvitation.objects.filter(message=message).update(channel=route.channel)
    return True


FREQUENCY_DAY = timedelta(hours=24)
FREQUENCY_MONTH = timedelta(days=30)


def _hold_over_frequency(taken: list[Message], now: datetime) -> list[Message]:
    """The clinic's limits per phone number (Tenant.sms_per_number_day / _month), before the
    provider's: an SMS over the 24-hour limit waits until the oldest of those 24 hours has
    passed (in message hours); one over the 30-day limit is failed now, with the reason, so a
    rule gone wrong cannot flood a patient. Messages already sent, and the ones before it in
    this batch, count. (Two workers sending to one number in the same second may both pass.)"""
    tenant = connection.tenant
    sms = [m for m in taken if m.channel == Channel.SMS]
    if not sms:
        return taken
    # By the numbers' blind index (crm.fields): the recipients are stored encrypted.
    sent_to: dict[str, list[datetime]] = {}
    for to_index, sent_at in Message.objects.filter(
        channel=Channel.SMS,
        to_index__in={m.to_index for m in sms},
        sent_at__gte=now - FREQUENCY_MONTH,
    ).values_list("to_index", "sent_at"):
        sent_to.setdefault(to_index, []).append(sent_at)
    waiting, refused = {}, []
    for message in sms:
        times = sent_to.setdefault(message.to_index, [])
        times.sort()
        last_day = [t for t in times if t > now - FREQUENCY_DAY]
        if len(times) >= tenant.sms_per_number_month:
            refused.append(message)
        elif len(last_day) >= tenant.sms_per_number_day:
            waiting[message.pk] = next_calling_time(
                last_day[-tenant.sms_per_number_day] + FREQUENCY_DAY,
                tenant.message_hours,
                tenant_zone(tenant),
            )
        else:
            times.append(now)  # to be sent now: counts for the next in this batch
    for message_id, send_after in waiting.items():
        Message.objects.filter(pk=message_id).update(
            status=Status.QUEUED,
            attempts=F("attempts") - 1,  # not an attempt: nothing was tried
            send_after=send_after,
            last_error=_(
                "This number already received %(count)d SMS in 24 hours (the clinic's limit): "
                "waits until the 24 hours have passed."
            )
            % {"count": tenant.sms_per_number_day},
        )
    for message in refused:
        reason = _(
            "Not sent: this number already received %(count)d SMS in 30 days (the clinic's limit)."
        ) % {"count": tenant.sms_per_number_month}
        Message.objects.filter(pk=message.pk).update(
            status=Status.FAILED, failed_at=now, last_error=reason
        )
        message_result(message, sent=False, now=now)
    held = set(waiting) | {m.pk for m in refused}
    return [m for m in taken if m.pk not in held]


def _hold_over_allowance(taken: list[Message], now: datetime) -> list[Message]:
    """SMS beyond the plan's monthly allowance are not sent: they go back to the queue until
    the next month begins (an upgrade lets the next tick send them), and say why."""
    sms = [m for m in taken if m.channel == Channel.SMS]
    granted = entitlements.usage_reserve(connection.tenant, Metric.SMS, len(sms), now=now)
    held = sms[granted:]
    if not held:
        return taken
    next_month = entitlements.next_period_start(now)
    Message.objects.filter(pk__in=[m.pk for m in held]).update(
        status=Status.QUEUED,
        attempts=F("attempts") - 1,  # not an attempt: nothing was tried
        send_after=datetime(next_month.year, next_month.month, 1, tzinfo=UTC),
        last_error=_("This month's SMS allowance is used up: waits for the next month."),
    )
    held_ids = {m.pk for m in held}
    return [m for m in taken if m.pk not in held_ids]


def message_send(message_id: int, *, now: datetime | None = None) -> str | None:
    """Send one message; its new status, or None when it was not this worker's to send."""
    return messages_send([message_id], now=now).get(message_id)


def _deliver(message: Message, provider, sign_name: str, mappings: dict) -> Sent:
    if message.channel == Channel.EMAIL:
        try:
            EmailMessage(message.subject, message.body, None, [message.to]).send()
        except OSError as exc:  # smtplib's errors are OSErrors: connection, refused, timeout
            raise ProviderError(f"{type(exc).__name__}: {exc}", retryable=True) from exc
        return Sent(provider_id=f"email-{message.pk}")

    return provider.send(
        outgoing_for(
            message,
            provider,
            key=f"{connection.schema_name}-{message.pk}",
            status_url=tenant_url(connection.tenant, reverse("sms_status")),
            sign_name=sign_name,
            mappings=mappings,
        )
    )


def _failed(message: Message, error: ProviderError, *, now: datetime) -> str:
    if error.retryable and message.attempts < MAX_ATTEMPTS:
        if error.retry_after is not None:  # the provider said when (a limit per number)
            tenant = connection.tenant
            send_after = next_calling_time(
                now + error.retry_after, tenant.message_hours, tenant_zone(tenant)
            )
        else:
            send_after = now + retry_delay(message.attempts, key=message.pk)
        Message.objects.filter(pk=message.pk).update(
            status=Status.QUEUED, send_after=send_after, last_error=str(error)
        )
        return Status.QUEUED
    text = str(error)
    if error.blocked:
        text = _("The provider refuses this number: %(reason)s") % {"reason": text}
    Message.objects.filter(pk=message.pk).update(
        status=Status.FAILED, failed_at=now, last_error=text
    )
    message_result(message, sent=False, now=now)
    log.warning("Message %s failed after %s attempts", message.pk, message.attempts)
    return Status.FAILED


def message_result(message: Message, *, sent: bool, now: datetime) -> None:
    """What a sent or failed message means for its follow-up: a plain message follow-up is
    done once sent; a failed one is unreachable. Survey follow-ups wait for the answer."""
    if message.task_id is None or message.purpose != Purpose.FOLLOW_UP:
        return
    tasks = FollowUpTask.objects.filter(pk=message.task_id, status__in=FollowUpTask.OPEN)
    if sent:
        tasks.update(
            status=TaskStatus.COMPLETED,
            completed_at=now,
            result_summary=_("Message sent"),
            updated_at=now,
        )
    else:
        tasks.update(
            status=TaskStatus.UNREACHABLE,
            reason=FollowUpTask.Reason.MESSAGE_FAILED,
            completed_at=now,
            updated_at=now,
        )


def outbox_requeueable(*, now: datetime | None = None):
    """Failed messages that "requeue failed" sends again: those whose retries an outage used
    up in the last week (a number the provider refused at once would be refused again), to a
    contact who may still be contacted, whose follow-up window, if any, is still open."""
    now = now or clock.now()
    return (
        Message.objects.filter(
            status=Status.FAILED,
            attempts__gte=MAX_ATTEMPTS,
            failed_at__gte=now - REQUEUE_WINDOW,
        )
        .exclude(contact__do_not_contact=True)
        .exclude(contact__deceased=True)
        .filter(Q(task__isnull=True) | Q(task__closes_at__gt=now))
    )


@transaction.atomic
def outbox_requeue_failed(*, now: datetime | None = None) -> int:
    """Queue the requeueable failed messages again with a fresh set of attempts, from the
    clinic's next message hour; the tick sends them. A follow-up its failure had closed as
    unreachable is open again, so that the message, once sent, completes it."""
    now = now or clock.now()
    tenant = connection.tenant
    send_after = next_calling_time(now, tenant.message_hours, tenant_zone(tenant))
    messages = list(outbox_requeueable(now=now).select_for_update(of=("self",)))
    Message.objects.filter(pk__in=[m.pk for m in messages]).update(
        status=Status.QUEUED, attempts=0, send_after=send_after, failed_at=None
    )
    FollowUpTask.objects.filter(
        pk__in=[m.task_id for m in messages if m.purpose == Purpose.FOLLOW_UP],
        status=TaskStatus.UNREACHABLE,
        reason=FollowUpTask.Reason.MESSAGE_FAILED,
    ).update(status=TaskStatus.PENDING, reason="", completed_at=None, updated_at=now)
    return len(messages)


def outbox_due(*, now: datetime | None = None) -> list[int]:
    """Ids of queued messages whose time has come (after quiet hours or a retry delay), and
    of messages a dead worker left "sending", which go back to the queue first."""
    now = now or clock.now()
    Message.objects.filter(status=Status.SENDING, send_after__lte=now - STALE_SENDING).update(
        status=Status.QUEUED
    )
    return list(
        Message.objects.filter(status=Status.QUEUED, send_after__lte=now)
        .order_by("send_after", "pk")
        .values_list("pk", flat=True)[:5000]
    )


DELIVERY_STATUS = {
    "delivered": Status.DELIVERED,
    "undelivered": Status.FAILED,
    "failed": Status.FAILED,
}


def delivery_report(provider_id: str, provider_status: str, error_code: str = "") -> bool:
    """A provider's delivery callback. Returns whether it matched one of our messages."""
    status = DELIVERY_STATUS.get(provider_status)
    messages = Message.objects.filter(provider_id=provider_id)
    if not messages.exists():
        return False
    if status == Status.DELIVERED:
        messages.filter(status__in=[Status.SENT, Status.SENDING]).update(
            status=Status.DELIVERED, delivered_at=clock.now()
        )
    elif status == Status.FAILED:
        messages.exclude(status=Status.FAILED).update(
            status=Status.FAILED,
            failed_at=clock.now(),
            last_error=f"{provider_status} {error_code}".strip(),
        )
    return True


def contact_messages_cancel(contact) -> int:
    """An opted-out contact gets nothing more that is still waiting."""
    return Message.objects.filter(contact=contact, status=Status.QUEUED).update(
        status=Status.CANCELLED
    )

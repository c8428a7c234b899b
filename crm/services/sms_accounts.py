"""The clinic's SMS provider: which gateway carries its SMS, the mapping of its message
templates to the provider's approved templates, "send a test", and the delivery reports it
sends back (crm.services.sms_reports receives them).

A clinic without an account of its own sends through the platform's provider
(settings.SMS_API_BASE), or nowhere when that is unset (the local gateway only records)."""

import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils.translation import gettext as _

from saas import clock

from ..gateways import Gateway, Outgoing, ProviderError, Receipt
from ..gateways.aliyun import AliyunSms
from ..gateways.tencent import TencentSms
from ..gateways.twilio import LocalSms, TwilioCompatibleSms
from ..message_templates import MESSAGE_VARIABLES
from ..models import AuditEntry, Message, MessageTemplate, SmsAccount, SmsReceipt
from ..models.messages import Channel, Purpose
from ..phones import phone_normalise
from .audit import audit_record

Provider = SmsAccount.Provider
Status = Message.Status
# The providers that send only templates they approved (Alibaba Cloud, Tencent Cloud).
TEMPLATE_GATEWAYS: dict[str, type] = {Provider.ALIYUN: AliyunSms, Provider.TENCENT: TencentSms}

# Reports are kept and applied for this long: a message not reported on by then stays "sent".
REPORTS_KEPT_FOR = timedelta(days=2)


def sms_account() -> SmsAccount | None:
    return SmsAccount.objects.order_by("pk").first()


def sms_account_templated() -> SmsAccount | None:
    """The clinic's account when its provider sends only approved templates."""
    account = sms_account()
    return account if account is not None and account.provider in TEMPLATE_GATEWAYS else None


def _endpoint(provider: str) -> str:
    """Where the provider's API is: its public endpoint unless settings.SMS_ENDPOINTS names
    another (the tests' fakes on 127.0.0.1)."""
    return settings.SMS_ENDPOINTS.get(provider, "")


def gateway_for(account: SmsAccount | None) -> Gateway:
    if account is None:
        if not settings.SMS_API_BASE:
            return LocalSms()
        return TwilioCompatibleSms(
            base=settings.SMS_API_BASE,
            account_sid=settings.SMS_ACCOUNT_SID,
            auth_token=settings.SMS_AUTH_TOKEN,
            sender=settings.SMS_FROM,
        )
    if account.provider == Provider.TWILIO:
        return TwilioCompatibleSms(
            base=_endpoint(Provider.TWILIO) or "https://api.twilio.com",
            account_sid=account.key_id,
            auth_token=account.key_secret,
            sender=account.app_id,
        )
    gateway_class = TEMPLATE_GATEWAYS[account.provider]
    return gateway_class(
        key_id=account.key_id,
        key_secret=account.key_secret,
        sign_name=account.sign_name,
        app_id=account.app_id,
        region=account.region,
        endpoint=_endpoint(account.provider),
    )


def sms_gateway() -> Gateway:
    return gateway_for(sms_account())


@transaction.atomic
def sms_account_save(
    *,
    actor,
    provider: str,
    key_id: str,
    key_secret: str,
    app_id: str = "",
    sign_name: str = "",
    region: str = "",
) -> SmsAccount:
    """Set the clinic's SMS provider. An empty ``key_secret`` keeps the stored one (the form
    never shows it again); changing the provider needs it anew."""
    account = sms_account() or SmsAccount(callback_secret=secrets.token_urlsafe(24))
    switched = account.pk is not None and account.provider != provider
    if not key_secret and (account.pk is None or switched):
        raise ValidationError({"key_secret": _("Enter the secret.")})
    if provider in TEMPLATE_GATEWAYS and not sign_name.strip():
        raise ValidationError({"sign_name": _("Enter the signature registered with the provider.")})
    if provider == Provider.TENCENT and not app_id.strip():
        raise ValidationError(
            {"app_id": _("Enter the SMS SDK AppID of the Tencent Cloud console.")}
        )
    if provider == Provider.TWILIO and not app_id.strip():
        raise ValidationError({"app_id": _("Enter the number or sender id messages come from.")})
    changed = sorted(
        name
        for name, value in {
            "provider": provider,
            "key_id": key_id.strip(),
            "app_id": app_id.strip(),
            "sign_name": sign_name.strip(),
            "region": region.strip(),
        }.items()
        if getattr(account, name) != value
    )
    account.provider = provider
    account.key_id = key_id.strip()
    if key_secret:
        account.key_secret = key_secret.strip()
        changed.append("key_secret")
    account.app_id, account.sign_name, account.region = (
        app_id.strip(),
        sign_name.strip(),
        region.strip(),
    )
    account.tested_at, account.test_result = None, ""
    account.save()
    if switched:
        # An approved template code belongs to one provider's account.
        MessageTemplate.objects.exclude(provider=provider).update(
            provider="", provider_template_code="", provider_params={}
        )
    audit_record(
        actor, AuditEntry.Action.SMS_PROVIDER_CHANGED, obj=account, detail={"fields": changed}
    )
    return account


@transaction.atomic
def sms_account_remove(*, actor) -> None:
    """Back to the platform's provider. The mappings are kept for a later return."""
    account = sms_account()
    if account is None:
        return
    audit_record(
        actor,
        AuditEntry.Action.SMS_PROVIDER_CHANGED,
        obj=account,
        detail={"fields": ["removed"]},
    )
    account.delete()


def _purpose_variables(purpose: str) -> set[str]:
    """The variables a message of this purpose is given (crm.services.followup_messages)."""
    if purpose == Purpose.COMPLAINT_OVERDUE:
        return {"complaint_url"}
    return set(MESSAGE_VARIABLES) - {"complaint_url"}


@transaction.atomic
def message_template_map(
    *, actor, template: MessageTemplate, code: str, params: dict[str, str]
) -> MessageTemplate:
    """Map our SMS template to the provider's approved template ``code``: ``params`` names,
    for each of the provider template's variables, the variable of ours that fills it. The
    provider is asked for the template; a code it does not know or has not approved, a
    variable left unfilled or filled by something ours does not have, is refused here, not
    when the worker sends at 3 a.m. An empty code removes the mapping."""
    account = sms_account()
    if account is None or account.provider not in TEMPLATE_GATEWAYS:
        raise ValidationError(_("The clinic's SMS provider does not use approved templates."))
    code = code.strip()
    if not code:
        template.provider, template.provider_template_code, template.provider_params = "", "", {}
        template.save(update_fields=["provider", "provider_template_code", "provider_params"])
        return template
    try:
        wanted = gateway_for(account).template_variables(code)
    except ProviderError as exc:
        raise ValidationError(
            _("The provider refused template %(code)s: %(reason)s"),
            params={"code": code, "reason": str(exc)},
        ) from exc
    ours = _purpose_variables(template.purpose)
    problems = []
    for name in wanted:
        filled_by = params.get(name, "")
        if not filled_by:
            problems.append(_("%(name)s is not filled") % {"name": name})
        elif filled_by not in ours:
            problems.append(
                _("%(name)s is filled by %(ours)s, which this message does not have")
                % {"name": name, "ours": filled_by}
            )
    extra = sorted(set(params) - set(wanted))
    if extra:
        problems.append(
            _("the provider's template has no variable %(names)s") % {"names": ", ".join(extra)}
        )
    if problems:
        raise ValidationError(
            _("Template %(code)s does not fit: %(problems)s."),
            params={"code": code, "problems": "; ".join(problems)},
        )
    template.provider = account.provider
    template.provider_template_code = code
    template.provider_params = {name: params[name] for name in wanted}
    template.save(update_fields=["provider", "provider_template_code", "provider_params"])
    audit_record(
        actor,
        AuditEntry.Action.MESSAGE_TEMPLATE_MAPPED,
        obj=template,
        detail={"provider": account.provider, "code": code},
    )
    return template


def template_mappings(provider: str) -> dict[tuple[str, str], MessageTemplate]:
    """The clinic's SMS texts mapped to ``provider``'s approved templates, by (purpose,
    language): read once for a worker's batch, not once a message."""
    return {
        (template.purpose, template.language): template
        for template in MessageTemplate.objects.filter(
            channel=Channel.SMS, provider=provider
        ).exclude(provider_template_code="")
    }


def outgoing_for(
    message: Message,
    gateway: Gateway,
    *,
    key: str,
    status_url: str,
    sign_name: str = "",
    mappings: dict[tuple[str, str], MessageTemplate] | None = None,
) -> Outgoing:
    """What the gateway sends for ``message``: its text, or for a template provider the
    mapped template and its parameters (``mappings`` from template_mappings, or read here)."""
    if not gateway.templated:
        return Outgoing(to=message.to, body=message.body, key=key, status_url=status_url)
    if mappings is None:
        mappings = template_mappings(gateway.name)
    language = "en" if message.language.startswith("en") else "zh-hans"
    mapping = mappings.get((message.purpose, language))
    if mapping is None:
        raise ProviderError(
            _(
                "No approved template of the SMS provider is mapped to “%(purpose)s” "
                "(%(language)s): map one on the Messages page, then queue the message again."
            )
            % {"purpose": Purpose(message.purpose).label, "language": message.language},
            retryable=False,
            code="unmapped",
        )
    variables = json.loads(message.variables or "{}")
    params = {
        theirs: str(variables.get(ours, "")) for theirs, ours in mapping.provider_params.items()
    }
    return Outgoing(
        to=message.to,
        body=message.body,
        key=key,
        status_url=status_url,
        template_code=mapping.provider_template_code,
        params=params,
        sign_name=sign_name,
    )


@dataclass(frozen=True)
class TestResult:
    ok: bool
    text: str


def sms_test_send(*, actor, to: str, now: datetime | None = None) -> TestResult:
    """Send the survey invitation, with sample values, to ``to`` at once (not through the
    outbox: the administrator waits for the answer), and keep the result on the account."""
    now = now or clock.now()
    account = sms_account()
    tenant = connection.tenant
    number = phone_normalise(to, tenant.phone_region)  # ValidationError says what is wrong
    gateway = gateway_for(account)
    language = "en" if tenant.locale.startswith("en") else "zh-hans"
    variables = {
        "contact_name": _("Test"),
        "clinic_name": tenant.name,
        "survey_link": "https://example.com/s/test",
        "survey_code": "TestCode23",
        "opt_out_link": "https://example.com/s/test/stop",
        "education_links": "",
        "return_visit_date": "",
        "follow_up_name": _("Test"),
    }
    message = Message(
        channel=Channel.SMS,
        purpose=Purpose.SURVEY,
        to=number,
        body=_("CareBridge test message from %(clinic)s.") % {"clinic": tenant.name},
        variables=json.dumps(variables),
        language=language,
    )
    try:
        sent = gateway.send(
            outgoing_for(
                message,
                gateway,
                key=f"{connection.schema_name}-test-{secrets.token_hex(6)}",
                status_url="",
                sign_name=account.sign_name if account else "",
            )
        )
        result = TestResult(True, _("Sent. The provider's id: %(id)s") % {"id": sent.provider_id})
    except ProviderError as exc:
        result = TestResult(False, str(exc))
    if account is not None:
        account.tested_at, account.test_result = now, result.text
        account.save(update_fields=["tested_at", "test_result", "updated_at"])
    audit_record(actor, AuditEntry.Action.SMS_TEST_SENT, obj=account, detail={"ok": result.ok})
    return result


def receipts_record(receipts: list[Receipt], *, now: datetime | None = None) -> int:
    """Keep each report once and apply it to its message; a report of a message whose id is
    not written yet waits (receipts_apply). Returns how many matched a message now."""
    now = now or clock.now()
    for receipt in receipts:
        try:
            with transaction.atomic():
                SmsReceipt.objects.create(
                    provider_id=receipt.provider_id[:64],
                    delivered=receipt.delivered,
                    error=receipt.error[:300],
                    received_at=now,
                )
        except IntegrityError:  # the same report again (a replayed callback, a pull)
            pass
    return receipts_apply(provider_ids=[r.provider_id[:64] for r in receipts], now=now)


@transaction.atomic
def receipts_apply(*, provider_ids: list[str] | None = None, now: datetime | None = None) -> int:
    """Apply kept reports not yet applied (of ``provider_ids``, or all of the last two days)
    to their messages. A "delivered" never turns into "failed" by a late report."""
    now = now or clock.now()
    pending = SmsReceipt.objects.select_for_update(skip_locked=True).filter(
        applied_at__isnull=True, received_at__gte=now - REPORTS_KEPT_FOR
    )
    if provider_ids is not None:
        pending = pending.filter(provider_id__in=provider_ids)
    applied = 0
    for receipt in pending:
        messages = Message.objects.filter(
            provider_id=receipt.provider_id, channel__in=[Channel.SMS, Channel.WECHAT]
        )
        if not messages.exists():
            continue
        if receipt.delivered:
            messages.filter(status__in=[Status.SENT, Status.SENDING]).update(
                status=Status.DELIVERED, delivered_at=now
            )
        else:
            messages.filter(status__in=[Status.SENT, Status.SENDING]).update(
                status=Status.FAILED, failed_at=now, last_error=receipt.error or _("Not delivered")
            )
        SmsReceipt.objects.filter(pk=receipt.pk).update(applied_at=now)
        applied += 1
    return applied

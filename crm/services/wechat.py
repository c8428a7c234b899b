"""WeChat Official Account (DESIGN.md §7a.9): connecting the clinic's account, the template
that carries each purpose of message, linking a contact to the WeChat user who scanned the
contact's QR code after consenting, and the events WeChat pushes to the clinic's callback."""

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import segno
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from wechatpy.crypto import WeChatCrypto
from wechatpy.events import (
    ScanEvent,
    SubscribeEvent,
    SubscribeScanEvent,
    TemplateSendJobFinishEvent,
    UnsubscribeEvent,
)
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException
from wechatpy.parser import parse_message
from wechatpy.utils import check_signature

from saas import clock

from .. import crypto
from ..gateways import Outgoing, ProviderError, Receipt
from ..gateways.wechat import WeChatGateway
from ..message_templates import MESSAGE_VARIABLES
from ..models import (
    AuditEntry,
    Contact,
    Message,
    WeChatAccount,
    WeChatEvent,
    WeChatLink,
    WeChatLinkToken,
)
from ..models.messages import Purpose
from ..models.wechat import WeChatTemplate
from .audit import audit_record
from .sms_accounts import receipts_record

# A QR code, and the consent behind it, stays usable this long (WeChat's longest for a
# temporary code): a discharge slip is often scanned days later.
LINK_DAYS = 30
# The purposes a clinic can send in WeChat: what goes to patients, with or without a survey.
WECHAT_PURPOSES = (Purpose.SURVEY, Purpose.FOLLOW_UP)
Source = WeChatLinkToken.Source


def wechat_account_get() -> WeChatAccount | None:
    return WeChatAccount.objects.first()


def wechat_gateway(account: WeChatAccount) -> WeChatGateway:
    return WeChatGateway(
        app_id=account.app_id, app_secret=account.app_secret, api_base=settings.WECHAT_API_BASE
    )


# --- the clinic's account ----------------------------------------------------------------


@transaction.atomic
def wechat_account_save(
    *, app_id: str, app_secret: str = "", token: str = "", encoding_aes_key: str = "", actor
) -> WeChatAccount:
    """Connect the clinic's Official Account, or change its credentials. The secrets are
    never shown again: left empty on a change, the stored ones stay."""
    account = WeChatAccount.objects.select_for_update().first()
    if account is None:
        if not (app_secret and token):
            raise ValidationError(_("Enter the AppSecret and the Token to connect the account."))
        account = WeChatAccount(hook_secret=secrets.token_urlsafe(24))
    changed = [name for name, value in (("app_id", app_id),) if value != account.app_id]
    account.app_id = app_id
    for name, value in (
        ("app_secret", app_secret),
        ("token", token),
        ("encoding_aes_key", encoding_aes_key),
    ):
        if value:
            setattr(account, name, value)
            changed.append(name)
    if {"app_id", "app_secret"} & set(changed):
        account.checked_at = None  # the test passed for other credentials
    account.save()
    # Names of what changed, never the values.
    audit_record(
        actor, AuditEntry.Action.WECHAT_CONNECTED, obj=account, detail={"changed": changed}
    )
    return account


def wechat_account_check(*, account: WeChatAccount, now: datetime | None = None) -> None:
    """ "Send a test": ask WeChat for an access token with the stored credentials. Raises
    ProviderError with the reason (a wrong AppSecret, an IP address not whitelisted …)."""
    wechat_gateway(account).access_token_check()
    account.checked_at = now or clock.now()
    account.save(update_fields=["checked_at", "updated_at"])


def wechat_template_save(
    *, account: WeChatAccount, purpose: str, template_id: str, data: dict[str, str]
) -> WeChatTemplate:
    """Map the template of one purpose: each of the template's data keys gets one of our
    message variables. Checked against the template WeChat has, so a mapping that does not
    fit is refused here, not when a worker sends at night. ValidationError with the reason."""
    if purpose not in WECHAT_PURPOSES:
        raise ValidationError(_("This kind of message is not sent in WeChat."))
    unknown = sorted(set(data.values()) - set(MESSAGE_VARIABLES))
    if unknown:
        raise ValidationError(
            _("Not a message variable: %(names)s.") % {"names": ", ".join(unknown)}
        )
    try:
        keys = wechat_gateway(account).template_variables(template_id)
    except ProviderError as exc:
        raise ValidationError(str(exc)) from exc
    if set(keys) != set(data):
        raise ValidationError(
            _(
                "The template's data keys are %(keys)s; map each of them, and only them, to a "
                "message variable."
            )
            % {"keys": ", ".join(keys)}
        )
    template, _created = WeChatTemplate.objects.update_or_create(
        purpose=purpose,
        defaults={"template_id": template_id, "data": {key: data[key] for key in keys}},
    )
    return template


# --- sending ---------------------------------------------------------------------------

# How long WeChat lets a value of each kind of template key be (characters); a longer one is
# refused with 47003. Our values (a clinic's or a follow-up's name) are cut to fit instead.
KEY_LIMITS = {"thing": 20, "name": 10, "phrase": 5, "character_string": 32, "letter": 32}


def _fitted(key: str, value: str) -> str:
    kind = key.rstrip("0123456789")
    limit = KEY_LIMITS.get(kind)
    if limit is None or len(value) <= limit:
        return value
    return value[: limit - 1] + "…"


def _template_values(template: WeChatTemplate, variables: dict) -> dict[str, str]:
    return {
        key: _fitted(key, " ".join(str(variables.get(ours) or "").split()) or "-")
        for key, ours in template.data.items()
    }


def wechat_text(purpose: str, variables: dict) -> str:
    """What the Outbox shows of a WeChat message: the template's values, one per line, and
    the link it opens."""
    template = WeChatTemplate.objects.get(purpose=purpose)
    lines = list(_template_values(template, variables).values())
    if variables.get("survey_link"):
        lines.append(variables["survey_link"])
    return "\n".join(lines)


def wechat_outgoing(message: Message, *, key: str) -> Outgoing:
    """The template message of ``message``: the template mapped to its purpose now, filled
    from the variables it was queued with; the survey link as the message's url."""
    template = WeChatTemplate.objects.filter(purpose=message.purpose).first()
    if template is None:
        raise ProviderError(
            _("No WeChat template is mapped to “%(purpose)s”: map one on the WeChat page.")
            % {"purpose": Purpose(message.purpose).label},
            retryable=False,
            code="unmapped",
        )
    variables = json.loads(message.variables or "{}")
    return Outgoing(
        to=message.to,
        body=message.body,
        key=key,
        template_code=template.template_id,
        params=_template_values(template, variables),
        link=variables.get("survey_link", ""),
    )


def wechat_unfollowed(*, openid: str, now: datetime) -> int:
    """WeChat says this user does not follow the account (any more): its links stop being
    used, until the user follows again."""
    return _links_of(openid).filter(following=True).update(following=False, unfollowed_at=now)


# --- linking a contact ----------------------------------------------------------------


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def contact_wechat_link(contact: Contact) -> WeChatLink | None:
    """The link by which the contact is reached in WeChat now: the latest of a user who still
    follows the account."""
    return WeChatLink.objects.filter(contact=contact, following=True).first()


def wechat_link_offered(contact: Contact) -> bool:
    """Whether the thank-you page offers the QR code: the clinic has connected an account
    and the contact is not reached in WeChat already."""
    return (
        not contact.do_not_contact
        and WeChatAccount.objects.exists()
        and contact_wechat_link(contact) is None
    )


@dataclass
class LinkOffer:
    token: WeChatLinkToken
    qr_svg: SafeString


def wechat_qr_svg(url: str, *, title: str) -> SafeString:
    """The QR code as inline SVG drawn here: the page loads nothing from WeChat."""
    return mark_safe(segno.make(url, error="m").svg_inline(scale=5, border=2, title=title))  # noqa: S308 (segno's own markup; the title is escaped by segno)


def wechat_link_offer(
    *, contact: Contact, source: str, consent_by=None, now: datetime | None = None
) -> LinkOffer:
    """A QR code that links whoever scans it and follows the account to ``contact``, made
    after the consent was given (by the patient on the thank-you page, or recorded by staff
    for a slip). The thank-you page shows the same code again rather than a new one each
    time. ProviderError when WeChat cannot make a code now."""
    now = now or clock.now()
    account = WeChatAccount.objects.get()
    token_row = None
    if source == Source.SURVEY:
        token_row = (
            WeChatLinkToken.objects.filter(
                contact=contact, source=Source.SURVEY, used_at__isnull=True, expires_at__gt=now
            )
            .order_by("-created_at")
            .first()
        )
    if token_row is None:
        # The scene WeChat will tell back: random, one-time, nothing personal in it.
        token = secrets.token_urlsafe(24)
        qr_url = wechat_gateway(account).qrcode_create(token, days=LINK_DAYS)
        with transaction.atomic():
            token_row = WeChatLinkToken.objects.create(
                token_hash=_token_hash(token),
                contact=contact,
                source=source,
                consent_at=now,
                consent_by=consent_by,
                qr_url=qr_url,
                expires_at=now + timedelta(days=LINK_DAYS),
            )
            if source == Source.SLIP:
                audit_record(
                    consent_by, AuditEntry.Action.WECHAT_SLIP_MADE, contact=contact, obj=token_row
                )
    title = _("Scan with WeChat and follow us")
    return LinkOffer(token=token_row, qr_svg=wechat_qr_svg(token_row.qr_url, title=title))


# --- the callback -------------------------------------------------------------------------


def wechat_account_for_hook(secret: str) -> WeChatAccount | None:
    """The clinic's account if ``secret`` is its callback's secret (compared in constant
    time); None for any other, including another clinic's."""
    account = wechat_account_get()
    if account is None or not secrets.compare_digest(account.hook_secret, secret):
        return None
    return account


def wechat_push_verified(*, account: WeChatAccount, query: dict) -> bool:
    """Whether a request to the callback is signed with the clinic's Token."""
    try:
        check_signature(
            account.token,
            query.get("signature", ""),
            query.get("timestamp", ""),
            query.get("nonce", ""),
        )
    except InvalidSignatureException:
        return False
    return True


def wechat_push_open(*, account: WeChatAccount, query: dict, body: bytes) -> bytes:
    """The XML of a push: as sent in plain mode, decrypted (and its msg_signature checked)
    in safe mode. ValueError when it cannot be opened."""
    if query.get("encrypt_type") != "aes":
        return body
    if not account.encoding_aes_key:
        raise ValueError("encrypted push, no EncodingAESKey")
    cipher = WeChatCrypto(account.token, account.encoding_aes_key, account.app_id)
    try:
        return cipher.decrypt_message(
            body, query.get("msg_signature", ""), query.get("timestamp", ""), query.get("nonce", "")
        ).encode()
    except (InvalidSignatureException, InvalidAppIdException) as exc:
        raise ValueError("the push does not open with the clinic's key") from exc


def _event_key(event) -> str:
    """An event's identity: its MsgId when it has one, else who, when and what (WeChat's
    own advice for deduplicating events); hashed, since the OpenID is personal data."""
    raw = event._data
    identity = raw.get("MsgId") or raw.get("MsgID")
    identity = identity or f"{event.source}:{raw.get('CreateTime', '')}:{raw.get('Event', '')}"
    return hashlib.sha256(str(identity).encode()).hexdigest()


def wechat_event_receive(*, xml: bytes, now: datetime | None = None) -> str:
    """Act on one push: a scan of a contact's QR code links the user (subscribe with
    qrscene_…, or SCAN by a user who follows already), unsubscribe marks the user's links
    unfollowed, following again without a code makes them usable again, and a template
    message's report is its delivery receipt. A push seen before is a no-op. Returns what
    was done (for the tests and the log); ValueError on a body that is not a push."""
    now = now or clock.now()
    try:
        event = parse_message(xml)
    except Exception as exc:  # expat's errors, a missing MsgType …
        raise ValueError("not a WeChat push") from exc
    if event is None or event.type != "event":
        return "ignored"
    with transaction.atomic():
        try:
            with transaction.atomic():
                WeChatEvent.objects.create(key=_event_key(event), event=event.event[:40])
        except IntegrityError:
            return "duplicate"
        if isinstance(event, SubscribeScanEvent | ScanEvent):
            return _link(event.source, event.scene_id or "", now)
        if isinstance(event, SubscribeEvent):
            _links_of(event.source).update(following=True, unfollowed_at=None)
            return "followed"
        if isinstance(event, UnsubscribeEvent):
            _links_of(event.source).filter(following=True).update(
                following=False, unfollowed_at=now
            )
            return "unfollowed"
        if isinstance(event, TemplateSendJobFinishEvent):
            return _template_report(event, now)
    return "ignored"


def _links_of(openid: str):
    return WeChatLink.objects.filter(openid_index=crypto.blind("wechat", openid))


def _link(openid: str, scene: str, now: datetime) -> str:
    token = (
        WeChatLinkToken.objects.select_for_update()
        .select_related("contact")
        .filter(token_hash=_token_hash(scene))
        .first()
    )
    if token is None:  # another clinic's code, a made-up scene, or one of the account's own
        return "unknown"
    if token.expires_at <= now:
        return "expired"
    openid_index = crypto.blind("wechat", openid)
    if token.used_at and token.used_by_index != openid_index:
        return "used"  # one code, one user: a slip passed on links nobody else
    if token.contact.anonymised_at is not None:
        return "unknown"
    link, created = WeChatLink.objects.get_or_create(
        contact=token.contact,
        openid_index=openid_index,
        defaults={"openid": openid, "consent_at": token.consent_at, "linked_at": now},
    )
    if not created:
        link.following, link.unfollowed_at = True, None
        link.consent_at = token.consent_at
        link.save(update_fields=["following", "unfollowed_at", "consent_at"])
    if token.used_at is None:
        token.used_at, token.used_by_index = now, openid_index
        token.save(update_fields=["used_at", "used_by_index"])
    return "linked"


def _template_report(event: TemplateSendJobFinishEvent, now: datetime) -> str:
    status = (event.status or "").strip()
    if "user block" in status:
        # The user refused the account's messages: reach them another way from now on.
        wechat_unfollowed(openid=event.source, now=now)
    delivered = status == "success"
    receipt = Receipt(
        provider_id=str(event.id),
        delivered=delivered,
        error="" if delivered else f"WeChat: {status}",
        at=now,
    )
    # Kept and applied once, also when the report beats the worker's write of the msgid.
    receipts_record([receipt], now=now)
    return "delivered" if delivered else "failed"

"""Which channel an automatic message to a contact goes by (DESIGN.md §7a.9): the clinic's
order (Tenant.channel_order, e.g. WeChat → SMS → email) among the channels the follow-up's
step allows, skipping any the contact cannot be reached by. WeChat needs the clinic's
Official Account, a template for the message's purpose there, and a link of the contact to
a WeChat user who still follows the account."""

from dataclasses import dataclass

from django.db import connection

from ..models import ContactPhone, RuleStep, WeChatAccount, WeChatLink
from ..models.messages import Channel
from ..models.wechat import WeChatTemplate

# What a step's channel lets a message become. A step that asks for SMS reaches the phone
# (or the WeChat of its owner), never a mailbox; one that asks for email is sent by email.
STEP_CHANNELS: dict[str, tuple[str, ...]] = {
    RuleStep.Channel.SMS: (Channel.WECHAT, Channel.SMS),
    RuleStep.Channel.SURVEY_LINK: (Channel.WECHAT, Channel.SMS, Channel.EMAIL),
    RuleStep.Channel.EMAIL: (Channel.EMAIL,),
}


@dataclass(frozen=True)
class Route:
    channel: str
    to: str  # a phone number, an email address, or an OpenID


def channel_order() -> list[str]:
    return connection.tenant.channel_order.split(",")


def contact_routes(
    contact, *, step_channel: str, purpose: str, exclude: tuple[str, ...] = ()
) -> list[Route]:
    """The ways to reach ``contact`` with a message of ``purpose`` for a step of
    ``step_channel``, best first by the clinic's order."""
    allowed = STEP_CHANNELS.get(step_channel, (Channel.SMS, Channel.EMAIL))
    routes = []
    for channel in channel_order():
        if channel not in allowed or channel in exclude:
            continue
        to = _address(contact, channel, purpose)
        if to:
            routes.append(Route(channel, to))
    return routes


def _address(contact, channel: str, purpose: str) -> str:
    if channel == Channel.SMS:
        phone = ContactPhone.objects.filter(contact=contact, invalid=False).first()
        return phone.number if phone is not None else ""
    if channel == Channel.EMAIL:
        return contact.email
    if channel == Channel.WECHAT:
        if not (
            WeChatAccount.objects.exists()
            and WeChatTemplate.objects.filter(purpose=purpose).exists()
        ):
            return ""
        link = WeChatLink.objects.filter(contact=contact, following=True).first()
        return link.openid if link is not None else ""
    return ""


def step_channel_of(message) -> str:
    """The step channel a queued message was made for (a message without a follow-up, a
    survey link)."""
    if message.task_id is not None:
        return message.task.channel
    return RuleStep.Channel.SURVEY_LINK

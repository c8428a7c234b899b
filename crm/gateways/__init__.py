"""Gateways: the providers that carry a message to a patient's phone (SMS) or WeChat.

Every gateway offers the same small interface (``Gateway``), so the outbox does not care
which one a clinic chose:

* ``send(outgoing)`` hands over one message and returns the provider's id for it, or raises
  ``ProviderError`` saying whether to retry later, give up now, or treat the number as
  blocked;
* template providers (Alibaba Cloud, Tencent Cloud, WeChat) send a pre-approved template
  with parameters instead of free text: ``template_variables(code)`` asks the provider which
  variables an approved template has, so a mapping that does not fit is refused when the
  clinic saves it, not when the worker sends;
* delivery receipts and replies arrive by callback (``callback_parse``) or are fetched by a
  periodic task (``receipts_pull`` / ``replies_pull``); both are idempotent downstream by
  the provider's message id.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol


class ProviderError(Exception):
    """The provider did not take the message.

    ``retryable``: trying again later may work (timeouts, 5xx, throttling, a per-number
    frequency limit); ``retry_after`` says how much later when the provider says so.
    ``blocked``: the provider refuses this number for good (blacklisted, unsubscribed at the
    carrier); not retried, shown as such in the Outbox. Neither: fail now with the
    provider's reason (bad credentials, a template not approved, a variable too long)."""

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        blocked: bool = False,
        retry_after: timedelta | None = None,
        code: str = "",
    ):
        super().__init__(message)
        self.retryable = retryable
        self.blocked = blocked
        self.retry_after = retry_after
        self.code = code


@dataclass
class Sent:
    provider_id: str
    delivered: bool = False


@dataclass(frozen=True)
class Outgoing:
    """One message as a gateway sees it."""

    to: str  # E.164 (+8613800138000) for SMS; the OpenID for WeChat
    body: str  # the rendered text: what free-text providers send
    key: str  # "<schema>-<message id>": an idempotency key where the provider has one
    status_url: str = ""  # where free-text providers post the delivery report
    template_code: str = ""  # the provider's approved template (template providers)
    params: dict[str, str] = field(default_factory=dict)  # provider variable → value
    sign_name: str = ""  # the registered signature (签名) of Chinese SMS providers
    link: str = ""  # the page a WeChat template message opens (the survey link)


@dataclass(frozen=True)
class Receipt:
    """A delivery report: the provider's id of a message we sent, and what became of it."""

    provider_id: str
    delivered: bool
    error: str = ""  # the provider's code and reason when not delivered
    at: datetime | None = None


@dataclass(frozen=True)
class Reply:
    """A message a patient sent back."""

    provider_id: str  # unique per reply at the provider: makes a redelivery a no-op
    from_number: str
    body: str
    at: datetime | None = None


@dataclass(frozen=True)
class PendingReceipt:
    """A message sent and not yet reported on: what a pull by message needs."""

    provider_id: str
    to: str
    sent_at: datetime


class Gateway(Protocol):
    name: str
    templated: bool  # sends approved templates with parameters, not free text

    def send(self, outgoing: Outgoing) -> Sent: ...

    def template_variables(self, code: str) -> list[str]:
        """The variable names of an approved template, in order; ProviderError when the
        provider does not know the code or has not approved it."""
        ...

    def receipts_pull(self, pending: list[PendingReceipt]) -> list[Receipt]: ...

    def replies_pull(self) -> list[Reply]: ...

    def callback_parse(self, kind: str, body: bytes) -> list[Receipt | Reply]:
        """``kind`` is "status" or "inbound"; raises ValueError on a body that is not the
        provider's."""
        ...

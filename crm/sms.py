"""SMS providers. The real one speaks Twilio's REST API (many Chinese and international
gateways offer a Twilio-compatible endpoint): configured by SMS_API_BASE, SMS_ACCOUNT_SID,
SMS_AUTH_TOKEN and SMS_FROM. Without SMS_API_BASE nothing leaves the machine: the local
provider only records that the message would have been sent, and the Outbox page shows it.

Another channel (WeChat templates, a different SMS API) is a class with the same ``send``,
chosen in ``sms_provider``."""

import base64
import hashlib
import hmac
from dataclasses import dataclass

import requests
from django.conf import settings


class ProviderError(Exception):
    """The provider did not take the message. ``retryable`` when trying again later may
    work (timeouts, 5xx, 429); not for a refused number or bad credentials."""

    def __init__(self, message: str, *, retryable: bool):
        super().__init__(message)
        self.retryable = retryable


@dataclass
class Sent:
    provider_id: str
    delivered: bool = False


class LocalSms:
    name = "local"

    def send(self, *, to: str, body: str, key: str, status_url: str) -> Sent:
        return Sent(provider_id=f"local-{key}")


class TwilioCompatibleSms:
    name = "twilio"

    def __init__(self, *, base: str, account_sid: str, auth_token: str, sender: str, timeout=10):
        self.url = f"{base.rstrip('/')}/2010-04-01/Accounts/{account_sid}/Messages.json"
        self.sender = sender
        self.timeout = timeout
        # One connection, kept alive, for a worker's batch of messages.
        self.session = requests.Session()
        self.session.auth = (account_sid, auth_token)

    def send(self, *, to: str, body: str, key: str, status_url: str) -> Sent:
        data = {"To": to, "From": self.sender, "Body": body}
        if status_url:
            data["StatusCallback"] = status_url
        try:
            response = self.session.post(
                self.url,
                data=data,
                timeout=self.timeout,
                # The provider drops a second request with the same token: a retry after a
                # timeout (when we cannot know whether the first one went out) never sends
                # the SMS twice.
                headers={"I-Twilio-Idempotency-Token": key},
            )
        except requests.RequestException as exc:
            raise ProviderError(f"{type(exc).__name__}: {exc}", retryable=True) from exc
        if response.status_code >= 500 or response.status_code == 429:
            raise ProviderError(f"HTTP {response.status_code}", retryable=True)
        if response.status_code >= 400:
            try:
                detail = response.json().get("message", "")
            except ValueError:
                detail = response.text[:200]
            raise ProviderError(f"HTTP {response.status_code}: {detail}", retryable=False)
        return Sent(provider_id=response.json()["sid"])


def sms_provider():
    if not settings.SMS_API_BASE:
        return LocalSms()
    return TwilioCompatibleSms(
        base=settings.SMS_API_BASE,
        account_sid=settings.SMS_ACCOUNT_SID,
        auth_token=settings.SMS_AUTH_TOKEN,
        sender=settings.SMS_FROM,
    )


def signature(url: str, params: dict, auth_token: str) -> str:
    """Twilio's request signature: HMAC-SHA1 over the full URL followed by every POST
    parameter name and value in name order, base64-encoded."""
    payload = url + "".join(f"{name}{params[name]}" for name in sorted(params))
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def signature_valid(url: str, params: dict, received: str) -> bool:
    if not settings.SMS_AUTH_TOKEN or not received:
        return False
    return hmac.compare_digest(signature(url, params, settings.SMS_AUTH_TOKEN), received)

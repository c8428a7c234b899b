"""Free-text SMS: Twilio's REST API (many international gateways offer a Twilio-compatible
endpoint), and the local gateway, which sends nothing: it only records that the message would
have been sent, and the Outbox page shows it."""

import base64
import hashlib
import hmac

import requests

from . import Outgoing, PendingReceipt, ProviderError, Receipt, Reply, Sent


class _NoPull:
    """Free-text gateways report by signed callback only."""

    templated = False

    def template_variables(self, code: str) -> list[str]:
        return []

    def receipts_pull(self, pending: list[PendingReceipt]) -> list[Receipt]:
        return []

    def replies_pull(self) -> list[Reply]:
        return []

    def callback_parse(self, kind: str, body: bytes) -> list[Receipt | Reply]:
        raise ValueError("callbacks of this gateway are handled by crm.views.outbox")


class LocalSms(_NoPull):
    name = "local"

    def send(self, outgoing: Outgoing) -> Sent:
        return Sent(provider_id=f"local-{outgoing.key}")


class TwilioCompatibleSms(_NoPull):
    name = "twilio"

    def __init__(self, *, base: str, account_sid: str, auth_token: str, sender: str, timeout=10):
        self.url = f"{base.rstrip('/')}/2010-04-01/Accounts/{account_sid}/Messages.json"
        self.sender = sender
        self.timeout = timeout
        # One connection, kept alive, for a worker's batch of messages.
        self.session = requests.Session()
        self.session.auth = (account_sid, auth_token)

    def send(self, outgoing: Outgoing) -> Sent:
        data = {"To": outgoing.to, "From": self.sender, "Body": outgoing.body}
        if outgoing.status_url:
            data["StatusCallback"] = outgoing.status_url
        try:
            response = self.session.post(
                self.url,
                data=data,
                timeout=self.timeout,
                # The provider drops a second request with the same token: a retry after a
                # timeout (when we cannot know whether the first one went out) never sends
                # the SMS twice.
                headers={"I-Twilio-Idempotency-Token": outgoing.key},
            )
        except requests.RequestException as exc:
            raise ProviderError(f"{type(exc).__name__}: {exc}", retryable=True) from exc
        if response.status_code >= 500 or response.status_code == 429:
            raise ProviderError(
                f"HTTP {response.status_code}", retryable=True, code=str(response.status_code)
            )
        if response.status_code >= 400:
            try:
                detail = response.json().get("message", "")
            except ValueError:
                detail = response.text[:200]
            raise ProviderError(
                f"HTTP {response.status_code}: {detail}",
                retryable=False,
                code=str(response.status_code),
            )
        return Sent(provider_id=response.json()["sid"])


def signature(url: str, params: dict, auth_token: str) -> str:
    """Twilio's request signature: HMAC-SHA1 over the full URL followed by every POST
    parameter name and value in name order, base64-encoded."""
    payload = url + "".join(f"{name}{params[name]}" for name in sorted(params))
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def signature_valid(url: str, params: dict, received: str, auth_token: str) -> bool:
    if not auth_token or not received:
        return False
    return hmac.compare_digest(signature(url, params, auth_token), received)

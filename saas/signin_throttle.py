"""Sign-in throttling beside django-axes, which locks one (account, address) pair after its
failures. Here an account's failures from anywhere make each further attempt on it wait 2, 4,
8 … seconds (capped at ACCOUNT_THROTTLE_MAX_DELAY), except from a browser that has signed in
to that account before (a signed "known device" cookie): a spray from many addresses crawls,
and cannot keep the real user out. Password-reset mails are limited per account and per
address.

Accounts are named in the cache and the cookie by a keyed hash of the username: no email
address is stored, and a username without an account is throttled exactly like one with an
account (nothing to enumerate). Counters are atomic (``saas.ratelimit``, Redis in production);
keys carry the schema, besides the cache's own tenant prefix."""

import math

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.utils.crypto import salted_hmac
from django.utils.translation import ngettext

from saas import clock, ratelimit

KNOWN_DEVICE_COOKIE = "cb_known"
KNOWN_DEVICE_SECONDS = 180 * 24 * 3600
# A workstation at a front desk is shared: it stays known to this many accounts.
KNOWN_DEVICE_ACCOUNTS = 8
# Failures are forgotten this long after the first one, or at a successful sign-in.
FAILURE_WINDOW_SECONDS = 24 * 3600


def account_ref(username: str) -> str:
    """The account's name in the cache and the cookie: a keyed hash, never the address."""
    return salted_hmac(
        "saas.signin_throttle", username.strip().lower(), algorithm="sha256"
    ).hexdigest()[:32]


def _cookie_salt() -> str:
    # The cookie is host-only already; the schema in the salt keeps a copied cookie from
    # vouching for a browser at another clinic.
    return f"saas.signin_throttle.known:{connection.schema_name}"


def _known_refs(request) -> list[str]:
    value = request.get_signed_cookie(
        KNOWN_DEVICE_COOKIE, default="", salt=_cookie_salt(), max_age=KNOWN_DEVICE_SECONDS
    )
    return [ref for ref in value.split(",") if ref]


def device_known(request, username: str) -> bool:
    """Whether this browser has signed in to the account before."""
    return account_ref(username) in _known_refs(request)


def _keys(username: str) -> tuple[str, str]:
    ref = account_ref(username)
    schema = connection.schema_name
    return f"signin:failures:{schema}:{ref}", f"signin:next-attempt:{schema}:{ref}"


def _delay(failures: int) -> int:
    """2, 4, 8 … seconds from the first failure past the free ones, capped."""
    free = settings.ACCOUNT_THROTTLE_FREE_FAILURES
    return min(2 ** min(failures - free + 1, 30), settings.ACCOUNT_THROTTLE_MAX_DELAY)


def attempt_wait(username: str, *, known: bool, now: float | None = None) -> int:
    """Seconds this attempt must wait; 0 lets it through. Past ACCOUNT_THROTTLE_FREE_FAILURES
    failures, one attempt per wait: the attempt takes the next slot with the cache's atomic
    add, so of a burst of parallel attempts one goes through, not all."""
    if known:
        return 0
    failures_key, next_key = _keys(username)
    failures = cache.get(failures_key, 0)
    if failures < settings.ACCOUNT_THROTTLE_FREE_FAILURES:
        return 0
    now = clock.epoch() if now is None else now
    delay = _delay(failures)
    if cache.add(next_key, now + delay, timeout=delay):
        return 0
    until = cache.get(next_key)
    if until is None:  # expired between the two calls: this attempt is due
        return 0 if cache.add(next_key, now + delay, timeout=delay) else 1
    return max(1, math.ceil(until - now))


def failure_record(username: str, *, known: bool, now: float | None = None) -> None:
    """A wrong password or code: past the free failures, the account's next attempt from an
    unknown browser waits twice as long as the last. From a known browser it is the user's own
    typo: axes' lock of that address covers it, and it slows the account nowhere else."""
    if known:
        return
    failures_key, next_key = _keys(username)
    failures = ratelimit.count(failures_key, seconds=FAILURE_WINDOW_SECONDS)
    if failures >= settings.ACCOUNT_THROTTLE_FREE_FAILURES:
        delay = _delay(failures)
        now = clock.epoch() if now is None else now
        cache.set(next_key, now + delay, timeout=delay)


def signed_in(request, response, username: str) -> None:
    """The whole sign-in succeeded: forget the account's failures and remember this browser
    (a signed, HttpOnly cookie of this host holding account hashes only)."""
    cache.delete_many(list(_keys(username)))
    ref = account_ref(username)
    refs = [ref, *(known for known in _known_refs(request) if known != ref)]
    response.set_signed_cookie(
        KNOWN_DEVICE_COOKIE,
        ",".join(refs[:KNOWN_DEVICE_ACCOUNTS]),
        salt=_cookie_salt(),
        max_age=KNOWN_DEVICE_SECONDS,
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )


def wait_message(seconds: int) -> str:
    if seconds < 60:
        return ngettext(
            "Too many attempts for this account; try again in %(count)d second.",
            "Too many attempts for this account; try again in %(count)d seconds.",
            seconds,
        ) % {"count": seconds}
    minutes = math.ceil(seconds / 60)
    return ngettext(
        "Too many attempts for this account; try again in %(count)d minute.",
        "Too many attempts for this account; try again in %(count)d minutes.",
        minutes,
    ) % {"count": minutes}


def password_reset_address_allowed(request) -> bool:
    """PASSWORD_RESET_REQUESTS_PER_ADDRESS requests an hour from one client address."""
    key = f"password-reset:address:{connection.schema_name}:{request.META.get('REMOTE_ADDR', '')}"
    return ratelimit.hit(key, limit=settings.PASSWORD_RESET_REQUESTS_PER_ADDRESS, seconds=3600)


def password_reset_account_allowed(user) -> bool:
    """PASSWORD_RESET_MAILS_PER_ACCOUNT reset mails an hour to one account."""
    key = f"password-reset:account:{connection.schema_name}:{user.pk}"
    return ratelimit.hit(key, limit=settings.PASSWORD_RESET_MAILS_PER_ACCOUNT, seconds=3600)

"""The patient's survey links (DESIGN.md §6, §7a.9): making them and finding the invitation
behind one. Two forms, both on the clinic's own host and both stored only as a hash:

* long, for email: ``/s/<random secret, signed for this clinic>/`` (144 random bits);
* short, for SMS: ``/s/<10 characters>``, because a long link in an SMS looks like fraud and
  fewer people open it. The entropy is worked out in surveys.views.public against the rate
  limit on wrong links.

Nothing here imports the crm services, so that the send path
(crm.services.followup_messages) can use it without a cycle."""

import hashlib
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.core import signing
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils.crypto import salted_hmac

from saas import clock
from tenants.links import tenant_url

from .models import SurveyInvitation, SurveyTemplate

# No 0/O, 1/l/I: a patient who copies a link by hand cannot mistake one for another.
SHORT_ALPHABET = "23456789abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ"
SHORT_LENGTH = 10
_SHORT_CHARS = frozenset(SHORT_ALPHABET)


class LinkState:
    OK = "ok"
    INVALID = "invalid"
    EXPIRED = "expired"
    ANSWERED = "answered"


def is_short(token: str) -> bool:
    """Whether ``token`` has the form of a short link's code (a long one has a signature
    after a colon, so the two never overlap)."""
    return len(token) == SHORT_LENGTH and _SHORT_CHARS.issuperset(token)


def _signer() -> signing.Signer:
    # The schema is in the salt: a link of one clinic does not verify on another's domain.
    return signing.Signer(salt=f"surveys.link:{connection.schema_name}")


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _short_hashes(code: str) -> list[str]:
    """The stored forms of a short code: keyed with the site's secret, so that the 58 bits
    of a code cannot be searched offline from a copy of the database, and with the schema,
    so that clinic B's code is never clinic A's. One per key still accepted (a rotated
    SECRET_KEY keeps the links already sent working until they expire); the first is the
    current one."""
    salt = f"surveys.short-link:{connection.schema_name}"
    keys = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return [salted_hmac(salt, code, secret=key, algorithm="sha256").hexdigest() for key in keys]


def _new_link(*, short: bool) -> tuple[str, str]:
    """(token for the URL, hash to store)."""
    if short:
        code = "".join(secrets.choice(SHORT_ALPHABET) for _ in range(SHORT_LENGTH))
        return code, _short_hashes(code)[0]
    secret = secrets.token_urlsafe(18)
    return _signer().sign(secret), _hash(secret)


def _lookup_hashes(token: str) -> list[str]:
    if is_short(token):
        return _short_hashes(token)
    try:
        return [_hash(_signer().unsign(token))]
    except signing.BadSignature:
        return []


# A clash of two random codes is possible in principle (about 1 in 3·10^12 per link for a
# clinic with 100,000 live links); a new code is drawn then.
_DRAWS = 3


def invitation_create(
    template: SurveyTemplate,
    contact,
    *,
    task=None,
    channel=SurveyInvitation.Channel.LINK,
    message=None,
    short: bool = False,
    now: datetime | None = None,
) -> tuple[SurveyInvitation, str]:
    """A one-time link for ``contact``: returns the invitation and the link's token (the
    short code when ``short``). The token is random and stored only as a hash."""
    now = now or clock.now()
    for draw in range(_DRAWS):
        token, digest = _new_link(short=short)
        try:
            with transaction.atomic():
                invitation = SurveyInvitation.objects.create(
                    template=template,
                    contact=contact,
                    task=task,
                    channel=channel,
                    message=message,
                    secret_hash=digest,
                    language=contact.language or connection.tenant.locale,
                    expires_at=now + timedelta(days=template.link_days),
                )
        except IntegrityError:
            if draw == _DRAWS - 1:
                raise
            continue
        return invitation, token
    raise AssertionError("unreachable")


def invitation_reminder_link(invitation: SurveyInvitation, *, short: bool) -> str:
    """A second link to the same invitation, for its reminder: the first one was stored only
    as a hash and cannot be written again. Both stay valid until the invitation expires."""
    for draw in range(_DRAWS):
        token, digest = _new_link(short=short)
        try:
            with transaction.atomic():
                SurveyInvitation.objects.filter(pk=invitation.pk).update(reminder_hash=digest)
        except IntegrityError:
            if draw == _DRAWS - 1:
                raise
            continue
        invitation.reminder_hash = digest
        return token
    raise AssertionError("unreachable")


def invitation_url(token: str) -> str:
    name = "survey_short" if is_short(token) else "survey_answer"
    return tenant_url(connection.tenant, reverse(name, args=[token]))


def opt_out_url(token: str) -> str:
    name = "survey_short_opt_out" if is_short(token) else "survey_opt_out"
    return tenant_url(connection.tenant, reverse(name, args=[token]))


def invitation_find(token: str, *, now=None) -> tuple[SurveyInvitation | None, str]:
    """The invitation of a link and whether it can be answered. A tampered link, a link of
    another clinic and an unknown one are all "invalid": nothing tells them apart."""
    now = now or clock.now()
    hashes = _lookup_hashes(token)
    if not hashes:
        return None, LinkState.INVALID
    invitation = (
        SurveyInvitation.objects.select_related("template", "contact")
        .filter(Q(secret_hash__in=hashes) | Q(reminder_hash__in=hashes))
        .first()
    )
    if invitation is None:
        return None, LinkState.INVALID
    if invitation.answered_at:
        return invitation, LinkState.ANSWERED
    if invitation.expires_at <= now:
        return invitation, LinkState.EXPIRED
    return invitation, LinkState.OK

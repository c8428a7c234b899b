"""API keys of a tenant: made, shown once, checked, revoked.

Stored as a prefix (to find the row) and the SHA-256 of the whole key (to check it). A
password hasher (PBKDF2, Argon2) is made to slow down guessing of low-entropy secrets chosen
by people; these keys carry 256 random bits, which nobody can guess however fast the hash,
and the check runs on every API call, where a deliberately slow hash would cost ~100 ms."""

import hashlib
import hmac
import secrets
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from saas import clock

from ..models import ApiKey, AuditEntry
from .audit import audit_record

KEY_PREFIX = "cb_"
# last_used_at is written at most this often per key: a busy integration must not turn
# every read into a write.
LAST_USED_GRANULARITY = timedelta(minutes=1)


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@transaction.atomic
def api_key_create(*, name: str, scopes: list[str], user=None) -> tuple[ApiKey, str]:
    """A new key and its secret text, which is not stored and cannot be shown again."""
    name = (name or "").strip()
    scopes = sorted(set(scopes))
    errors = {}
    if not name:
        errors["name"] = _("Give the key a name (the system that will use it).")
    if not scopes or set(scopes) - set(ApiKey.Scope.values):
        errors["scopes"] = _("Choose at least one of: %(scopes)s.") % {
            "scopes": ", ".join(ApiKey.Scope.values)
        }
    if errors:
        raise ValidationError(errors)
    prefix = secrets.token_hex(4)
    key = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    api_key = ApiKey.objects.create(
        name=name[:100], prefix=prefix, key_hash=_digest(key), scopes=scopes, created_by=user
    )
    audit_record(user, AuditEntry.Action.API_KEY_CREATED, obj=api_key, detail={"scopes": scopes})
    return api_key, key


@transaction.atomic
def api_key_revoke(api_key: ApiKey, *, actor=None) -> None:
    """From now on the key is refused; the row stays, so the list shows who used what."""
    revoked = ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(
        revoked_at=clock.now()
    )
    if revoked:
        audit_record(actor, AuditEntry.Action.API_KEY_REVOKED, obj=api_key)


class KeyRefused(Exception):
    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


def api_key_check(key: str, *, now=None) -> ApiKey:
    """The active key of this tenant that ``key`` is, or KeyRefused("invalid_key" /
    "key_revoked"). A key of another tenant is not in this schema, hence invalid."""
    now = now or clock.now()
    if not key.startswith(KEY_PREFIX) or key.count("_") < 2:
        raise KeyRefused("invalid_key")
    prefix = key[len(KEY_PREFIX) :].split("_", 1)[0]
    api_key = ApiKey.objects.filter(prefix=prefix).first()
    if api_key is None or not hmac.compare_digest(api_key.key_hash, _digest(key)):
        raise KeyRefused("invalid_key")
    if api_key.revoked_at is not None:
        raise KeyRefused("key_revoked")
    if api_key.last_used_at is None or api_key.last_used_at < now - LAST_USED_GRANULARITY:
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now
    return api_key

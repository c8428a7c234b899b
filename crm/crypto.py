"""Encryption at rest of patient fields, per clinic (envelope encryption).

Master keys (KEKs) come from ``settings.FIELD_ENCRYPTION_KEYS``, the first one current.
Each clinic's schema holds its own keys in ``crm_datakey``, wrapped (AES-256-GCM) by a KEK:
numbered data keys (DEKs) that encrypt field values, the last one current, and one index
key for the blind indexes (HMAC-SHA256, truncated), which find a value without decrypting.

A ciphertext reads ``ef1:<data key version>:<base64 of nonce, ciphertext and tag>``: after a
rotation, older versions stay readable until re-encrypted. A value of another clinic fails
its tag here (the keys differ), which is an error, never garbage. The empty string stays
empty: an absent value is no secret, and set-based SQL keeps telling "none given" apart.

Unwrapped keys are kept in this process's memory per schema (never in the shared cache),
re-read after ``RING_SECONDS`` so a rotation made elsewhere is picked up."""

import base64
import hashlib
import hmac
import os
import re
import threading
import time
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection

PREFIX = "ef1"
TABLE = "crm_datakey"
DATA, INDEX = "data", "index"
RING_SECONDS = 60
INDEX_BYTES = 16  # of the HMAC-SHA256, written as 32 hex digits
_NOT_DIGITS = re.compile(r"\D")


class FieldKeyError(Exception):
    """A value cannot be encrypted or decrypted with this clinic's keys (another clinic's
    ciphertext, a damaged value, a data key or master key that is missing)."""


@dataclass
class KeyRing:
    current: int
    data: dict[int, AESGCM]
    index: bytes
    loaded: float


_rings: dict[str, KeyRing] = {}
_lock = threading.Lock()


# --- Master keys -----------------------------------------------------------------------------


def master_keys() -> list[tuple[str, bytes]]:
    """(key id, key) of every configured master key, the current one first. A key id is the
    start of the key's SHA-256: a wrapped key names the master key that wrapped it."""
    keys = []
    for text in settings.FIELD_ENCRYPTION_KEYS:
        try:
            key = base64.urlsafe_b64decode(text.strip() + "=" * (-len(text.strip()) % 4))
        except ValueError as exc:
            raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS: a key is not base64.") from exc
        if len(key) != 32:
            raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS: each key must be 32 bytes.")
        keys.append((hashlib.sha256(key).hexdigest()[:8], key))
    if not keys:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS names no key.")
    return keys


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def key_wrap(raw: bytes, label: str) -> str:
    """``raw`` encrypted by the current master key, bound to its ``label`` (purpose and
    version), so a wrapped key cannot stand in for another."""
    kid, kek = master_keys()[0]
    nonce = os.urandom(12)
    return f"{kid}:{_b64(nonce + AESGCM(kek).encrypt(nonce, raw, label.encode()))}"


def key_unwrap(wrapped: str, label: str) -> bytes:
    kid, _sep, body = wrapped.partition(":")
    kek = dict(master_keys()).get(kid)
    if kek is None:
        raise FieldKeyError(
            f"The master key {kid} that wrapped a data key is not in FIELD_ENCRYPTION_KEYS."
        )
    blob = base64.b64decode(body)
    try:
        return AESGCM(kek).decrypt(blob[:12], blob[12:], label.encode())
    except InvalidTag as exc:
        raise FieldKeyError(f"The data key {label} does not unwrap with master key {kid}.") from exc


# --- A clinic's keys -------------------------------------------------------------------------


def _label(purpose: str, version: int) -> str:
    return f"{purpose}:{version}"


def keys_ensure(cursor=None) -> bool:
    """Create the current schema's first data key and its index key unless it has them;
    True when created. Run when a clinic is provisioned (after its schema is cloned: the
    template holds no keys) and by the migration that encrypted existing rows."""
    if cursor is None:
        with connection.cursor() as own:
            return keys_ensure(own)
    cursor.execute(f"SELECT 1 FROM {TABLE} LIMIT 1")  # noqa: S608
    if cursor.fetchone():
        return False
    for purpose in (DATA, INDEX):
        _key_insert(cursor, purpose, 1)
    ring_forget()
    return True


def _key_insert(cursor, purpose: str, version: int) -> None:
    cursor.execute(
        f"INSERT INTO {TABLE} (purpose, version, wrapped_key, created_at)"  # noqa: S608
        " VALUES (%s, %s, %s, now()) ON CONFLICT (purpose, version) DO NOTHING",
        [purpose, version, key_wrap(AESGCM.generate_key(bit_length=256), _label(purpose, version))],
    )


def data_key_add() -> int:
    """A new data key version, current from now on (in this process at once, in others
    within RING_SECONDS); the previous ones are marked retired but still decrypt."""
    keys_ensure()
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT coalesce(max(version), 0) FROM {TABLE} WHERE purpose = %s",  # noqa: S608
            [DATA],
        )
        version = cursor.fetchone()[0] + 1
        _key_insert(cursor, DATA, version)
        cursor.execute(
            f"UPDATE {TABLE} SET retired_at = now()"  # noqa: S608
            " WHERE purpose = %s AND version < %s AND retired_at IS NULL",
            [DATA, version],
        )
    ring_forget()
    return version


def keys_rewrap() -> int:
    """Re-wrap every key of the current schema under the current master key; returns how
    many were re-wrapped (those under an older master key)."""
    current = master_keys()[0][0]
    done = 0
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id, purpose, version, wrapped_key FROM {TABLE}")  # noqa: S608
        for pk, purpose, version, wrapped in cursor.fetchall():
            if wrapped.partition(":")[0] == current:
                continue
            raw = key_unwrap(wrapped, _label(purpose, version))
            cursor.execute(
                f"UPDATE {TABLE} SET wrapped_key = %s WHERE id = %s",  # noqa: S608
                [key_wrap(raw, _label(purpose, version)), pk],
            )
            done += 1
    ring_forget()
    return done


def ring_forget(schema: str | None = None) -> None:
    with _lock:
        _rings.pop(schema or connection.schema_name, None)


def ring(*, create: bool = True) -> KeyRing:
    """The current schema's unwrapped keys, from this process's memory when fresh."""
    schema = connection.schema_name
    found = _rings.get(schema)
    if found is not None and time.monotonic() - found.loaded < RING_SECONDS:
        return found
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT purpose, version, wrapped_key FROM {TABLE}")  # noqa: S608
        rows = cursor.fetchall()
        if not rows and create:
            keys_ensure(cursor)
            cursor.execute(f"SELECT purpose, version, wrapped_key FROM {TABLE}")  # noqa: S608
            rows = cursor.fetchall()
    data = {v: AESGCM(key_unwrap(w, _label(p, v))) for p, v, w in rows if p == DATA}
    index = [key_unwrap(w, _label(p, v)) for p, v, w in rows if p == INDEX]
    if not data or not index:
        raise FieldKeyError(f"The clinic {schema} has no field encryption keys.")
    found = KeyRing(current=max(data), data=data, index=index[0], loaded=time.monotonic())
    with _lock:
        _rings[schema] = found
    return found


# --- Values ----------------------------------------------------------------------------------


def encrypt(text: str, keys: KeyRing | None = None) -> str:
    if not text:
        return text
    keys = keys or ring()
    nonce = os.urandom(12)
    sealed = keys.data[keys.current].encrypt(nonce, text.encode(), None)
    return f"{PREFIX}:{keys.current}:{_b64(nonce + sealed)}"


def is_encrypted(value: str) -> bool:
    return value.startswith(PREFIX + ":")


def version_of(value: str) -> int | None:
    return int(value.split(":", 2)[1]) if value and is_encrypted(value) else None


def decrypt(value: str, keys: KeyRing | None = None) -> str:
    """The plain text of a stored value. A value without our prefix is one written before
    encryption (the migration that encrypts existing rows goes in batches) and is as is."""
    if not value or not is_encrypted(value):
        return value
    _prefix, version, body = value.split(":", 2)
    keys = keys or ring()
    aead = keys.data.get(int(version))
    if aead is None:
        ring_forget()  # a key made since by another process
        aead = ring().data.get(int(version))
        if aead is None:
            raise FieldKeyError(
                f"Data key version {version} is not one of clinic {connection.schema_name}'s."
            )
    blob = base64.b64decode(body)
    try:
        return aead.decrypt(blob[:12], blob[12:], None).decode()
    except InvalidTag as exc:
        raise FieldKeyError(
            f"A value does not decrypt with clinic {connection.schema_name}'s data key"
            f" version {version} (another clinic's, or damaged)."
        ) from exc


# --- Blind indexes ---------------------------------------------------------------------------


def blind(kind: str, text: str, keys: KeyRing | None = None) -> str:
    """The clinic's blind index of ``text`` for a kind of search (the kind separates them:
    equal digits as a full number and as a last-four index do not compare equal). Empty
    text has an empty index."""
    if not text:
        return ""
    keys = keys or ring()
    digest = hmac.digest(keys.index, f"{kind}\x00{text}".encode(), "sha256")
    return digest[:INDEX_BYTES].hex()


def name_key(name: str) -> str:
    """A name as its blind index compares it: spaces collapsed, case folded."""
    return " ".join((name or "").split()).casefold()


def blind_name(name: str, keys: KeyRing | None = None) -> str:
    return blind("name", name_key(name), keys)


def blind_phone(number: str, keys: KeyRing | None = None) -> str:
    return blind("phone", number, keys)


def phone_tail(number: str) -> str:
    digits = _NOT_DIGITS.sub("", number or "")
    return digits[-4:] if len(digits) >= 4 else ""


def blind_tail(number: str, keys: KeyRing | None = None) -> str:
    """The index of a number's last four digits (what an agent types to find a caller)."""
    return blind("tail", phone_tail(number), keys)


# --- Whole columns (the migration that encrypted existing rows, rotation) --------------------


def column_reencrypt(table: str, column: str, *, batch: int = 2000) -> int:
    """Encrypt with the current data key every value of a column that is not under it yet
    (plain text from before encryption, or an older data key version), ``batch`` rows at a
    time in id order; each batch is one UPDATE, so a run stopped half-way resumes where it
    stopped. Returns the number of values rewritten. The schema's keys are created on the
    first value met (a schema without rows, like the template, gets none)."""
    keys, done, last = None, 0, 0
    column = connection.ops.quote_name(column)
    with connection.cursor() as cursor:
        while True:
            current = f"{PREFIX}:{keys.current}:" if keys else "-"
            cursor.execute(
                f"SELECT id, {column} FROM {table} WHERE id > %s AND {column} <> ''"  # noqa: S608
                f" AND left({column}, %s) <> %s ORDER BY id LIMIT %s",
                [last, len(current), current, batch],
            )
            rows = cursor.fetchall()
            if not rows:
                return done
            keys = keys or ring()
            cursor.execute(
                f"UPDATE {table} t SET {column} = v.value"  # noqa: S608
                " FROM unnest(%s::bigint[], %s::text[]) AS v(id, value) WHERE t.id = v.id",
                [
                    [pk for pk, _v in rows],
                    [encrypt(decrypt(value, keys), keys) for _pk, value in rows],
                ],
            )
            done += len(rows)
            last = rows[-1][0]


def column_index(table: str, column: str, index: str, kind: str, *, batch: int = 2000) -> int:
    """Fill a blind index column from the (encrypted or plain) values of ``column``."""
    blinders = {"name": blind_name, "tail": blind_tail}
    done, last = 0, 0
    column, index = connection.ops.quote_name(column), connection.ops.quote_name(index)
    with connection.cursor() as cursor:
        while True:
            cursor.execute(
                f"SELECT id, {column} FROM {table} WHERE id > %s AND {column} <> ''"  # noqa: S608
                " ORDER BY id LIMIT %s",
                [last, batch],
            )
            rows = cursor.fetchall()
            if not rows:
                return done
            keys = ring()
            make = blinders.get(kind) or (lambda text, keys: blind(kind, text, keys))
            cursor.execute(
                f"UPDATE {table} t SET {index} = v.value"  # noqa: S608
                " FROM unnest(%s::bigint[], %s::text[]) AS v(id, value) WHERE t.id = v.id",
                [[pk for pk, _v in rows], [make(decrypt(v, keys), keys) for _pk, v in rows]],
            )
            done += len(rows)
            last = rows[-1][0]

"""Rotation of a clinic's field encryption keys (crm/crypto.py), in the current schema."""

from dataclasses import dataclass

from django.db import transaction

from .. import crypto
from ..fields import encrypted_columns


@dataclass
class Rotation:
    rewrapped: int = 0  # keys re-wrapped under the current master key
    version: int | None = None  # the data key version values are now under
    reencrypted: int = 0  # values re-encrypted


def field_keys_rotate(*, rewrap_only: bool = False, resume: bool = False, batch: int = 2000):
    """Re-wrap the clinic's keys under the current master key (fast: a master key can then
    leave FIELD_ENCRYPTION_KEYS); unless ``rewrap_only``, also start a new data key version
    (unless ``resume``: finishing a rotation that stopped) and re-encrypt every value under
    it, ``batch`` rows a statement, each committed: values under older versions stay
    readable meanwhile, and a stopped run resumes where it stopped."""
    result = Rotation()
    with transaction.atomic():
        result.rewrapped = crypto.keys_rewrap()
    if rewrap_only:
        return result
    if resume:
        crypto.ring_forget()
        result.version = crypto.ring().current
    else:
        with transaction.atomic():
            result.version = crypto.data_key_add()
    for table, column in encrypted_columns():
        result.reencrypted += crypto.column_reencrypt(table, column, batch=batch)
    return result

"""Model fields for encryption at rest (crm/crypto.py): values are encrypted with the current
clinic's data key on their way to the database and decrypted on their way back, so models,
forms and templates see plain text. SQL sees ciphertext only: a lookup other than ``isnull``
on such a field is refused, rather than silently comparing ciphertexts. Searches use a
``BlindIndexField`` next to the value."""

from django.apps import apps
from django.core.exceptions import FieldError
from django.db import models

from . import crypto


class EncryptedLookupError(FieldError):
    pass


class _Encrypted:
    def from_db_value(self, value, expression, connection):
        return crypto.decrypt(value) if value else value

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        return crypto.encrypt(value) if value else value

    def get_lookup(self, lookup_name):
        if lookup_name == "isnull":
            return super().get_lookup(lookup_name)
        raise EncryptedLookupError(
            f"{self.model.__name__}.{self.name} is encrypted at rest: SQL cannot compare it"
            f" ({lookup_name!r}). Search its blind index, or compare in Python."
        )

    def get_transform(self, lookup_name):
        raise EncryptedLookupError(
            f"{self.model.__name__}.{self.name} is encrypted at rest: no {lookup_name!r}."
        )


class EncryptedCharField(_Encrypted, models.CharField):
    """A CharField (its max_length bounds the plain text, its form field is one line) whose
    column is text: the ciphertext is longer."""

    def db_type(self, connection):
        return "text"


class EncryptedTextField(_Encrypted, models.TextField):
    pass


class BlindIndexField(models.CharField):
    """The clinic's blind index (crm.crypto.blind) of another field's value, computed as the
    row is saved or bulk-created. Raw SQL writers compute it themselves
    (crm.services.encounter_rows)."""

    def __init__(self, *args, source: str = "", kind: str = "", **kwargs):
        self.source, self.kind = source, kind
        kwargs.setdefault("max_length", 2 * crypto.INDEX_BYTES)
        kwargs.setdefault("editable", False)
        kwargs.setdefault("blank", True)
        kwargs.setdefault("default", "")
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs |= {"source": self.source, "kind": self.kind}
        return name, path, args, kwargs

    def pre_save(self, model_instance, add):
        text = getattr(model_instance, self.source)
        if self.kind == "name":
            value = crypto.blind_name(text)
        elif self.kind == "tail":
            value = crypto.blind_tail(text)
        else:
            value = crypto.blind(self.kind, text)
        setattr(model_instance, self.attname, value)
        return value


def encrypted_columns() -> list[tuple[str, str]]:
    """(table, column) of every encrypted field of the clinic's schema."""
    return [
        (model._meta.db_table, field.column)
        for model in apps.get_models()
        if model._meta.app_label in ("crm", "surveys")
        for field in model._meta.concrete_fields
        if isinstance(field, _Encrypted)
    ]

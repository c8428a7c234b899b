"""A clinic's field encryption keys (crm/crypto.py), in its own schema."""

from django.db import models


class DataKey(models.Model):
    """A key of this clinic, wrapped by a master key (FIELD_ENCRYPTION_KEYS): a data key
    version that encrypts field values (the highest is current; retired ones still decrypt
    what is not re-encrypted yet), or the key of the blind indexes. Created for the clinic
    after its schema is cloned: the template schema holds none."""

    class Purpose(models.TextChoices):
        # Not translated: the table is never shown to anyone.
        DATA = "data", "data key"
        INDEX = "index", "index key"

    purpose = models.CharField(max_length=10, choices=Purpose.choices)
    version = models.PositiveIntegerField()
    wrapped_key = models.TextField()
    created_at = models.DateTimeField()
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["purpose", "version"], name="datakey_once")]

    def __str__(self) -> str:
        return f"{self.purpose} v{self.version}"

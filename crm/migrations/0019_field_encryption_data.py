"""Encrypt the patient fields of the rows already in this clinic's schema (crm is a tenant
app: this runs once per schema) and fill their blind indexes; the clinic's keys are made
here when it has rows and no keys yet."""

from django.db import migrations

from crm import crypto

ENCRYPTED = [
    ("crm_contact", "name"),
    ("crm_contact", "address"),
    ("crm_contact", "notes"),
    ("crm_contactphone", "number"),
    ("crm_encounter", "diagnosis"),
    ("crm_encounter", "procedure"),
    ("crm_encounter", "notes"),
    ("crm_complaint", "summary"),
    ("crm_praise", "text"),
    ("crm_callattempt", "notes"),
    ("crm_message", "to"),
    ("crm_inboundmessage", "from_number"),
]
INDEXED = [
    ("crm_contact", "name", "name_index", "name"),
    ("crm_contactphone", "number", "number_index", "phone"),
    ("crm_contactphone", "number", "tail_index", "tail"),
    ("crm_message", "to", "to_index", "phone"),
]


def forwards(apps, schema_editor):
    for table, column, index, kind in INDEXED:
        crypto.column_index(table, column, index, kind)
    for table, column in ENCRYPTED:
        crypto.column_reencrypt(table, column)


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0018_field_encryption"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop, elidable=False)]

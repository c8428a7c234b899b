"""Encrypt the patient fields of the rows already in this clinic's schema (crm is a tenant
app: this runs once per schema) and fill their blind indexes; the clinic's keys are made
here when it has rows and no keys yet. Imported encounters keyed by a phone or a name (a
file without external ids or record numbers) get the key crm.importing.encounter_key now
makes, with the blind index in their place."""

import re

from django.db import connection, migrations

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


IMPORT_KEY = re.compile(r"(.+)@(\d{4}-\d{2}-\d{2}:\w+)")


def _import_keys_rekey() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT e.id, e.external_id, c.record_no, c.name FROM crm_encounter e"
            " JOIN crm_contact c ON c.id = e.contact_id"
            " WHERE e.source = 'import' AND e.external_id LIKE '%%@%%'"
        )
        changed = []
        for pk, key, record_no, name in cursor.fetchall():
            match = IMPORT_KEY.fullmatch(key)
            if match is None or match[1] == record_no or match[1].startswith("#"):
                continue
            who = match[1]
            if re.fullmatch(r"\+\d+", who):
                blinded = crypto.blind_phone(who)
            elif who == crypto.decrypt(name):
                blinded = crypto.blind_name(who)
            else:
                continue
            changed.append((pk, f"#{blinded}@{match[2]}"))
        if changed:
            cursor.execute(
                "UPDATE crm_encounter e SET external_id = v.key"
                " FROM unnest(%s::bigint[], %s::text[]) AS v(id, key) WHERE e.id = v.id",
                [[pk for pk, _k in changed], [k for _pk, k in changed]],
            )


def forwards(apps, schema_editor):
    _import_keys_rekey()
    for table, column, index, kind in INDEXED:
        crypto.column_index(table, column, index, kind)
    for table, column in ENCRYPTED:
        crypto.column_reencrypt(table, column)


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0023_field_encryption"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop, elidable=False)]

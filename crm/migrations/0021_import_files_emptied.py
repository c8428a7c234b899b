"""Empty the file of every import that already ended (its rows are in the product), keeping
the cells of its rejected rows so that rejected.csv still gives them back until the tick
deletes them 30 days after the import."""

import csv
import io

from django.db import migrations

ENDED = ("done", "failed")
WORKBOOK = b"PK\x03\x04"  # a workbook never unpacked to CSV: its rows cannot be read here


def _rows(content: bytes) -> list[list[str]]:
    if not content or content.startswith(WORKBOOK):
        return []
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = content.decode(encoding)
        except UnicodeDecodeError:
            continue
        return list(csv.reader(io.StringIO(text, newline="")))[1:]
    return []


def empty_ended_files(apps, schema_editor):
    ImportJob = apps.get_model("crm", "ImportJob")
    for job in ImportJob.objects.filter(status__in=ENDED).exclude(content=b"").iterator():
        numbers = sorted({error["row"] for error in job.errors})
        rows = _rows(bytes(job.content)) if numbers else []
        job.rejected_cells = {
            # JSON in PostgreSQL holds no NUL character.
            str(n): [cell.replace("\x00", "\ufffd") for cell in rows[n - 2]]
            for n in numbers
            if 0 <= n - 2 < len(rows)
        }
        job.rejected_count = len(numbers)
        job.content = b""
        job.save(update_fields=["rejected_cells", "rejected_count", "content"])


class Migration(migrations.Migration):
    dependencies = [("crm", "0020_retention_erasure_export")]

    operations = [migrations.RunPython(empty_ended_files, migrations.RunPython.noop)]

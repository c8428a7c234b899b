"""Every complaint has its acknowledge deadline now (filled by the migration before): required from here on."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0033_complaint_milestones_and_pauses"),
    ]

    operations = [
        migrations.AlterField(
            model_name="complaint",
            name="acknowledge_by",
            field=models.DateTimeField(verbose_name="acknowledge by"),
        ),
    ]

"""Complaint clocks in working days (DESIGN.md §7a.4): the acknowledge milestone, and the reply
time turned from calendar days into working days. An existing clinic keeps about the same
promise: 5 working days for its 7 days (a week), 2 for 3 (rounded, at least 1)."""

import django.core.validators
from django.db import migrations, models


def to_working_days(apps, schema_editor):
    Tenant = apps.get_model("tenants", "Tenant")
    for tenant in Tenant.objects.all():
        working = max(1, int(tenant.complaint_reply_days * 5 / 7 + 0.5))
        Tenant.objects.filter(pk=tenant.pk).update(complaint_reply_days=working)


def to_calendar_days(apps, schema_editor):
    Tenant = apps.get_model("tenants", "Tenant")
    for tenant in Tenant.objects.all():
        calendar = min(60, int(tenant.complaint_reply_days * 7 / 5 + 0.5))
        Tenant.objects.filter(pk=tenant.pk).update(complaint_reply_days=calendar)


class Migration(migrations.Migration):

    dependencies = [
        ('tenants', '0012_survey_fatigue_and_reminder_settings'),
    ]

    operations = [
        migrations.AddField(
            model_name='tenant',
            name='complaint_ack_days',
            field=models.PositiveSmallIntegerField(default=1, validators=[django.core.validators.MinValueValidator(1), django.core.validators.MaxValueValidator(10)], verbose_name='acknowledge complaints within (working days)'),
        ),
        migrations.AlterField(
            model_name='tenant',
            name='complaint_reply_days',
            field=models.PositiveSmallIntegerField(default=5, validators=[django.core.validators.MinValueValidator(1), django.core.validators.MaxValueValidator(60)], verbose_name='reply to complaints within (working days)'),
        ),
        migrations.RunPython(to_working_days, to_calendar_days),
    ]

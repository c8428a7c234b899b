"""Complaint milestones in working days (DESIGN.md §7a.4): acknowledge by / acknowledged at, the
clock's pause while waiting on the customer, and the note for a year without holiday data.
Existing complaints keep their reply deadline (promised under the old rule) and get an
acknowledge deadline of 1 working day after receipt; those already taken up (moved out of
open other than to closed, or replied) count as acknowledged then. crm is a tenant app: this
runs once per schema, reading its clinic's zone and phone region from the public table."""

import datetime
import zoneinfo

from django.db import connection, migrations, models

from crm import workdays


def _clinic() -> tuple[str, str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT timezone, phone_region FROM public.tenants_tenant WHERE schema_name = %s",
            [connection.schema_name],
        )
        row = cursor.fetchone()
    return row if row else ("Asia/Shanghai", "CN")


def milestones_fill(apps, schema_editor):
    Complaint = apps.get_model("crm", "Complaint")
    ComplaintEvent = apps.get_model("crm", "ComplaintEvent")
    zone_name, region = _clinic()
    zone, calendar = zoneinfo.ZoneInfo(zone_name), workdays.calendar_for(region)
    taken_up = {}
    for complaint_id, at in (
        ComplaintEvent.objects.filter(from_status="open")
        .exclude(to_status="closed")
        .order_by("at")
        .values_list("complaint_id", "at")
    ):
        taken_up.setdefault(complaint_id, at)
    for complaint in Complaint.objects.filter(acknowledge_by__isnull=True).iterator():
        acknowledged = [t for t in (taken_up.get(complaint.pk), complaint.replied_at) if t]
        Complaint.objects.filter(pk=complaint.pk).update(
            acknowledge_by=min(
                workdays.add_working_days(
                    complaint.created_at, 1, calendar=calendar, zone=zone
                ),
                complaint.deadline,
            ),
            acknowledged_at=min(acknowledged) if acknowledged else None,
        )


class Migration(migrations.Migration):

    dependencies = [
        ('crm', '0032_onboarding_checklist_and_department_updated_at'),
    ]

    operations = [
        migrations.AddField(
            model_name='complaint',
            name='acknowledge_by',
            field=models.DateTimeField(null=True, verbose_name='acknowledge by'),
        ),
        migrations.AddField(
            model_name='complaint',
            name='acknowledged_at',
            field=models.DateTimeField(blank=True, null=True, verbose_name='acknowledged at'),
        ),
        migrations.AddField(
            model_name='complaint',
            name='holidays_unknown_year',
            field=models.PositiveSmallIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='complaint',
            name='paused_at',
            field=models.DateTimeField(blank=True, null=True, verbose_name='clock paused at'),
        ),
        migrations.AddField(
            model_name='complaint',
            name='paused_for',
            field=models.DurationField(default=datetime.timedelta, verbose_name='working time paused'),
        ),
        migrations.AlterField(
            model_name='complaint',
            name='status',
            field=models.CharField(choices=[('open', 'Open'), ('investigating', 'Investigating'), ('waiting', 'Waiting on the customer'), ('replied', 'Replied'), ('closed', 'Closed')], default='open', max_length=14, verbose_name='status'),
        ),
        migrations.AlterField(
            model_name='complaintevent',
            name='action',
            field=models.CharField(choices=[('created', 'Received'), ('status', 'Status changed'), ('edited', 'Details changed'), ('replied', 'Replied to the customer'), ('escalated', 'Overdue: escalated to all supervisors and administrators'), ('escalated_department', "Overdue: escalated to the department's supervisors"), ('waiting', 'Waiting on the customer: clock paused'), ('answered', 'Customer answered: clock running again')], max_length=24),
        ),
        migrations.RunPython(milestones_fill, migrations.RunPython.noop),
    ]

"""The follow-up facts of each eligible encounter (DESIGN.md §7), kept so that the reports
read one narrow row per encounter instead of every task and attempt behind it.

Exactness: PostgreSQL triggers (migration 0012) put the id of every encounter whose
follow-ups, attempts, date or department change into EncounterKpiStale in the same
transaction; the reporting layer above recomputes those rows before any report reads them,
and verifies the whole table against a full recomputation on demand. These tables only hold
the rows: how a fact is computed is the reporting layer's, not the model's."""

from django.db import models


class EncounterKpi(models.Model):
    # Not a foreign key: the row is removed by the refresh when its encounter goes.
    encounter_id = models.BigIntegerField(primary_key=True)
    occurred_at = models.DateTimeField()
    department_id = models.BigIntegerField(null=True)
    attempted = models.BooleanField()
    reached = models.BooleanField()
    lost = models.BooleanField()  # every follow-up ended unreachable
    completed = models.PositiveIntegerField()  # completed follow-ups
    in_window = models.PositiveIntegerField()  # ... whose first reach fell in the window
    transferred = models.BooleanField()
    readmitted = models.BooleanField()
    # Not reached: the category of the last attempt, or never_attempted; reached: "".
    last_category = models.CharField(max_length=30, blank=True)

    class Meta:
        indexes = [models.Index(fields=["occurred_at"], name="encounter_kpi_occurred_idx")]

    def __str__(self) -> str:
        return f"encounter {self.encounter_id}"


class EncounterKpiStale(models.Model):
    encounter_id = models.BigIntegerField(primary_key=True)

    def __str__(self) -> str:
        return f"encounter {self.encounter_id}"

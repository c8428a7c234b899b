"""Imports of discharge lists and other encounter registers from CSV or XLSX files."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

# Rejected rows (with the values they had in the file) stay downloadable this long after the
# import finished, then the tick deletes them (crm.services.retention).
REJECTED_ROWS_DAYS = 30


class ImportJob(models.Model):
    """One uploaded file, from upload through mapping and preview to its committed result.
    The file is kept in the row (not on disk) so workers need no shared storage and nothing
    of one tenant's files is reachable from another's, and only until the import ends: then
    the rows are in the product and only the rejected ones are kept, for REJECTED_ROWS_DAYS."""

    class Status(models.TextChoices):
        READING = "reading", _("Reading the workbook")
        UPLOADED = "uploaded", _("Waiting for column mapping")
        MAPPED = "mapped", _("Checked, ready to import")
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Importing")
        DONE = "done", _("Imported")
        FAILED = "failed", _("Failed")

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    filename = models.CharField(_("file"), max_length=255)
    content = models.BinaryField()
    headers = models.JSONField(default=list)
    mapping = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.UPLOADED)
    total_rows = models.PositiveIntegerField(default=0)
    processed_rows = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)
    unchanged_count = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)
    # What checking the mapped file found (counts, first errors, first rows): the preview.
    preview = models.JSONField(default=dict, blank=True)
    # The rejected rows' cells as the file had them, by row number: what rejected.csv gives
    # back once the file itself is gone.
    rejected_cells = models.JSONField(default=dict, blank=True)
    # How many rows were rejected: stays when the rows are purged.
    rejected_count = models.PositiveIntegerField(default=0)
    rejected_purged_at = models.DateTimeField(null=True, blank=True)
    failure = models.TextField(blank=True, default="")
    # How many times a run was started: a run resumes one that died with its worker.
    runs = models.PositiveSmallIntegerField(default=0)
    # Valid rows committed so far, saved with each chunk: where a resumed run carries on.
    committed_rows = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("import")
        verbose_name_plural = _("imports")

    def __str__(self) -> str:
        return self.filename

    @property
    def progress_percent(self) -> int:
        if not self.total_rows:
            return 100 if self.status == self.Status.DONE else 0
        return min(100, self.processed_rows * 100 // self.total_rows)

    @property
    def error_rows(self) -> int:
        if self.rejected_purged_at:
            return self.rejected_count
        return len({error["row"] for error in self.errors})


class ImportMapping(models.Model):
    """The column mapping last used for a header, so the next file of the same register
    comes pre-mapped."""

    header = models.CharField(max_length=200, unique=True)
    field = models.CharField(max_length=40)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.header} → {self.field}"

"""Importing discharge lists and other registers: upload, map columns, preview, import."""

from dataclasses import replace

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from saas import clock

from .. import registers, samples
from ..forms import ImportUploadForm
from ..models import ImportJob
from ..models.imports import REJECTED_ROWS_DAYS
from ..roles import IMPORT_RECORDS
from ..services import import_jobs
from ..vocabulary import clinic_vocabulary

import_required = permission_required(IMPORT_RECORDS, raise_exception=True)


def _fields() -> list[registers.ImportField]:
    """The columns a file may map to, the record number called by the clinic's word for it."""
    record_no = clinic_vocabulary().record_no
    return [
        replace(field, label=record_no) if field.key == "record_no" else field
        for field in registers.FIELDS
    ]


MAX_UPLOAD_BYTES = 50 * 1024 * 1024


@login_required
@import_required
def import_list(request):
    form = ImportUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        if upload.size > MAX_UPLOAD_BYTES:
            form.add_error("file", _("The file is larger than 50 MB; split it into smaller files."))
        else:
            try:
                job = import_jobs.import_upload(
                    filename=upload.name, content=upload.read(), user=request.user
                )
            except ValidationError as exc:
                form.add_error("file", exc)
            else:
                return redirect("import_detail", job.pk)
    jobs = ImportJob.objects.defer("content").select_related("created_by")[:20]
    return render(request, "crm/import_list.html", {"form": form, "jobs": jobs})


@login_required
@import_required
def import_sample(request):
    """A sample register for this clinic's kind, dated so that its follow-ups are due now."""
    tenant = connection.tenant
    body = samples.sample_register(
        kind=tenant.kind,
        locale=translation.get_language() or tenant.locale,
        today=clock.today(),
    )
    response = HttpResponse(body, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="carebridge-sample.csv"'
    return response


@login_required
@import_required
def import_detail(request, job_id):
    job = get_object_or_404(ImportJob.objects.defer("content"), pk=job_id)
    context = {"job": job, "fields": _fields()}
    if job.status == ImportJob.Status.MAPPED:
        # What the check found when the columns were mapped: the file is not read again.
        context["preview"] = job.preview
        context["errors"] = job.preview["errors"]
        context["more_errors"] = job.preview["more_errors"]
    elif job.status == ImportJob.Status.DONE:
        context["rejected_days"] = REJECTED_ROWS_DAYS
        context["errors"] = job.errors[: import_jobs.PREVIEW_ERRORS]
        context["more_errors"] = max(0, len(job.errors) - import_jobs.PREVIEW_ERRORS)
    return render(request, "crm/import_detail.html", context)


@require_POST
@login_required
@import_required
def import_map(request, job_id):
    job = get_object_or_404(ImportJob.objects.defer("content"), pk=job_id)
    if job.status not in (ImportJob.Status.UPLOADED, ImportJob.Status.MAPPED):
        messages.error(request, _("This import has already been started."))
        return redirect("import_detail", job.pk)
    mapping = {header: request.POST.get(f"col-{i}", "") for i, header in enumerate(job.headers)}
    try:
        import_jobs.import_map(job, mapping)
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
        job.mapping = {h: f for h, f in mapping.items() if f}
        return render(
            request,
            "crm/import_detail.html",
            {"job": job, "fields": _fields()},
            status=400,
        )
    return redirect("import_detail", job.pk)


@require_POST
@login_required
@import_required
def import_remap(request, job_id):
    job = get_object_or_404(ImportJob.objects.defer("content"), pk=job_id)
    if job.status == ImportJob.Status.MAPPED:
        job.status = ImportJob.Status.UPLOADED
        job.save(update_fields=["status"])
    return redirect("import_detail", job.pk)


@require_POST
@login_required
@import_required
def import_start(request, job_id):
    job = get_object_or_404(ImportJob.objects.defer("content"), pk=job_id)
    try:
        import_jobs.import_queue(job)
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    return redirect("import_detail", job.pk)


@login_required
@import_required
def import_progress(request, job_id):
    job = get_object_or_404(ImportJob.objects.defer("content"), pk=job_id)
    return JsonResponse(
        {
            "status": job.status,
            "percent": job.progress_percent,
            "processed": job.processed_rows,
            "total": job.total_rows,
            "finished": job.status in (ImportJob.Status.DONE, ImportJob.Status.FAILED),
        }
    )


@login_required
@import_required
def import_errors(request, job_id):
    job = get_object_or_404(
        ImportJob.objects.defer("content"), pk=job_id, status=ImportJob.Status.DONE
    )
    try:
        body = import_jobs.import_errors_csv(job, request.user)
    except ValidationError as exc:
        messages.error(request, exc.messages[0])
        return redirect("import_detail", job.pk)
    response = HttpResponse("\ufeff" + body, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="import-{job.pk}-rejected.csv"'
    return response

"""The clinic's full export (portability): administrators ask for one and download it
through the app while it lasts (never from a public URL)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.http import FileResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from ..models import ClinicExport
from ..roles import ADMINISTER_DATA
from ..services import exports

administer_data = permission_required(ADMINISTER_DATA, raise_exception=True)


@login_required
@administer_data
def export_list(request):
    if request.method == "POST":
        try:
            exports.clinic_export_request(user=request.user)
        except ValidationError as exc:
            messages.error(request, exc.messages[0])
        else:
            messages.success(
                request, _("The export is being prepared; it is listed here when ready.")
            )
        return redirect("export_list")
    return render(
        request,
        "crm/export_list.html",
        {
            "exports": ClinicExport.objects.select_related("requested_by")[:20],
            "days": exports.EXPORT_DAYS,
        },
    )


@login_required
@administer_data
def export_download(request, export_id):
    export = get_object_or_404(ClinicExport, pk=export_id)
    try:
        handle = exports.clinic_export_open(export, request.user)
    except ValidationError as exc:
        messages.error(request, exc.messages[0])
        return redirect("export_list")
    name = f"carebridge-export-{export.created_at:%Y%m%d}-{export.pk}.zip"
    return FileResponse(handle, as_attachment=True, filename=name, content_type="application/zip")

"""The KPI targets page (Reports → Targets): the clinic's targets and any department's own,
and the follow-up rate per kind of patient."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from ..forms import KpiTargetsForm
from ..models import Department
from ..reporting.targets import kpi_targets_save, targets_all
from ..roles import SET_TARGETS


@login_required
@permission_required(SET_TARGETS, raise_exception=True)
def kpi_targets(request):
    departments = list(Department.objects.order_by("name"))
    form = KpiTargetsForm(request.POST or None, departments=departments, current=targets_all())
    if request.method == "POST" and form.is_valid():
        kpi_targets_save(values=form.targets())
        messages.success(request, _("Targets saved."))
        return redirect("kpi_targets")
    return render(
        request,
        "crm/kpi_targets.html",
        {
            "form": form,
            "rows": form.rows(),
            "kind_rows": form.kind_rows(),
            "departments": departments,
        },
    )

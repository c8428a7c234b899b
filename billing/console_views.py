"""The vendor console's billing pages on BASE_DOMAIN: every tenant with plan, status, MRR,
usage and trial end; one tenant's subscription, events and actions; the plans. Vendor staff
only; every action is audit-logged by its service."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from tenants.models import Tenant
from tenants.views import vendor_staff_required

from . import selectors, services
from .entitlements import storage_used_mb
from .forms import CompForm, PlanForm, TrialExtendForm
from .models import Plan


def _tenant_or_404(tenant_id) -> Tenant:
    return get_object_or_404(Tenant.objects.exclude(schema_name="public"), pk=tenant_id)


@vendor_staff_required
def tenant_list(request):
    rows, mrr_total = selectors.billing_console_rows()
    return render(
        request,
        "billing/console_list.html",
        {"rows": rows, "mrr_total": mrr_total, "audit": selectors.billing_audit_recent()},
    )


@vendor_staff_required
def tenant_detail(request, tenant_id):
    tenant = _tenant_or_404(tenant_id)
    rows, _total = selectors.billing_console_rows()
    row = next(r for r in rows if r.tenant.pk == tenant.pk)
    return render(
        request,
        "billing/console_detail.html",
        {
            "tenant": tenant,
            "row": row,
            **selectors.billing_console_detail(tenant),
            "storage_mb": storage_used_mb(tenant),
            "trial_form": TrialExtendForm(),
            "comp_form": CompForm(initial={"plan": row.plan}),
        },
    )


def _action(request, tenant, work, success: str):
    try:
        work()
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    else:
        messages.success(request, success % {"name": tenant.name})
    return redirect("billing_console:tenant", tenant.pk)


@require_POST
@vendor_staff_required
def trial_extend(request, tenant_id):
    tenant = _tenant_or_404(tenant_id)
    form = TrialExtendForm(request.POST)

    def work():
        if not form.is_valid():
            raise ValidationError(_("Extend a trial by 1 to 90 days."))
        services.trial_extend(tenant=tenant, days=form.cleaned_data["days"], actor=request.user)

    return _action(request, tenant, work, _("The trial of %(name)s is extended."))


@require_POST
@vendor_staff_required
def plan_comp(request, tenant_id):
    tenant = _tenant_or_404(tenant_id)
    form = CompForm(request.POST)

    def work():
        if not form.is_valid():
            raise ValidationError(_("Choose a plan."))
        services.plan_comp(
            tenant=tenant, plan=form.cleaned_data["plan"], actor=request.user,
            note=form.cleaned_data["note"],
        )  # fmt: skip

    return _action(request, tenant, work, _("%(name)s now has a comped plan."))


@require_POST
@vendor_staff_required
def comp_end(request, tenant_id):
    tenant = _tenant_or_404(tenant_id)
    return _action(
        request,
        tenant,
        lambda: services.comp_end(tenant=tenant, actor=request.user),
        _("%(name)s pays for its plan again."),
    )


@require_POST
@vendor_staff_required
def suspend(request, tenant_id):
    tenant = _tenant_or_404(tenant_id)
    return _action(
        request,
        tenant,
        lambda: services.console_suspend(
            tenant=tenant, actor=request.user, reason=request.POST.get("reason", "")
        ),
        _("%(name)s is suspended."),
    )


@require_POST
@vendor_staff_required
def reactivate(request, tenant_id):
    tenant = _tenant_or_404(tenant_id)
    return _action(
        request,
        tenant,
        lambda: services.console_reactivate(tenant=tenant, actor=request.user),
        _("%(name)s is active again."),
    )


@require_POST
@vendor_staff_required
def stripe_customer(request, tenant_id):
    tenant = _tenant_or_404(tenant_id)
    try:
        url = services.stripe_customer_open(tenant=tenant, actor=request.user)
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
        return redirect("billing_console:tenant", tenant.pk)
    return redirect(url)


@vendor_staff_required
def plan_list(request):
    return render(request, "billing/console_plans.html", {"plans": Plan.objects.all()})


@vendor_staff_required
def plan_edit(request, plan_id=None):
    plan = get_object_or_404(Plan, pk=plan_id) if plan_id else None
    form = PlanForm(request.POST or None, instance=plan)
    if request.method == "POST" and form.is_valid():
        saved = services.plan_save(
            plan_id=form.instance.pk, values=form.plan_values(), actor=request.user
        )
        messages.success(request, _("Plan %(name)s saved.") % {"name": saved.name})
        return redirect("billing_console:plans")
    return render(request, "billing/console_plan_form.html", {"form": form, "plan": plan})

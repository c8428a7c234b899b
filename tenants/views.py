"""The vendor console on BASE_DOMAIN, where vendor staff (is_staff users of the public schema)
list, create, suspend and reactivate tenants and manage their custom domains; and, on a
tenant's own host, the clinic's settings page for its administrators."""

from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from crm.models import AuditEntry
from crm.services.audit import audit_record

from . import offboarding, selectors, services
from .forms import ConsoleAuditFilterForm, DomainAddForm, TenantCreateForm, TenantSettingsForm
from .models import Domain, Tenant


def vendor_staff_required(view):
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not (request.user.is_active and request.user.is_staff):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper


@vendor_staff_required
def tenant_list(request):
    return render(
        request,
        "tenants/console_list.html",
        {
            "tenants": selectors.tenant_console_list(),
            "audit": selectors.console_audit_recent(),
            "grace_days": settings.TENANT_CLOSING_GRACE_DAYS,
        },
    )


@vendor_staff_required
def console_audit(request):
    """Both vendor trails (console actions and sign-ins, billing changes), merged."""
    form = ConsoleAuditFilterForm(request.GET, actions=selectors.console_audit_actions())
    page = None
    if form.is_valid():
        tenant = form.cleaned_data["tenant"]
        page = selectors.console_audit_page(
            tenant_id=tenant.pk if tenant else None,
            action=form.cleaned_data["action"],
            page=request.GET.get("page"),
        )
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "tenants/console_audit.html",
        {"form": form, "page": page, "query": query.urlencode()},
        status=200 if page is not None else 400,
    )


@vendor_staff_required
def tenant_create(request):
    form = TenantCreateForm(request.POST or None, base_domain=settings.BASE_DOMAIN)
    if request.method == "POST" and form.is_valid():
        try:
            result = services.tenant_provision(**form.cleaned_data, actor=request.user)
        except ValidationError as exc:
            for message in exc.messages:
                form.add_error(None, message)
        else:
            messages.success(
                request,
                _("%(name)s is ready at %(host)s. An invitation was sent to %(email)s.")
                % {
                    "name": result.tenant.name,
                    "host": result.tenant.primary_host,
                    "email": result.admin_email,
                },
            )
            return redirect("console:tenants")
    return render(request, "tenants/console_create.html", {"form": form})


@require_POST
@vendor_staff_required
def tenant_suspend(request, tenant_id):
    tenant = _tenant_or_404(tenant_id)
    services.tenant_suspend(
        tenant=tenant, actor=request.user, reason=request.POST.get("reason", "")
    )
    messages.success(request, _("%(name)s is suspended.") % {"name": tenant.name})
    return redirect("console:tenants")


@require_POST
@vendor_staff_required
def tenant_reactivate(request, tenant_id):
    tenant = _tenant_or_404(tenant_id)
    services.tenant_reactivate(tenant=tenant, actor=request.user)
    messages.success(request, _("%(name)s is active again.") % {"name": tenant.name})
    return redirect("console:tenants")


@require_POST
@vendor_staff_required
def tenant_close(request, tenant_id):
    """Offboarding: export, suspend, and delete after the grace period."""
    tenant = _tenant_or_404(tenant_id)
    try:
        closing = offboarding.tenant_close(
            tenant=tenant, actor=request.user, reason=request.POST.get("reason", "")
        )
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    else:
        messages.success(
            request,
            _(
                "%(name)s is closing: suspended, its export is being prepared, and its data is "
                "deleted after %(day)s."
            )  # fmt: skip
            % {"name": tenant.name, "day": f"{closing.delete_after:%Y-%m-%d}"},
        )
    return redirect("console:tenants")


@require_POST
@vendor_staff_required
def tenant_close_cancel(request, tenant_id):
    tenant = _tenant_or_404(tenant_id)
    try:
        offboarding.tenant_close_cancel(tenant=tenant, actor=request.user)
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    else:
        messages.success(
            request,
            _("%(name)s is no longer closing; it stays suspended until you reactivate it.")
            % {"name": tenant.name},
        )
    return redirect("console:tenants")


@vendor_staff_required
def tenant_closing_export(request, tenant_id):
    """The closing clinic's export, for vendor staff to hand over (audit-logged)."""
    tenant = _tenant_or_404(tenant_id)
    try:
        export, handle = offboarding.closing_export_open(tenant=tenant, actor=request.user)
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
        return redirect("console:tenants")
    name = f"carebridge-export-{tenant.schema_name}-{export.created_at:%Y%m%d}.zip"
    return FileResponse(handle, as_attachment=True, filename=name, content_type="application/zip")


def _tenant_or_404(tenant_id) -> Tenant:
    return get_object_or_404(Tenant.objects.exclude(schema_name="public"), pk=tenant_id)


@require_POST
@vendor_staff_required
def domain_add(request, tenant_id):
    tenant = _tenant_or_404(tenant_id)
    form = DomainAddForm(request.POST)
    try:
        if not form.is_valid():
            raise ValidationError(_("Enter a host name such as followup.example-hospital.cn."))
        added = services.domain_add(
            tenant=tenant, domain=form.cleaned_data["domain"], actor=request.user
        )
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    else:
        messages.success(
            request,
            _("%(domain)s now leads to %(name)s.") % {"domain": added.domain, "name": tenant.name},
        )
    return redirect("console:tenants")


@require_POST
@vendor_staff_required
def domain_remove(request, domain_id):
    domain = get_object_or_404(Domain.objects.exclude(tenant__schema_name="public"), pk=domain_id)
    try:
        services.domain_remove(domain=domain, actor=request.user)
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    else:
        messages.success(request, _("%(domain)s removed.") % {"domain": domain.domain})
    return redirect("console:tenants")


@login_required
@permission_required("tenants.change_tenant", raise_exception=True)
def tenant_settings(request):
    """On a tenant's own host: its administrators edit name, language, time zone and hours."""
    form = TenantSettingsForm(
        request.POST or None, initial=TenantSettingsForm.initial_for(request.tenant)
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.tenant_settings_update(tenant=request.tenant, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)  # a dict of field errors lands on those fields
        else:
            # In the clinic's own trail: which settings changed, not their values.
            audit_record(
                request.user,
                AuditEntry.Action.SETTINGS_CHANGED,
                detail={"fields": sorted(form.changed_data)},
            )
            messages.success(request, _("Settings saved."))
            return redirect("tenant_settings")
    return render(request, "tenants/settings.html", {"form": form})

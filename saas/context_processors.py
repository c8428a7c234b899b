"""What the base layout needs on every page: tenant, navigation for the user's role, languages."""

from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from saas import two_step


def _tenant_nav(user) -> list[dict]:
    from crm.roles import (
        IMPORT_RECORDS,
        MANAGE_RULES,
        MANAGE_SETTINGS,
        MANAGE_STAFF,
        VIEW_COMPLAINTS,
        VIEW_OUTBOX,
        VIEW_REPORTS,
        VIEW_RESPONSES,
        WORK_TASKS,
    )

    items = [{"url": reverse("home"), "label": _("Home"), "name": "home"}]
    if user.has_perm(WORK_TASKS):
        items.append({"url": reverse("worklist"), "label": _("Worklist"), "name": "worklist"})
    if user.has_perm("crm.view_contact"):
        items.append({"url": reverse("contact_list"), "label": _("Contacts"), "name": "contacts"})
    if user.has_perm(IMPORT_RECORDS):
        items.append({"url": reverse("import_list"), "label": _("Import"), "name": "imports"})
    if user.has_perm(VIEW_REPORTS):
        items.append(
            {"url": reverse("report_dashboard"), "label": _("Dashboard"), "name": "dashboard"}
        )
        items.append({"url": reverse("report_month"), "label": _("Reports"), "name": "reports"})
    if user.has_perm(VIEW_COMPLAINTS):
        items.append(
            {"url": reverse("complaint_list"), "label": _("Complaints"), "name": "complaints"}
        )
    if user.has_perm(VIEW_RESPONSES):
        items.append({"url": reverse("survey_list"), "label": _("Surveys"), "name": "surveys"})
    if user.has_perm(MANAGE_RULES):
        items.append({"url": reverse("rule_list"), "label": _("Rules"), "name": "rules"})
    if user.has_perm(VIEW_OUTBOX):
        items.append({"url": reverse("outbox"), "label": _("Outbox"), "name": "outbox"})
    if user.has_perm("wagtailadmin.access_admin"):
        items.append({"url": reverse("cms_reach"), "label": _("Health education"), "name": "cms"})
    if user.has_perm(MANAGE_STAFF):
        items.append({"url": reverse("staff_list"), "label": _("Staff"), "name": "staff"})
    if user.has_perm("crm.view_auditentry"):
        items.append({"url": reverse("audit_list"), "label": _("Audit trail"), "name": "audit"})
    if user.has_perm(MANAGE_SETTINGS):
        items.append(
            {"url": reverse("tenant_settings"), "label": _("Settings"), "name": "settings"}
        )
        items.append({"url": reverse("billing:page"), "label": _("Billing"), "name": "billing"})
        items.append({"url": reverse("api_key_list"), "label": _("API"), "name": "api"})
    return items


def _public_nav(user) -> list[dict]:
    items = [{"url": reverse("landing"), "label": _("Home"), "name": "landing"}]
    if user.is_active and user.is_staff:
        items.append({"url": reverse("console:tenants"), "label": _("Console"), "name": "console"})
        items.append(
            {"url": reverse("billing_console:tenants"), "label": _("Billing"), "name": "billing"}
        )
        items.append(
            {"url": reverse("console:audit"), "label": _("Audit trail"), "name": "console_audit"}
        )
    items.append({"url": reverse("billing:pricing"), "label": _("Pricing"), "name": "pricing"})
    return items


def shell(request) -> dict:
    tenant = getattr(request, "tenant", None)
    is_tenant = tenant is not None and not tenant.is_public
    user = getattr(request, "user", None)
    nav = []
    role = None
    # Signed in with a password only: no navigation until the second step is done (its links
    # would all lead back to that step).
    if (
        user is not None
        and user.is_authenticated
        and not two_step.second_step_pending(user, tenant)
    ):
        if is_tenant:
            from crm.roles import Role
            from crm.selectors import staff_role

            nav = _tenant_nav(user)
            code = staff_role(user)
            role = Role(code).label if code else None
        else:
            nav = _public_nav(user)
    return {
        "current_tenant": tenant if is_tenant else None,
        "nav_items": nav,
        "user_role": role,
        "languages": settings.LANGUAGES,
        "base_domain": settings.BASE_DOMAIN,
    }

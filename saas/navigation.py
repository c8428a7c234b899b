"""The staff menu: one list of entries, grouped by purpose, filtered by the user's permissions.

Adding a page to the menu is one line in TENANT_MENU (or PUBLIC_MENU on the vendor's host):
``Entry(<group>, _("Label"), "<url name>", "<app>.<permission>")``. The group decides where
it shows: DAILY entries sit in the bar itself (worked all day, one click away), ANALYSIS and
SETUP entries in a drop-down menu each. An entry shows only to users holding its permission
(None: any signed-in user; "is_staff": the vendor's staff), so a role never sees a link
that would answer 403."""

from dataclasses import dataclass

from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from crm.roles import (
    IMPORT_RECORDS,
    MANAGE_MESSAGES,
    MANAGE_RULES,
    MANAGE_SETTINGS,
    MANAGE_STAFF,
    SIGN_REGISTER,
    VIEW_COMPLAINTS,
    VIEW_OUTBOX,
    VIEW_REPORTS,
    VIEW_RESPONSES,
    VIEW_WALLBOARD,
    WORK_TASKS,
)

DAILY = "daily"
ANALYSIS = "analysis"
SETUP = "setup"

# In the order they show; a group left empty for a role is not shown at all.
GROUPS: dict[str, Promise] = {
    DAILY: pgettext_lazy("menu", "Daily work"),
    ANALYSIS: pgettext_lazy("menu", "Analysis"),
    SETUP: pgettext_lazy("menu", "Set-up"),
}
# Groups shown as a drop-down menu rather than as links in the bar.
DROPDOWN_GROUPS = {ANALYSIS, SETUP}


@dataclass(frozen=True)
class Entry:
    group: str
    label: Promise
    url_name: str
    permission: str | None = None


TENANT_MENU: list[Entry] = [
    Entry(DAILY, _("Worklist"), "worklist", WORK_TASKS),
    Entry(DAILY, _("Contacts"), "contact_list", "crm.view_contact"),
    Entry(DAILY, _("Complaints"), "complaint_list", VIEW_COMPLAINTS),
    Entry(DAILY, _("Import"), "import_list", IMPORT_RECORDS),
    Entry(ANALYSIS, _("Dashboard"), "report_dashboard", VIEW_REPORTS),
    Entry(ANALYSIS, _("Reports"), "report_month", VIEW_REPORTS),
    # The department head and head nurse sign their register monthly (issue 19 §4).
    Entry(ANALYSIS, _("Register sign-off"), "register_sign_off", SIGN_REGISTER),
    Entry(ANALYSIS, _("Wallboard"), "wallboard", VIEW_WALLBOARD),
    Entry(ANALYSIS, _("Audit trail"), "audit_list", "crm.view_auditentry"),
    Entry(SETUP, _("Rules"), "rule_list", MANAGE_RULES),
    Entry(SETUP, _("Surveys"), "survey_list", VIEW_RESPONSES),
    Entry(SETUP, _("Outbox"), "outbox", VIEW_OUTBOX),
    Entry(SETUP, _("Messages"), "message_template_list", MANAGE_MESSAGES),
    Entry(SETUP, _("Health education"), "cms_reach", "wagtailadmin.access_admin"),
    Entry(SETUP, _("Staff"), "staff_list", MANAGE_STAFF),
    Entry(SETUP, _("Settings"), "tenant_settings", MANAGE_SETTINGS),
    Entry(SETUP, _("Billing"), "billing:page", MANAGE_SETTINGS),
    Entry(SETUP, _("API"), "api_key_list", MANAGE_SETTINGS),
]

# The vendor's own host: the console for vendor staff, the price list for everyone.
PUBLIC_MENU: list[Entry] = [
    Entry(DAILY, _("Console"), "console:tenants", "is_staff"),
    Entry(DAILY, _("Billing"), "billing_console:tenants", "is_staff"),
    Entry(DAILY, _("Audit trail"), "console:audit", "is_staff"),
    Entry(DAILY, _("Pricing"), "billing:pricing"),
]


def _may_use(user, entry: Entry) -> bool:
    if entry.permission is None:
        return True
    if entry.permission == "is_staff":
        # Vendor staff are plain Django staff users of the public schema, not a permission.
        return user.is_active and user.is_staff
    return user.has_perm(entry.permission)


def _current_url(path: str, urls: list[str]) -> str | None:
    """The entry the page belongs to: the longest menu address the path starts with (a
    follow-up's call page /worklist/12/ belongs to the worklist)."""
    matches = [url for url in urls if path == url or (url != "/" and path.startswith(url))]
    return max(matches, key=len, default=None)


def menu_for(
    user, path: str, *, home_url: str, menu: list[Entry], labels: dict[str, Promise] | None = None
) -> dict:
    """The user's menu for the page at ``path``: the home link, then each non-empty group
    with its entries, the one the page belongs to marked current. ``labels`` (by url name)
    replaces an entry's label with the clinic's own word for it (crm.vocabulary)."""
    labels = labels or {}
    allowed = [
        {
            "name": entry.url_name,
            "label": labels.get(entry.url_name, entry.label),
            "url": reverse(entry.url_name),
            "group": entry.group,
        }
        for entry in menu
        if _may_use(user, entry)
    ]
    current = _current_url(path, [home_url] + [item["url"] for item in allowed])
    home = {"name": "home", "label": _("Home"), "url": home_url, "current": current == home_url}
    for item in allowed:
        item["current"] = item["url"] == current
    groups = []
    for key, label in GROUPS.items():
        items = [item for item in allowed if item["group"] == key]
        if items:
            groups.append(
                {
                    "key": key,
                    "label": label,
                    "items": items,
                    "dropdown": key in DROPDOWN_GROUPS,
                    "current": any(item["current"] for item in items),
                }
            )
    return {"home": home, "groups": groups, "items": [home, *allowed]}

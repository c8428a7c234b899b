"""The five staff roles (Django groups) and the permissions each one carries. Roles are
synchronised into every tenant schema by crm.services.staff.roles_sync."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    ADMIN = "admin", _("Administrator")
    SUPERVISOR = "supervisor", _("Supervisor")
    AGENT = "agent", _("Agent")
    CLINICIAN = "clinician", _("Clinician")
    VIEWER = "viewer", _("Viewer")


_READ = [
    "crm.view_department",
    "crm.view_contact",
    "crm.view_encounter",
    "crm.view_followuptask",
    "crm.view_followuprule",
]
_WORK = [
    "crm.add_callattempt",  # log attempts on follow-ups: the worklist's call page
]
# Receiving complaints and praise during a call, and filling a survey with the contact.
_FEEDBACK = [
    "crm.add_complaint",
    "crm.add_praise",
    "surveys.add_surveyresponse",
]
# Handling complaints and reading what patients said.
_QUALITY = [
    "crm.view_reports",
    "crm.export_reports",
    "crm.view_complaint",
    "crm.change_complaint",
    "crm.view_praise",
    "crm.view_message",
    "surveys.view_surveyresponse",
]
_RECORDS = [
    "crm.add_contact",
    "crm.change_contact",
    "crm.add_encounter",
    "crm.change_encounter",
]

ROLE_PERMISSIONS: dict[str, list[str]] = {
    Role.ADMIN: [
        *_READ,
        *_WORK,
        *_RECORDS,
        *_FEEDBACK,
        *_QUALITY,
        "crm.change_messagetemplate",
        "surveys.add_surveytemplate",
        "surveys.change_surveytemplate",
        "crm.add_department",
        "crm.change_department",
        "crm.add_followuprule",
        "crm.change_followuprule",
        "crm.delete_followuprule",
        "crm.add_outcomecode",
        "crm.change_outcomecode",
        "crm.add_importjob",
        "crm.spot_check",
        "crm.view_auditentry",
        "crm.change_kpitarget",
        "crm.add_reportcomment",
        "auth.view_user",
        "auth.add_user",
        "auth.change_user",
        "wagtailadmin.access_admin",
        "tenants.change_tenant",  # the clinic's own settings: name, language, time zone, hours
    ],
    Role.SUPERVISOR: [
        *_READ,
        *_WORK,
        *_RECORDS,
        *_FEEDBACK,
        *_QUALITY,
        "crm.add_importjob",
        "crm.spot_check",
        "crm.view_auditentry",
        "crm.add_registersignoff",
        "crm.add_correctiveaction",
        "crm.change_correctiveaction",
        "auth.view_user",
    ],
    Role.AGENT: [*_READ, *_WORK, *_RECORDS, *_FEEDBACK],
    Role.CLINICIAN: [*_READ, *_WORK, *_FEEDBACK, "crm.add_registersignoff"],
    Role.VIEWER: [*_READ],
}

# The permission that opens staff management (invite, deactivate, change role).
MANAGE_STAFF = "auth.change_user"
# The permission that opens the clinic's settings page.
MANAGE_SETTINGS = "tenants.change_tenant"
# Erasing a patient's data and the clinic's full export: administrators, as the settings.
ADMINISTER_DATA = MANAGE_SETTINGS
# Adding, renaming and deactivating departments.
MANAGE_DEPARTMENTS = "crm.change_department"
# Working follow-ups (the worklist and the call page).
WORK_TASKS = "crm.add_callattempt"
EDIT_RECORDS = "crm.change_contact"
MANAGE_RULES = "crm.change_followuprule"
MANAGE_OUTCOMES = "crm.change_outcomecode"
IMPORT_RECORDS = "crm.add_importjob"
SPOT_CHECK = "crm.spot_check"
RECORD_FEEDBACK = "crm.add_complaint"
VIEW_COMPLAINTS = "crm.view_complaint"
HANDLE_COMPLAINTS = "crm.change_complaint"
VIEW_OUTBOX = "crm.view_message"
MANAGE_MESSAGES = "crm.change_messagetemplate"
MANAGE_SURVEYS = "surveys.change_surveytemplate"
VIEW_RESPONSES = "surveys.view_surveyresponse"
FILL_SURVEYS = "surveys.add_surveyresponse"
VIEW_REPORTS = "crm.view_reports"
# Downloading reports and the lists behind their figures (audit-logged).
EXPORT_REPORTS = "crm.export_reports"
# Setting the KPI targets (the clinic's and its departments').
SET_TARGETS = "crm.change_kpitarget"
# The live wallboard (/reports/live/): the team's figures of the day, staff by name. Those who
# read the reports (supervisors and administrators) watch the board too.
VIEW_WALLBOARD = VIEW_REPORTS
# The department's monthly loop (issue 19 §4). Signing a department's register: its
# supervisors and clinicians (the head, the head nurse), and only of a department they work in
# (crm.services.review checks that). Commenting on the month's report: the clinic's leadership,
# i.e. its administrators. Recording and closing a department's corrective actions: its
# supervisors.
SIGN_REGISTER = "crm.add_registersignoff"
COMMENT_REPORT = "crm.add_reportcomment"
RECORD_CORRECTIVE_ACTIONS = "crm.add_correctiveaction"

from django.urls import path

from .views import (
    audit,
    exports,
    feedback,
    imports,
    kinds,
    outbox,
    records,
    reports,
    review,
    rules,
    sms_provider,
    spot_checks,
    staff,
    targets,
    wallboard,
    wechat,
    worklist,
)
from .views import integrations as api_pages

urlpatterns = [
    # Staff management
    path("staff/", staff.staff_list, name="staff_list"),
    path("staff/invite/", staff.staff_invite, name="staff_invite"),
    path("staff/<int:user_id>/departments/", staff.staff_departments, name="staff_departments"),
    path("staff/<int:user_id>/role/", staff.staff_role_change, name="staff_role_change"),
    path("staff/<int:user_id>/deactivate/", staff.staff_deactivate, name="staff_deactivate"),
    path("staff/<int:user_id>/reactivate/", staff.staff_reactivate, name="staff_reactivate"),
    path(
        "staff/<int:user_id>/two-step-reset/",
        staff.staff_two_step_reset,
        name="staff_two_step_reset",
    ),
    path(
        "staff/<int:user_id>/resend/",
        staff.staff_invitation_resend,
        name="staff_invitation_resend",
    ),
    # Departments
    path("departments/", staff.department_list, name="department_list"),
    path("departments/new/", staff.department_create, name="department_create"),
    path("departments/<int:department_id>/", staff.department_edit, name="department_edit"),
    # The home page's set-up checklist and the list behind the reach rate
    path("home/checklist/dismiss/", staff.onboarding_dismiss, name="onboarding_dismiss"),
    path("home/checklist/restore/", staff.onboarding_restore, name="onboarding_restore"),
    path("worklist/today/", staff.calls_today, name="calls_today"),
    # The audit trail
    path("audit/", audit.audit_list, name="audit_list"),
    path("audit/export.csv", audit.audit_export, name="audit_export"),
    # The worklist and the call page
    path("worklist/", worklist.worklist, name="worklist"),
    path("tasks/<int:task_id>/", worklist.task_detail, name="task_detail"),
    # Tier-3 spot checks: the audits behind an agent's discrepancy score
    path(
        "spot-checks/agents/<int:agent_id>/",
        spot_checks.spot_check_agent,
        name="spot_check_agent",
    ),
    path("tasks/<int:task_id>/claim/", worklist.task_claim, name="task_claim"),
    path("tasks/<int:task_id>/release/", worklist.task_release, name="task_release"),
    path("tasks/<int:task_id>/call/<int:phone_id>/", worklist.phone_reveal, name="phone_reveal"),
    path("tasks/<int:task_id>/attempts/", worklist.attempt_create, name="attempt_create"),
    # Contacts and encounters
    path("contacts/", records.contact_list, name="contact_list"),
    path("contacts/new/", records.contact_create, name="contact_create"),
    path("contacts/<int:contact_id>/", records.contact_detail, name="contact_detail"),
    path("contacts/<int:contact_id>/edit/", records.contact_edit, name="contact_edit"),
    path("contacts/<int:contact_id>/erase/", records.contact_erase, name="contact_erase"),
    path(
        "contacts/<int:contact_id>/encounters/new/",
        records.encounter_create,
        name="encounter_create",
    ),
    path(
        "contacts/<int:contact_id>/wechat-slip/",
        wechat.contact_wechat_slip,
        name="contact_wechat_slip",
    ),
    path("encounters/<int:encounter_id>/edit/", records.encounter_edit, name="encounter_edit"),
    # Imports
    path("imports/", imports.import_list, name="import_list"),
    path("imports/sample.csv", imports.import_sample, name="import_sample"),
    path("imports/<int:job_id>/", imports.import_detail, name="import_detail"),
    path("imports/<int:job_id>/map/", imports.import_map, name="import_map"),
    path("imports/<int:job_id>/remap/", imports.import_remap, name="import_remap"),
    path("imports/<int:job_id>/start/", imports.import_start, name="import_start"),
    path("imports/<int:job_id>/progress/", imports.import_progress, name="import_progress"),
    path("imports/<int:job_id>/rejected.csv", imports.import_errors, name="import_errors"),
    # The clinic's full export
    path("exports/", exports.export_list, name="export_list"),
    path("exports/<int:export_id>/download/", exports.export_download, name="export_download"),
    # Rules and outcome codes
    path("rules/", rules.rule_list, name="rule_list"),
    path("rules/new/", rules.rule_create, name="rule_create"),
    path("rules/preview/", rules.rule_preview, name="rule_preview"),
    path("rules/<int:rule_id>/", rules.rule_edit, name="rule_edit"),
    path("rules/<int:rule_id>/replan/", rules.rule_replan, name="rule_replan"),
    path("rules/kinds/", kinds.kind_list, name="kind_list"),
    path("rules/kinds/<int:kind_id>/", kinds.kind_edit, name="kind_edit"),
    path("rules/kinds/<int:kind_id>/archive/", kinds.kind_archive, name="kind_archive"),
    path("rules/kinds/<int:kind_id>/delete/", kinds.kind_delete, name="kind_delete"),
    path("outcomes/", rules.outcome_list, name="outcome_list"),
    path("outcomes/<int:code_id>/", rules.outcome_edit, name="outcome_edit"),
    # Reports
    path("reports/", reports.report_month, name="report_month"),
    path("reports/targets/", targets.kpi_targets, name="kpi_targets"),
    path("reports/export.xlsx", reports.report_export, {"fmt": "xlsx"}, name="report_xlsx"),
    path("reports/export.pdf", reports.report_export, {"fmt": "pdf"}, name="report_pdf"),
    path("reports/dashboard/", reports.report_dashboard, name="report_dashboard"),
    path("reports/live/", wallboard.wallboard, name="wallboard"),
    path("reports/live/data.json", wallboard.wallboard_data, name="wallboard_data"),
    path("reports/list/", reports.report_list, name="report_list"),
    path("reports/list.csv", reports.report_list_csv, name="report_list_csv"),
    path("reports/sign-off/", review.register_sign_off_page, name="register_sign_off"),
    path("reports/comments/", review.report_comment, name="report_comment"),
    path(
        "reports/corrective-actions/new/",
        review.corrective_action_new,
        name="corrective_action_new",
    ),
    path(
        "reports/corrective-actions/<int:action_id>/done/",
        review.corrective_action_done,
        name="corrective_action_done",
    ),
    # Complaints and praise
    path("complaints/", feedback.complaint_list, name="complaint_list"),
    path("complaints/new/", feedback.complaint_create, name="complaint_create"),
    path("complaints/<int:complaint_id>/", feedback.complaint_detail, name="complaint_detail"),
    path("complaints/<int:complaint_id>/move/", feedback.complaint_move, name="complaint_move"),
    path("praise/", feedback.praise_list, name="praise_list"),
    path("praise/new/", feedback.praise_create, name="praise_create"),
    # Outbox, message templates, SMS provider callbacks
    path("outbox/", outbox.outbox_list, name="outbox"),
    path("outbox/requeue/", outbox.outbox_requeue, name="outbox_requeue"),
    path("messages/templates/", outbox.message_template_list, name="message_template_list"),
    path(
        "messages/templates/customise/",
        outbox.message_template_customise,
        name="message_template_customise",
    ),
    path(
        "messages/templates/<int:template_id>/",
        outbox.message_template_edit,
        name="message_template_edit",
    ),
    path(
        "messages/templates/<int:template_id>/provider/",
        sms_provider.message_template_mapping,
        name="message_template_mapping",
    ),
    path("settings/sms/", sms_provider.sms_provider, name="sms_provider"),
    path("settings/sms/test/", sms_provider.sms_provider_test, name="sms_provider_test"),
    path("settings/sms/remove/", sms_provider.sms_provider_remove, name="sms_provider_remove"),
    path(
        "hooks/sms/<slug:provider>/<str:secret>/<slug:kind>/",
        sms_provider.sms_provider_callback,
        name="sms_provider_callback",
    ),
    # The clinic's WeChat Official Account, and the callback WeChat pushes events to
    path("settings/wechat/", wechat.wechat_settings, name="wechat_settings"),
    path("settings/wechat/test/", wechat.wechat_test, name="wechat_test"),
    path(
        "settings/wechat/templates/<str:purpose>/",
        wechat.wechat_template,
        name="wechat_template",
    ),
    path("hooks/wechat/<str:secret>/", wechat.wechat_hook, name="wechat_hook"),
    path("hooks/sms/status/", outbox.sms_status, name="sms_status"),
    path("hooks/sms/inbound/", outbox.sms_inbound, name="sms_inbound"),
    # API keys of the integration API
    path("settings/api-keys/", api_pages.api_key_list, name="api_key_list"),
    path(
        "settings/api-keys/<int:key_id>/revoke/",
        api_pages.api_key_revoke_view,
        name="api_key_revoke",
    ),
    path("settings/webhooks/", api_pages.webhook_list, name="webhook_list"),
    path(
        "settings/webhooks/<int:endpoint_id>/disable/",
        api_pages.webhook_disable,
        name="webhook_disable",
    ),
    path(
        "settings/webhooks/deliveries/<int:delivery_id>/replay/",
        api_pages.webhook_replay,
        name="webhook_replay",
    ),
]

"""Tenant app (every table in the clinic's own schema): the follow-up engine. Contacts and
encounters (entered, imported from registers or pushed through the integration API),
departments and staff roles, follow-up rules and the planning of their tasks, the worklist,
call attempts and what their outcomes cascade to, spot checks, complaints and praise,
messages (templates, the outbox, SMS and WeChat providers), KPI reports, dashboards and
exports, the audit log and retention."""

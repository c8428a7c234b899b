"""Tenant app: departments and staff roles today; contacts, encounters, follow-up rules and
tasks, call attempts, complaints and KPIs as the follow-up engine grows. Every table lives
in the tenant's own schema."""

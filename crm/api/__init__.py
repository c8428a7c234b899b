"""The integration API (DESIGN.md §8), transport only: /api/v1/ on each tenant's domain, for
hospital information systems and call-centre systems. django-ninja: the NinjaAPI with its
key authentication and JSON errors (app.py, auth.py, errors.py), one router per resource
(encounters.py, followups.py, surveys.py, feedback.py, reports.py), the types the schema
states exactly (schemas.py), cursor pages (pagination.py), and the checks that turn JSON into
the domain's calls (bulk.py, attempts.py). Reads go through crm.selectors_api; writes,
API keys (crm.services.api_keys) and outbound webhooks (crm.services.webhooks) are services.
Part of the crm tenant app."""

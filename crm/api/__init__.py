"""The integration API (DESIGN.md §8): /api/v1/ on each tenant's domain, for hospital
information systems and call-centre systems. django-ninja; keys per tenant (keys.py),
bulk intake (bulk.py), reads (reads.py). Part of the crm tenant app."""

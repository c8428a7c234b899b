"""Writes of the crm app (the verbs of the domain), inside the current tenant's schema, one
module per part of the domain: import the module you need (``from crm.services import staff``).
Services never switch schemas themselves."""

"""Tenant app: the clinic's patient site and health-education articles (Wagtail pages, one
tree per language), starter articles per tenant kind, tracked article links for follow-ups
and their reach. Wagtail's own tables (pages, images, documents) live in every tenant schema;
uploaded files live in a folder per tenant."""

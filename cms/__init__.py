"""Tenant app: Wagtail pages for health education and the tenant's patient site (the
Health-education issue fills it). Wagtail's own tables already live in every tenant schema."""

"""Tenant app: survey templates and versions, questions, invitations, responses and the
public answer pages (the Surveys issue fills it)."""

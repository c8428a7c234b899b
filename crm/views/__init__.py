"""Tenant pages of the crm app. Thin: parse, call a service or selector, render."""

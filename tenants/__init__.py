"""Shared app (public schema): tenants and their domains, tenant kinds and presets,
provisioning (template-schema clone, pool of ready schemas), and the vendor console."""

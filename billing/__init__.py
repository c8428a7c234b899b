"""Shared app (public schema): plans, each tenant's billing account, the mirror of its Stripe
customer and subscription, the Stripe webhook log, monthly usage meters, entitlements (the one
place that says what a tenant may do and how much is left), and the vendor console's billing
pages. Tenant code reads it through ``billing.entitlements`` only."""

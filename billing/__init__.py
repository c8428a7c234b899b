"""Shared app (public schema): plans, the Stripe customer/subscription mirror, checkout,
portal, webhooks and entitlements (the Subscriptions issue fills it)."""

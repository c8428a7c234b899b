"""The Stripe SDK client, configured from settings (STRIPE_SECRET_KEY, STRIPE_API_BASE)."""

import functools

import stripe
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class BillingNotConfigured(ImproperlyConfigured):
    pass


@functools.cache
def _client(api_key: str, api_base: str) -> stripe.StripeClient:
    return stripe.StripeClient(api_key, base_addresses={"api": api_base}, max_network_retries=1)


def stripe_client() -> stripe.StripeClient:
    """The SDK client; raises BillingNotConfigured when no secret key is set (a local run
    without Stripe shows that instead of failing at Stripe's door)."""
    if not settings.STRIPE_SECRET_KEY:
        raise BillingNotConfigured("STRIPE_SECRET_KEY is not set.")
    return _client(settings.STRIPE_SECRET_KEY, settings.STRIPE_API_BASE)


def is_configured() -> bool:
    return bool(settings.STRIPE_SECRET_KEY)

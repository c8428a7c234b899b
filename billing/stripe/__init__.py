"""Everything that talks to Stripe: the SDK client, webhook verification and the handlers
of the events we act on."""

"""Signals the shell sends for the layers above it to act on, so that saas imports nothing of
theirs: crm.signals writes them into the clinic's audit trail."""

from django.dispatch import Signal

# A user changed their own two-step sign-in (saas.two_step): user=, change= one of the below.
two_step_changed = Signal()
TWO_STEP_ENROLLED, TWO_STEP_CODES_RENEWED, TWO_STEP_TURNED_OFF = (
    "enrolled",
    "codes_renewed",
    "turned_off",
)

"""Links that are secrets: whoever holds one acts as the patient (a survey link, its opt-out,
a tracked article link) or as the staff member (a password-reset link). They are masked
wherever someone other than their owner reads them: log lines, the Outbox page."""

import re

MASK = "••••"
_SECRET_LINK = re.compile(
    r"(?P<head>/(?:s|health/e)/)[^/\s?#]+"  # survey links (+ /stop/), article links
    r"|(?P<reset>/accounts/reset/[^/\s?#]+/)[^/\s?#]+"  # password reset: uid kept, token masked
)


def secret_links_masked(text: str) -> str:
    """``text`` with the token of every secret link replaced by ``MASK``."""
    return _SECRET_LINK.sub(lambda m: (m["head"] or m["reset"]) + MASK, text)

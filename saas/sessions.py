"""When a signed-in session was last used, for saas.middleware.StaffSessionMiddleware's idle
timeout."""

from saas import clock

LAST_SEEN = "carebridge_last_seen"


def session_started(sender, request, user, **_kwargs) -> None:
    """Signing in counts as being seen (a user_logged_in receiver, connected in saas.apps):
    the first page after it writes no session."""
    request.session[LAST_SEEN] = clock.epoch()

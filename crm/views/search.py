"""Search terms (names, record numbers, phone digits) are personal data: they are posted and
kept in the session, never put in a URL, where access logs and browser history would keep
them."""

from django.shortcuts import redirect

MAX_LENGTH = 100


def search_posted(request, key: str):
    """On a search form's POST: remember (or clear) the term, then redirect to the list's
    plain GET address with its other filters. Returns the redirect, or None on GET."""
    if request.method != "POST" or "q" not in request.POST:
        return None
    term = _clean(request.POST.get("q", ""))
    if term:
        request.session[key] = term
    else:
        request.session.pop(key, None)
    query = request.GET.urlencode()
    return redirect(request.path + (f"?{query}" if query else ""))


def search_term(request, key: str) -> str:
    return _clean(request.session.get(key, ""))


def _clean(term: str) -> str:
    """PostgreSQL stores no NUL character: one kept in a term failed every later page."""
    return term.replace("\x00", "").strip()[:MAX_LENGTH]

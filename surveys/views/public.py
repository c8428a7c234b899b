"""The patient's side: a survey opened from a link, on the clinic's domain, without login,
in the contact's language. Every state of a link has its own clear page."""

from django.db import connection
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import translation
from django.views.decorators.cache import never_cache

from saas import ratelimit

from .. import selectors, services
from ..services import LinkState

STATE_STATUS = {LinkState.INVALID: 404, LinkState.EXPIRED: 410, LinkState.ANSWERED: 200}
# Wrong links per address and hour before the page stops answering: guessing a token is
# hopeless anyway (144 random bits, signed), this keeps anyone from trying at volume.
INVALID_LINKS_PER_HOUR = 30


def _guessing(request) -> bool:
    key = f"surveys:invalid:{connection.schema_name}:{request.META.get('REMOTE_ADDR', '')}"
    return not ratelimit.hit(key, limit=INVALID_LINKS_PER_HOUR, seconds=3600)


def _render(request, invitation, template, context, status=200):
    language = invitation.language if invitation is not None else None
    with translation.override(language or translation.get_language()):
        response = render(request, template, context, status=status)
    # The link (its token) must not leak to other sites; same-origin keeps the form's Origin
    # header, which CSRF protection checks.
    response["Referrer-Policy"] = "same-origin"
    return response


def _state_page(request, invitation, state, *, thanks=False):
    if state == LinkState.INVALID and _guessing(request):
        return HttpResponse(status=429)
    articles = []
    if thanks and state == LinkState.ANSWERED and invitation.task_id:
        from cms.selectors import articles_for_task

        articles = articles_for_task(invitation.task)  # the follow-up's health education
    return _render(
        request,
        invitation,
        "surveys/public_state.html",
        {"state": state, "thanks": thanks, "invitation": invitation, "articles": articles},
        status=STATE_STATUS.get(state, 200),
    )


@never_cache
def survey_answer(request, token):
    invitation, state = services.invitation_find(token)
    if state != LinkState.OK:
        return _state_page(request, invitation, state, thanks=request.GET.get("done") == "1")
    version = invitation.template.published
    if version is None:
        return _state_page(request, invitation, LinkState.INVALID)
    staff = selectors.staff_choices() if _asks_staff(version) else {}
    answers = services.Answers()
    if request.method == "POST":
        answers = services.answers_parse(version, request.POST, staff_choices=staff)
        if not answers.errors:
            try:
                services.response_submit(
                    version,
                    answers.values,
                    contact=invitation.contact,
                    source="link",
                    invitation=invitation,
                    language=invitation.language,
                )
            except services.AlreadyAnswered:
                return _state_page(request, invitation, LinkState.ANSWERED)
            return redirect(request.path + "?done=1")
    else:
        services.invitation_opened(invitation)
    return _render(
        request,
        invitation,
        "surveys/public_answer.html",
        {
            "invitation": invitation,
            "version": version,
            "questions": selectors.questions_shown(
                version, invitation.language, request.POST, answers.errors
            ),
            "staff": staff,
            "has_errors": bool(answers.errors),
        },
        status=400 if answers.errors else 200,
    )


@never_cache
def survey_opt_out(request, token):
    """Asks first and acts on POST only: mail scanners open links, they must not opt anyone
    out."""
    invitation, state = services.invitation_find(token)
    if state == LinkState.INVALID:
        return _state_page(request, invitation, state)
    done = invitation.contact.do_not_contact
    if request.method == "POST" and not done:
        services.invitation_opt_out(invitation)
        done = True
    return _render(
        request, invitation, "surveys/public_opt_out.html", {"invitation": invitation, "done": done}
    )


def _asks_staff(version) -> bool:
    return any(q["kind"] == "staff" for q in version.questions)

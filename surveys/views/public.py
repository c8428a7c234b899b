"""The patient's side: a survey opened from a link, on the clinic's domain, without login,
in the contact's language. Every state of a link has its own clear page."""

import ipaddress

from django.db import connection
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from cms.selectors import articles_for_task
from crm.gateways import ProviderError
from crm.models.wechat import WeChatLinkToken
from crm.services import wechat
from saas import ratelimit

from .. import links, selectors
from ..links import LinkState
from ..services import invitations, responses

STATE_STATUS = {LinkState.INVALID: 404, LinkState.EXPIRED: 410, LinkState.ANSWERED: 200}
# Wrong links per address and hour before the page stops answering. A long link cannot be
# guessed (144 random bits, signed); this keeps anyone from trying at volume.
INVALID_LINKS_PER_HOUR = 30
# Short links (SMS) are only 10 characters of a 56-letter alphabet: 56^10 ≈ 3.0·10^17 codes
# (58 bits). Against that, the limits:
# * A clinic has at most ~10^5 live links (14 days of links at 7,000 SMS surveys a day), so
#   one guess finds one with p ≈ 10^5 / 3.0·10^17 ≈ 3.3·10^-13.
# * One address (an IPv6 address counts by its /64) has INVALID_LINKS_PER_HOUR wrong guesses
#   an hour, and for short links the limit is checked BEFORE the lookup, so the 31st guess
#   finds nothing even when it is right: 30 × 24 × 365 ≈ 2.6·10^5 guesses a year, p ≈ 8.7·10^-8
#   per address and year.
# * Many addresses at once: once a clinic has had WRONG_SHORT_LINKS_PER_HOUR wrong short links
#   in an hour, every address that has guessed wrong this hour is refused for the rest of it,
#   so each gets about one guess an hour: a botnet of 10,000 addresses makes 8.8·10^7 guesses
#   a year, p ≈ 2.9·10^-5 a year. Patients who open the link they were sent, even during such
#   an attack, are not refused (they have no wrong guess).
WRONG_SHORT_LINKS_PER_HOUR = 600
HOUR = 3600


def _address(request) -> str:
    address = request.META.get("REMOTE_ADDR", "")
    if ":" in address:  # IPv6: one subscriber holds a whole /64
        try:
            return str(ipaddress.IPv6Network(f"{address}/64", strict=False).network_address)
        except ValueError:
            return address
    return address


def _address_key(request) -> str:
    return f"surveys:invalid:{connection.schema_name}:{_address(request)}"


def _clinic_key() -> str:
    return f"surveys:invalid-short:{connection.schema_name}"


def _guessing(request) -> bool:
    """Count a wrong link; whether this address is now past its limit."""
    return not ratelimit.hit(_address_key(request), limit=INVALID_LINKS_PER_HOUR, seconds=HOUR)


def _short_refused(request, token: str) -> bool:
    """Whether a short link is refused before it is looked up (see the arithmetic above)."""
    if not links.is_short(token):
        return False
    wrong_here = ratelimit.peek(_address_key(request))
    if wrong_here >= INVALID_LINKS_PER_HOUR:
        return True
    return wrong_here > 0 and ratelimit.peek(_clinic_key()) >= WRONG_SHORT_LINKS_PER_HOUR


def _find(request, token):
    """(invitation, state), or None when the address is refused."""
    if _short_refused(request, token):
        return None
    invitation, state = links.invitation_find(token)
    if state == LinkState.INVALID and links.is_short(token):
        ratelimit.count(_clinic_key(), seconds=HOUR)
    return invitation, state


def _render(request, invitation, template, context, status=200):
    language = invitation.language if invitation is not None else None
    with translation.override(language or translation.get_language()):
        response = render(request, template, context, status=status)
    # The link (its token) must not leak to other sites; same-origin keeps the form's Origin
    # header, which CSRF protection checks.
    response["Referrer-Policy"] = "same-origin"
    return response


def _state_page(request, invitation, state, *, thanks=False, wechat_context=None, status=None):
    if state == LinkState.INVALID and _guessing(request):
        return HttpResponse(status=429)
    articles = []
    context = {"state": state, "thanks": thanks, "invitation": invitation}
    if thanks and state == LinkState.ANSWERED:
        if invitation.task_id:
            articles = articles_for_task(invitation.task)  # the follow-up's health education
        # Offered once the patient has answered: follow-ups in WeChat, with consent.
        context["wechat_offer"] = wechat.wechat_link_offered(invitation.contact)
        context["token"] = request.resolver_match.kwargs["token"]
        context.update(wechat_context or {})
    context["articles"] = articles
    return _render(
        request,
        invitation,
        "surveys/public_state.html",
        context,
        status=status or STATE_STATUS.get(state, 200),
    )


@never_cache
def survey_answer(request, token):
    found = _find(request, token)
    if found is None:
        return HttpResponse(status=429)
    invitation, state = found
    if state != LinkState.OK:
        return _state_page(request, invitation, state, thanks=request.GET.get("done") == "1")
    version = invitation.template.published
    if version is None:
        return _state_page(request, invitation, LinkState.INVALID)
    staff = selectors.staff_choices() if _asks_staff(version) else {}
    answers = responses.Answers()
    if request.method == "POST":
        answers = responses.answers_parse(version, request.POST, staff_choices=staff)
        if not answers.errors:
            try:
                responses.response_submit(
                    version,
                    answers.values,
                    contact=invitation.contact,
                    source="link",
                    invitation=invitation,
                    language=invitation.language,
                )
            except responses.AlreadyAnswered:
                return _state_page(request, invitation, LinkState.ANSWERED)
            return redirect(request.path + "?done=1")
    else:
        invitations.invitation_opened(invitation)
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
@require_POST
def survey_wechat(request, token):
    """The thank-you page's "receive follow-ups in WeChat": with the consent ticked, the QR
    code whose scan links the patient's WeChat to them. The link's token is the proof of who
    they are, as for answering; nothing about them goes to WeChat."""
    invitation, state = links.invitation_find(token)
    if state != LinkState.ANSWERED:
        return _state_page(request, invitation, state)
    with translation.override(invitation.language or translation.get_language()):
        if request.POST.get("consent") != "yes":
            error = _("Tick the box to agree first.")
            return _state_page(
                request,
                invitation,
                state,
                thanks=True,
                wechat_context={"wechat_error": error},
                status=400,
            )
        if not wechat.wechat_link_offered(invitation.contact):
            return _state_page(request, invitation, state, thanks=True)
        try:
            offer = wechat.wechat_link_offer(
                contact=invitation.contact, source=WeChatLinkToken.Source.SURVEY
            )
        except ProviderError:
            error = _("WeChat cannot be reached right now. Please try again in a few minutes.")
            return _state_page(
                request,
                invitation,
                state,
                thanks=True,
                wechat_context={"wechat_error": error},
                status=503,
            )
    return _state_page(
        request, invitation, state, thanks=True, wechat_context={"wechat_qr": offer.qr_svg}
    )


@never_cache
def survey_opt_out(request, token):
    """Asks first and acts on POST only: mail scanners open links, they must not opt anyone
    out."""
    found = _find(request, token)
    if found is None:
        return HttpResponse(status=429)
    invitation, state = found
    if state == LinkState.INVALID:
        return _state_page(request, invitation, state)
    done = invitation.contact.do_not_contact
    if request.method == "POST" and not done:
        responses.invitation_opt_out(invitation)
        done = True
    return _render(
        request, invitation, "surveys/public_opt_out.html", {"invitation": invitation, "done": done}
    )


def _asks_staff(version) -> bool:
    return any(q["kind"] == "staff" for q in version.questions)

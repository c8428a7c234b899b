"""The agent's day: the worklist and the call page of one follow-up."""

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import dateformat, timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from saas import clock
from surveys.selectors import questions_shown, staff_choices, task_survey
from surveys.services import responses as survey_responses

from .. import selectors
from ..calendar import tenant_zone, within_calling_hours
from ..forms import AttemptForm
from ..models import (
    ContactPhone,
    Department,
    FollowUpRule,
    FollowUpTask,
    OutcomeCategory,
    RuleStep,
)
from ..phones import phone_display, phone_mask
from ..roles import (
    FILL_SURVEYS,
    RECORD_FEEDBACK,
    SPOT_CHECK,
    VIEW_COMPLAINTS,
    VIEW_RESPONSES,
    WORK_TASKS,
)
from ..selectors import Scope, Unhappy, When, WorklistFilters
from ..services import followup, records
from ..vocabulary import clinic_vocabulary
from . import search, spot_checks

work_tasks = permission_required(WORK_TASKS, raise_exception=True)
SEARCH_KEY = "worklist-search"


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


# The worklist's filters that make "the list" an agent works through (not its search or its
# "when", which are a look at it): the call page carries them, so that "save and open the next"
# stays in the list the agent chose, e.g. only one rule's calls.
LIST_FILTERS = ("scope", "department", "rule", "tier", "status")


def _list_params(data) -> dict[str, str]:
    """The list filters of a query string or form, without the empty ones."""
    return {key: data[key] for key in LIST_FILTERS if data.get(key)}


def _filters(request) -> WorklistFilters:
    scopes = selectors.worklist_scopes(request.user)
    scope = request.GET.get("scope")
    when = request.GET.get("when")
    return WorklistFilters(
        scope=scope if scope in scopes else scopes[0],
        when=when if when in When.values else When.DUE,
        department=_int(request.GET.get("department")),
        rule=_int(request.GET.get("rule")),
        tier=_int(request.GET.get("tier")),
        status=request.GET.get("status", ""),
        q=search.search_term(request, SEARCH_KEY),
    )


def _call_now(task: FollowUpTask, now, zone) -> bool:
    """Only phone tasks inside their calling hours (tenant's, or the rule's override)."""
    return (
        task.channel == RuleStep.Channel.PHONE
        and task.opens_at <= now
        and (task.next_attempt_at is None or task.next_attempt_at <= now)
        and within_calling_hours(now, followup.task_calling_hours(task), zone)
    )


def _unhappy_lines(unhappy: Unhappy | None, user) -> list[dict]:
    """One line per reason the contact was unhappy last time, linked to the response or
    complaint for those who may read it (and no link, not a page that refuses, for others)."""
    if unhappy is None:
        return []
    lines = []
    if unhappy.response_id is not None:
        url = ""
        if user.has_perm(VIEW_RESPONSES):
            url = reverse("response_detail", args=[unhappy.response_id])
        day = dateformat.format(timezone.localtime(unhappy.response_at), "Y-m-d")
        text = _("Dissatisfied in their last survey (%(date)s)") % {"date": day}
        lines.append({"text": text, "url": url})
    if unhappy.complaint_id is not None:
        url = ""
        if user.has_perm(VIEW_COMPLAINTS):
            url = reverse("complaint_detail", args=[unhappy.complaint_id])
        day = dateformat.format(timezone.localtime(unhappy.complaint_at), "Y-m-d")
        text = _("Their complaint of %(date)s is still open") % {"date": day}
        lines.append({"text": text, "url": url})
    return lines


@login_required
@work_tasks
def worklist(request):
    posted = search.search_posted(request, SEARCH_KEY)
    if posted:
        return posted
    filters = _filters(request)
    now = clock.now()
    zone = tenant_zone(connection.tenant)
    after = selectors.cursor_decode(request.GET.get("after", ""))
    tasks, more = selectors.worklist_page(
        request.user, filters, now=now, after=after, size=selectors.WORKLIST_PAGE
    )
    # Translated once per page, not once per row.
    channels = {value: str(label) for value, label in RuleStep.Channel.choices}
    outcomes = {value: str(label) for value, label in OutcomeCategory.choices}
    claim_url = reverse("task_claim", args=[0])
    rows = [
        {
            "task": task,
            "due_day": task.due_at - timedelta(microseconds=1),  # the window's last day
            "channel": channels.get(task.channel, task.channel),
            "last_outcome": outcomes.get(task.last_outcome, ""),
            "claim_url": claim_url.replace("/0/", f"/{task.pk}/"),
            "overdue": task.due_at <= now,
            "call_now": _call_now(task, now, zone),
            "held_by_other": followup.task_held_by_other(task, request.user, now),
            "unhappy": _unhappy_lines(task.unhappy, request.user),
        }
        for task in tasks
    ]
    params = {k: v for k, v in request.GET.items() if k != "after" and v}
    next_url = None
    if more:
        next_url = "?" + urlencode({**params, "after": selectors.cursor_encode(tasks[-1])})
    scope_labels = dict(Scope.choices)
    return render(
        request,
        "crm/worklist.html",
        {
            "rows": rows,
            "filters": filters,
            "scopes": [(s, scope_labels[s]) for s in selectors.worklist_scopes(request.user)],
            "whens": When.choices,
            "departments": Department.objects.filter(active=True),
            "rules": FollowUpRule.objects.all(),
            "tiers": [(1, _("Tier 1")), (2, _("Tier 2")), (3, _("Tier 3"))],
            "statuses": [(s, FollowUpTask.Status(s).label) for s in FollowUpTask.OPEN],
            "labels": {
                "due": _("Due"),
                "contact": clinic_vocabulary().contact,
                "task": _("Follow-up"),
                "department": _("Department"),
                "attempts": _("Attempts"),
                "overdue": _("Overdue"),
                "retry": _("retry"),
                "call": _("Call now"),
                "open": _("Open"),
                "held": _("%(name)s is on it"),
                "unhappy": _("Unhappy last time"),
            },
            "next_url": next_url,
            "list_params": _list_params({**params, "scope": filters.scope}),
            "first_page": after is None,
            "query": urlencode(params),
            "spot_checks": spot_checks.scores_context(request)
            if filters.scope == Scope.SPOT_CHECKS
            else None,
        },
    )


def _task_or_404(request, task_id) -> FollowUpTask:
    task = get_object_or_404(
        FollowUpTask.objects.select_related(
            "contact", "encounter", "encounter__department", "rule", "step", "claimed_by"
        ),
        pk=task_id,
    )
    if task.tier == 3 and not request.user.has_perm(SPOT_CHECK):
        raise PermissionDenied
    if not selectors.task_in_scope(request.user, task):
        raise Http404  # not on any list of theirs: a clinician typing another ward's ids
    return task


@login_required
@work_tasks
def task_detail(request, task_id):
    task = _task_or_404(request, task_id)
    records.contact_viewed(task.contact, request.user)
    return _task_page(request, task, AttemptForm(), revealed=None)


def _call_survey(request, task):
    """The survey of this follow-up's step, when it has a published one and the user may
    fill it in: (version, language)."""
    if not request.user.has_perm(FILL_SURVEYS):
        return None, ""
    return task_survey(task)


def _task_page(request, task, form, *, revealed, status=200, survey_errors=None):

    now = clock.now()
    version, language = _call_survey(request, task)
    survey_questions = (
        questions_shown(version, language, request.POST, survey_errors or {}) if version else None
    )
    zone = tenant_zone(connection.tenant)
    region = connection.tenant.phone_region
    phones = [
        {"phone": p, "masked": phone_mask(p.number), "display": phone_display(p.number, region)}
        for p in task.contact.phones.all()
    ]
    held_by_me = task.claimed_by_id == request.user.pk and task.claimed_until > now
    list_params = _list_params(request.POST or request.GET)
    return render(
        request,
        "crm/task_detail.html",
        {
            "task": task,
            "contact": task.contact,
            "encounter": task.encounter,
            "phones": phones,
            "revealed": revealed,
            "held_by_me": held_by_me,
            "held_by_other": followup.task_held_by_other(task, request.user, now),
            "call_now": _call_now(task, now, zone),
            "history": selectors.task_history(task)[:20],
            "form": form,
            # A POST (the "call" button) carries the list in its form.
            "list_params": list_params,
            "list_query": urlencode(list_params),
            "audited": task.spot_check_of if task.tier == 3 else None,
            "survey": version,
            "questions": survey_questions,
            "staff": staff_choices() if version else {},
            "answered": getattr(task, "survey_response", None) if version else None,
            "can_record_feedback": request.user.has_perm(RECORD_FEEDBACK),
            "unhappy": _unhappy_lines(
                selectors.contacts_unhappy([task.contact_id]).get(task.contact_id), request.user
            ),
        },
        status=status,
    )


@require_POST
@login_required
@work_tasks
def task_claim(request, task_id):
    task = _task_or_404(request, task_id)
    try:
        followup.task_claim(task, request.user)
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    return redirect(_task_url(task.pk, _list_params(request.POST or request.GET)))


@require_POST
@login_required
@work_tasks
def task_release(request, task_id):
    task = _task_or_404(request, task_id)
    followup.task_release(task, request.user)
    return redirect(_worklist_url(_list_params(request.POST)))


@require_POST
@login_required
@work_tasks
def phone_reveal(request, task_id, phone_id):
    """Pressing "call": the full number is shown (and audit-logged) to the agent holding
    the task."""
    task = _task_or_404(request, task_id)
    phone = get_object_or_404(ContactPhone, pk=phone_id, contact_id=task.contact_id)
    try:
        task = followup.task_claim(task, request.user)  # calling means working it
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
        return redirect(_task_url(task.pk, _list_params(request.POST)))
    task = _task_or_404(request, task_id)
    number = followup.phone_reveal(task, request.user, phone)
    revealed = {
        "phone_id": phone.pk,
        "number": number,
        "display": phone_display(number, connection.tenant.phone_region),
    }
    return _task_page(request, task, AttemptForm(), revealed=revealed)


@require_POST
@login_required
@work_tasks
def attempt_create(request, task_id):
    task = _task_or_404(request, task_id)
    form = AttemptForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        phone = None
        if request.POST.get("phone"):
            phone = ContactPhone.objects.filter(
                pk=_int(request.POST["phone"]), contact_id=task.contact_id
            ).first()
        if phone is None:
            phone = task.contact.phones.filter(invalid=False).first()
        minutes = data.get("duration_minutes")
        version, language = _call_survey(request, task)
        values = None
        if version is not None and survey_responses.answers_given(request.POST):
            answers = survey_responses.answers_parse(
                version, request.POST, staff_choices=staff_choices()
            )
            if answers.errors:
                form.add_error(None, _("Some survey answers are missing or not valid."))
                task = _task_or_404(request, task_id)
                return _task_page(
                    request, task, form, revealed=None, status=400, survey_errors=answers.errors
                )
            values = answers.values
        try:
            survey_responses.attempt_with_survey(
                task,
                request.user,
                followup.AttemptInput(
                    outcome=data["outcome"],
                    notes=data["notes"],
                    callback_at=data["callback_at"],
                    duration_seconds=minutes * 60 if minutes is not None else None,
                    phone=phone,
                    recovered=data["recovered"],
                    audit_agrees=data["audit_agrees"],
                ),
                version=version,
                values=values,
                language=language,
            )
        except survey_responses.AlreadyAnswered:
            form.add_error(None, _("This follow-up's survey was already answered."))
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(
                request, _("Attempt logged: %(outcome)s.") % {"outcome": data["outcome"]}
            )
            return _open_next(request, task, _list_params(request.POST))
    task = _task_or_404(request, task_id)
    return _task_page(request, task, form, revealed=None, status=400)


def _open_next(request, done: FollowUpTask, params: dict[str, str]):
    """The next due task of the same list (its scope and filters), claimed for this agent;
    the list when none is left (or every next one is held by someone else)."""
    # An unknown list: the follow-up centre's, or for a clinician (who has none) their own.
    scopes = selectors.worklist_scopes(request.user)
    fallback = Scope.CENTRE if Scope.CENTRE in scopes else scopes[0]
    scope = params.get("scope")
    filters = WorklistFilters(
        scope=scope if scope in scopes else fallback,
        department=_int(params.get("department")),
        rule=_int(params.get("rule")),
        tier=_int(params.get("tier")),
        status=params.get("status", ""),
    )
    params = {**params, "scope": filters.scope}
    now = clock.now()
    for candidate in selectors.worklist(request.user, filters, now=now).exclude(pk=done.pk)[:5]:
        if candidate.tier == 3 and not request.user.has_perm(SPOT_CHECK):
            continue
        try:
            followup.task_claim(candidate, request.user, now=now)
        except ValidationError:
            continue
        return redirect(_task_url(candidate.pk, params))
    messages.info(request, _("No more follow-ups due in this list."))
    return redirect(_worklist_url(params))


def _list_query(params: dict[str, str]) -> str:
    return "?" + urlencode(params) if params else ""


def _worklist_url(params: dict[str, str]) -> str:
    return reverse("worklist") + _list_query(params)


def _task_url(task_id: int, params: dict[str, str]) -> str:
    return reverse("task_detail", args=[task_id]) + _list_query(params)

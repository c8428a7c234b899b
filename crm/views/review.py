"""The department's monthly loop (issue 19 §4): the sign-off page of a department's staff,
leadership's comment and the corrective actions, posted from the report page."""

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from saas import clock

from ..forms_review import (
    CorrectiveActionCloseForm,
    CorrectiveActionForm,
    ReportCommentForm,
    SignOffForm,
    month_parse,
)
from ..models import CorrectiveAction, Department, KpiTarget
from ..reporting.period import month_period
from ..reporting.report import report_build
from ..roles import COMMENT_REPORT, RECORD_CORRECTIVE_ACTIONS, SIGN_REGISTER
from ..selectors_review import (
    department_month,
    department_supervised,
    departments_to_sign,
    missed_targets,
    previous_month,
    review_build,
)
from ..services.review import (
    corrective_action_close,
    corrective_action_record,
    register_sign_off,
    report_comment_add,
)


def _report_url(first) -> str:
    return f"{reverse('report_month')}?month={first:%Y-%m}"


def _first_error(form) -> str:
    return next(iter(form.errors.values()))[0]


@login_required
@permission_required(SIGN_REGISTER, raise_exception=True)
def register_sign_off_page(request):
    """The registers of the departments the user works in, for one month (by default the
    month that just ended), each with its signatures and the form to sign it."""
    first = month_parse(request.GET.get("month")) or previous_month(clock.today().replace(day=1))
    bound, error = None, None
    if request.method == "POST":
        bound = SignOffForm(request.POST)
        if not bound.is_valid():
            error = _first_error(bound)
        else:
            data = bound.cleaned_data
            department = get_object_or_404(Department, pk=data["department"])
            first = data["month"]
            try:
                register_sign_off(
                    user=request.user,
                    department=department,
                    month=first,
                    role=data["role"],
                    note=data["note"],
                )
            except ValidationError as exc:
                error = exc.messages[0]
            else:
                messages.success(
                    request,
                    _("You signed the register of %(department)s for %(month)s.")
                    % {"department": department.name, "month": f"{first:%Y-%m}"},
                )
                return redirect(f"{reverse('register_sign_off')}?month={first:%Y-%m}")
    following = month_period(first).end + timedelta(days=1)
    review = review_build(report_build(month_period(first)))
    mine = {department.pk for department in departments_to_sign(request.user)}
    rows = [row for row in review.departments if row.department.pk in mine]
    posted = bound.data.get("department") if bound is not None else None
    for row in rows:
        row.error = error if posted == str(row.department.pk) else None
        row.form = (
            bound
            if row.error
            else SignOffForm(initial={"month": f"{first:%Y-%m}", "department": row.department.pk})
        )
        signed_roles = {sign_off.role for sign_off in row.sign_offs}
        row.form.fields["role"].choices = [
            choice for choice in row.form.fields["role"].choices if choice[0] not in signed_roles
        ]
    return render(
        request,
        "crm/register_sign_off.html",
        {
            "review": review,
            "rows": rows,
            # An error of no department shown here (a month that does not parse, say).
            "error": None if any(row.error for row in rows) else error,
            "previous": previous_month(first),
            "next": following if following <= clock.today() else None,
        },
        status=400 if error else 200,
    )


@login_required
@require_POST
@permission_required(COMMENT_REPORT, raise_exception=True)
def report_comment(request):
    form = ReportCommentForm(request.POST)
    if not form.is_valid():
        messages.error(request, _first_error(form))
        return redirect("report_month")
    first = form.cleaned_data["month"]
    try:
        report_comment_add(user=request.user, month=first, body=form.cleaned_data["body"])
    except ValidationError as exc:
        messages.error(request, exc.messages[0])
    else:
        messages.success(request, _("Comment added."))
    return redirect(_report_url(first))


@login_required
@permission_required(RECORD_CORRECTIVE_ACTIONS, raise_exception=True)
def corrective_action_new(request):
    """The form of a corrective action of one department in one month, with the figure and
    the target it missed; a department that missed none is told so, with no form."""
    first = month_parse(request.GET.get("month"))
    department_id = request.GET.get("department", "")
    department = get_object_or_404(
        Department, pk=int(department_id) if department_id.isdigit() else 0
    )
    if first is None:
        messages.error(request, _("Choose a month as YYYY-MM, e.g. 2026-11."))
        return redirect("report_month")
    if not department_supervised(request.user, department.pk):
        raise PermissionDenied
    missed = missed_targets(department_month(first, department.pk))
    # A department that missed nothing gets no form; a post all the same is refused by the
    # service, in its words.
    form = CorrectiveActionForm(
        request.POST or None, metrics=list(missed) or CorrectiveAction.METRICS
    )
    status = 200
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            corrective_action_record(
                user=request.user,
                department=department,
                month=first,
                metric=data["metric"],
                cause=data["cause"],
                measures=data["measures"],
                owner=data["owner"],
                due_on=data["due_on"],
            )
        except ValidationError as exc:
            if hasattr(exc, "error_dict"):
                for field, errors in exc.message_dict.items():
                    form.add_error(field, errors)
            else:
                form.add_error(None, exc.messages)
        else:
            messages.success(
                request,
                _("Corrective action of %(department)s recorded.")
                % {"department": department.name},
            )
            return redirect(_report_url(first))
    if request.method == "POST":
        status = 400
    return render(
        request,
        "crm/corrective_action_form.html",
        {
            "form": form,
            "department": department,
            "first": first,
            "missed": [
                {"metric": metric, "label": KpiTarget.Metric(metric).label, **values}
                for metric, values in missed.items()
            ],
            "report_url": _report_url(first),
        },
        status=status,
    )


@login_required
@require_POST
@permission_required(RECORD_CORRECTIVE_ACTIONS, raise_exception=True)
def corrective_action_done(request, action_id: int):
    action = get_object_or_404(CorrectiveAction, pk=action_id)
    back = month_parse(request.POST.get("back")) or action.month
    form = CorrectiveActionCloseForm(request.POST)
    form.is_valid()
    try:
        corrective_action_close(
            user=request.user, action=action, result=form.cleaned_data.get("result", "")
        )
    except ValidationError as exc:
        messages.error(request, exc.messages[0])
    else:
        messages.success(request, _("Corrective action closed."))
    return redirect(_report_url(back))


def review_context(request, report) -> dict:
    """What the report page of a month (the whole clinic's) shows of the month's loop."""
    review = review_build(report)
    user = request.user
    supervised = set()
    if user.has_perm(RECORD_CORRECTIVE_ACTIONS):
        supervised = {department.pk for department in departments_to_sign(user)}
    return {
        "review": review,
        "can_comment": user.has_perm(COMMENT_REPORT) and review.ended,
        "can_sign": user.has_perm(SIGN_REGISTER),
        "comment_form": ReportCommentForm(initial={"month": f"{review.first:%Y-%m}"}),
        "supervised": supervised,
    }

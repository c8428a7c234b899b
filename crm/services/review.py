"""The department's monthly loop (issue 19 §4): signing off a department's register,
leadership's comment on the month's report, and a department's corrective actions (整改).

Each verb checks who may do it, refuses bad input with a message before writing anything, and
writes its row and its audit entry in one transaction. Decisions:
* only an ended month is signed, commented on or acted upon (its figures are final);
* a department is signed once per role (head, head nurse) and once per person; when the
  register changes after a signature (a late follow-up completed), the signature stands and
  the report says the figures changed since;
* a corrective action is refused for a department that did not miss the target it names."""

from datetime import date, datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from saas import clock

from ..models import (
    AuditEntry,
    CorrectiveAction,
    Department,
    KpiTarget,
    RegisterSignOff,
    ReportComment,
)
from ..roles import COMMENT_REPORT, RECORD_CORRECTIVE_ACTIONS, SIGN_REGISTER
from ..selectors_review import (
    department_month,
    department_supervised,
    missed_targets,
    month_ended,
    register_figures,
)
from .audit import audit_record

Action = AuditEntry.Action


def _month_checked(first: date, *, now: datetime) -> None:
    if first.day != 1:
        raise ValidationError(_("Choose a month, e.g. 2026-11."))
    if not month_ended(first, today=clock.local(now).date()):
        raise ValidationError(
            _(
                "%(month)s has not ended yet: it can be reviewed from the first day of the "
                "next month."
            )
            % {"month": f"{first:%Y-%m}"}
        )


def _text(value: str, message: str) -> str:
    value = (value or "").strip()
    if not value:
        raise ValidationError(message)
    return value


@transaction.atomic
def register_sign_off(
    *,
    user,
    department: Department,
    month: date,
    role: str,
    note: str = "",
    now: datetime | None = None,
) -> RegisterSignOff:
    """The department's head or head nurse signs its follow-up register of an ended month."""
    now = now or clock.now()
    if not user.has_perm(SIGN_REGISTER) or not department_supervised(user, department.pk):
        raise PermissionDenied(_("Only the department's own staff sign its register."))
    if role not in RegisterSignOff.Role.values:
        raise ValidationError(_("Choose whether you sign as the department head or head nurse."))
    _month_checked(month, now=now)
    signed = RegisterSignOff.objects.filter(department=department, month=month)
    if signed.filter(role=role).exists():
        raise ValidationError(
            _("The %(role)s of %(department)s has already signed %(month)s.")
            % {
                "role": RegisterSignOff.Role(role).label,
                "department": department.name,
                "month": f"{month:%Y-%m}",
            }
        )
    if signed.filter(signed_by=user).exists():
        raise ValidationError(
            _("You have already signed %(department)s for %(month)s; the other role signs too.")
            % {"department": department.name, "month": f"{month:%Y-%m}"}
        )
    try:
        # A savepoint: a concurrent signature of the same role loses cleanly.
        with transaction.atomic():
            sign_off = RegisterSignOff.objects.create(
                month=month,
                department=department,
                role=role,
                signed_by=user,
                signed_at=now,
                note=(note or "").strip(),
                figures=register_figures(department_month(month, department.pk)),
            )
    except IntegrityError:
        raise ValidationError(_("Someone signed this register at the same moment.")) from None
    audit_record(
        user,
        Action.REGISTER_SIGNED,
        obj=sign_off,
        detail={"month": f"{month:%Y-%m}", "department": department.pk, "signed_as": role},
    )
    return sign_off


@transaction.atomic
def report_comment_add(
    *, user, month: date, body: str, now: datetime | None = None
) -> ReportComment:
    """Leadership comment on the report of an ended month."""
    now = now or clock.now()
    if not user.has_perm(COMMENT_REPORT):
        raise PermissionDenied(_("Only the clinic's leadership comment on the report."))
    body = _text(body, _("Write the comment."))
    _month_checked(month, now=now)
    comment = ReportComment.objects.create(month=month, author=user, body=body, created_at=now)
    audit_record(user, Action.REPORT_COMMENTED, obj=comment, detail={"month": f"{month:%Y-%m}"})
    return comment


def _supervisor_checked(user, department_id: int) -> None:
    if not user.has_perm(RECORD_CORRECTIVE_ACTIONS) or not department_supervised(
        user, department_id
    ):
        raise PermissionDenied(
            _("Only the department's supervisors record its corrective actions.")
        )


@transaction.atomic
def corrective_action_record(
    *,
    user,
    department: Department,
    month: date,
    metric: str,
    cause: str,
    measures: str,
    owner: str,
    due_on: date | None,
    now: datetime | None = None,
) -> CorrectiveAction:
    """A department below a target in an ended month records what it will do about it. The
    figure and the target are the report's, as they stand now, not typed in."""
    now = now or clock.now()
    _supervisor_checked(user, department.pk)
    errors = {}
    for name, value, message in (
        ("cause", cause, _("Write the cause.")),
        ("measures", measures, _("Write the measures.")),
        ("owner", owner, _("Name who owns the measures.")),
    ):
        if not (value or "").strip():
            errors[name] = message
    if due_on is None:
        errors["due_on"] = _("Give the date the measures are due.")
    if errors:
        raise ValidationError(errors)
    _month_checked(month, now=now)
    if metric not in CorrectiveAction.METRICS:
        raise ValidationError(_("Choose the follow-up rate or the satisfaction rate."))
    missed = missed_targets(department_month(month, department.pk)).get(metric)
    if missed is None:
        raise ValidationError(
            _(
                "%(department)s met its %(figure)s target in %(month)s (or has none): "
                "there is nothing to correct."
            )
            % {
                "department": department.name,
                "figure": KpiTarget.Metric(metric).label,
                "month": f"{month:%Y-%m}",
            }
        )
    action = CorrectiveAction.objects.create(
        month=month,
        department=department,
        metric=metric,
        value=missed["value"],
        target=missed["target"],
        cause=cause.strip(),
        measures=measures.strip(),
        owner=owner.strip(),
        due_on=due_on,
        recorded_by=user,
        recorded_at=now,
    )
    audit_record(
        user,
        Action.CORRECTIVE_ACTION_RECORDED,
        obj=action,
        detail={"month": f"{month:%Y-%m}", "department": department.pk, "metric": metric},
    )
    return action


@transaction.atomic
def corrective_action_close(
    *, user, action: CorrectiveAction, result: str, now: datetime | None = None
) -> CorrectiveAction:
    """The measures are done: the result is written and the action closed, once."""
    now = now or clock.now()
    action = CorrectiveAction.objects.select_for_update().get(pk=action.pk)
    _supervisor_checked(user, action.department_id)
    result = _text(result, _("Write the result of the measures."))
    if action.status == CorrectiveAction.Status.DONE:
        raise ValidationError(_("This corrective action is already done."))
    action.status = CorrectiveAction.Status.DONE
    action.result = result
    action.closed_by = user
    action.closed_at = now
    action.save(update_fields=["status", "result", "closed_by", "closed_at"])
    audit_record(
        user,
        Action.CORRECTIVE_ACTION_CLOSED,
        obj=action,
        detail={
            "month": f"{action.month:%Y-%m}",
            "department": action.department_id,
            "status": action.status,
        },
    )
    return action

"""Logging a call made in another system (a call centre's CTI) on a follow-up, through the
same domain verb as the call page (crm.services.followup.attempt_log)."""

from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from ..models import CallAttempt, ContactPhone, FollowUpTask, OutcomeCode
from ..roles import WORK_TASKS
from ..services.followup import AttemptInput, attempt_log
from .errors import ApiError

User = get_user_model()
# A call is logged soon after it ends; older ones would move tasks by stale facts.
MAX_AGE = timedelta(days=7)


def attempt_record(
    *,
    task_id: int,
    outcome: str,
    agent: str,
    at: datetime | None,
    duration_seconds: int | None,
    notes: str,
    callback_at: datetime | None,
    phone: str | None,
    recovered: bool,
) -> CallAttempt:
    now = timezone.now()
    task = FollowUpTask.objects.filter(pk=task_id).first()
    if task is None:
        raise ApiError(404, "not_found", _("No follow-up with this id."))
    code = OutcomeCode.objects.filter(code=outcome, active=True).first()
    if code is None:
        raise ApiError(
            422, "unknown_outcome", _("“%(code)s” is not an outcome code.") % {"code": outcome}
        )
    staff = User.objects.filter(email__iexact=agent.strip(), is_active=True).first()
    if staff is None or not staff.has_perm(WORK_TASKS):
        raise ApiError(
            422,
            "unknown_agent",
            _("“%(agent)s” is not an active staff member who works follow-ups.") % {"agent": agent},
        )
    at = at or now
    if timezone.is_naive(at):
        at = timezone.make_aware(at)
    if at > now + timedelta(minutes=5) or at < now - MAX_AGE:
        raise ApiError(
            422, "invalid_time", _("The call time must be within the last 7 days, not later.")
        )
    number = None
    if phone:
        number = ContactPhone.objects.filter(contact_id=task.contact_id, number=phone).first()
        if number is None:
            raise ApiError(
                422, "unknown_phone", _("This number is not one of the contact's numbers.")
            )
    try:
        return attempt_log(
            task,
            staff,
            AttemptInput(
                outcome=code,
                notes=notes,
                callback_at=callback_at,
                duration_seconds=duration_seconds,
                phone=number,
                recovered=recovered,
            ),
            now=at,
        )
    except ValidationError as exc:
        status, api_code = 422, "invalid"
        if getattr(exc, "code", None) in ("closed", "held"):
            status, api_code = 409, f"task_{exc.code}"
        raise ApiError(status, api_code, " ".join(exc.messages)) from exc

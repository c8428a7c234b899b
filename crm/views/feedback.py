"""Complaints (received from calls, surveys or by hand; handled by supervisors) and praise."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from saas import clock

from .. import workdays
from ..forms import ComplaintForm, ComplaintMoveForm, ComplaintNewForm, PraiseForm
from ..models import AuditEntry, Complaint, Contact, FeedbackSource, FollowUpTask, Praise
from ..roles import HANDLE_COMPLAINTS, RECORD_FEEDBACK, VIEW_COMPLAINTS
from ..selectors_home import complaints_near_deadline_filter
from ..services import feedback
from ..services.audit import audit_record

record_feedback = permission_required(RECORD_FEEDBACK, raise_exception=True)
view_complaints = permission_required(VIEW_COMPLAINTS, raise_exception=True)
handle_complaints = permission_required(HANDLE_COMPLAINTS, raise_exception=True)

LISTS = {
    "unanswered": {"status__in": Complaint.UNANSWERED},
    "overdue": {"status__in": Complaint.UNANSWERED, "deadline__lte": None},
    # Replaced per request by crm.selectors_home.complaints_near_deadline_filter.
    "due_soon": {},
    "waiting": {"status": Complaint.Status.WAITING},
    "replied": {"status": Complaint.Status.REPLIED},
    "closed": {"status": Complaint.Status.CLOSED},
    "all": {},
}


@login_required
@view_complaints
def complaint_list(request):
    shown = request.GET.get("list") if request.GET.get("list") in LISTS else "unanswered"
    filters = dict(LISTS[shown])
    if "deadline__lte" in filters:
        filters["deadline__lte"] = clock.now()
    if shown == "due_soon":
        filters = complaints_near_deadline_filter(clock.now())
    complaints = Complaint.objects.filter(**filters).select_related(
        "contact", "department", "assignee"
    )
    if shown in ("unanswered", "overdue", "due_soon", "waiting"):
        complaints = complaints.order_by("deadline", "id")
    page = Paginator(complaints, 50).get_page(request.GET.get("page"))
    # The list names the patients who complained.
    audit_record(
        request.user,
        AuditEntry.Action.COMPLAINT_LIST_VIEWED,
        detail={"list": shown, "page": page.number},
    )
    return render(
        request,
        "crm/complaint_list.html",
        {"page": page, "shown": shown, "now": clock.now(), "lists": _list_labels()},
    )


def _list_labels():
    return [
        ("unanswered", _("Awaiting reply")),
        ("due_soon", _("Reply due soon")),
        ("overdue", _("Overdue")),
        ("waiting", _("Waiting on the customer")),
        ("replied", _("Replied")),
        ("closed", _("Closed")),
        ("all", _("All")),
    ]


def _origin(request):
    """The follow-up or contact a complaint or praise is received for (from the call page or
    the contact's page)."""
    task = contact = None
    if request.GET.get("task", "").isdigit():
        task = get_object_or_404(
            FollowUpTask.objects.select_related("contact", "encounter"), pk=request.GET["task"]
        )
        contact = task.contact
    elif request.GET.get("contact", "").isdigit():
        contact = get_object_or_404(Contact, pk=request.GET["contact"])
    return task, contact


def _where(task, contact) -> dict:
    if task is None:
        return {"contact": contact}
    return {
        "contact": contact,
        "task": task,
        "encounter": task.encounter,
    }


@login_required
@record_feedback
def complaint_create(request):
    task, contact = _origin(request)
    initial = {"source": FeedbackSource.CALL if task else FeedbackSource.PHONE_IN}
    if task is not None:
        initial["department"] = task.encounter.department_id
    form = ComplaintNewForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        try:
            complaint = feedback.complaint_open(actor=request.user, **_where(task, contact), **data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(
                request,
                _("Complaint #%(number)s received; reply by %(deadline)s.")
                % {
                    "number": complaint.pk,
                    "deadline": timezone.localtime(complaint.deadline).strftime("%Y-%m-%d"),
                },
            )
            if task is not None:
                return redirect("task_detail", task.pk)
            if request.user.has_perm(VIEW_COMPLAINTS):
                return redirect("complaint_detail", complaint.pk)
            return redirect("home")
    return render(
        request,
        "crm/complaint_form.html",
        {"form": form, "task": task, "contact": contact},
        status=400 if request.method == "POST" else 200,
    )


@login_required
@view_complaints
def complaint_detail(request, complaint_id):
    complaint = get_object_or_404(
        Complaint.objects.select_related(
            "contact", "department", "staff", "assignee", "task", "survey_response"
        ),
        pk=complaint_id,
    )
    if request.method == "GET":
        audit_record(
            request.user,
            AuditEntry.Action.COMPLAINT_VIEWED,
            contact=complaint.contact_id,
            obj=complaint,
        )
    form = ComplaintForm(instance=complaint)
    move = ComplaintMoveForm()
    can_handle = request.user.has_perm(HANDLE_COMPLAINTS)
    if request.method == "POST" and can_handle:
        form = ComplaintForm(request.POST, instance=Complaint.objects.get(pk=complaint.pk))
        if form.is_valid():
            try:
                feedback.complaint_update(complaint, request.user, **form.cleaned_data)
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                messages.success(request, _("Complaint saved."))
                return redirect("complaint_detail", complaint.pk)
    return _detail(request, complaint, form, move, status=400 if request.method == "POST" else 200)


def _duration(amount) -> str:
    if not amount:
        return ""
    hours = amount.seconds // 3600
    if amount.days and hours:
        return _("%(days)s d %(hours)s h") % {"days": amount.days, "hours": hours}
    if amount.days:
        return _("%(days)s d") % {"days": amount.days}
    return _("%(hours)s h %(minutes)s min") % {"hours": hours, "minutes": amount.seconds // 60 % 60}


def _next_label(complaint, value) -> str:
    if complaint.is_waiting and value == Complaint.Status.INVESTIGATING:
        return _("Customer answered")
    return Complaint.Status(value).label


def _detail(request, complaint, form, move, status=200):
    now = clock.now()
    return render(
        request,
        "crm/complaint_detail.html",
        {
            "complaint": complaint,
            "form": form,
            "move": move,
            "next_statuses": [
                (value, _next_label(complaint, value)) for value in Complaint.NEXT[complaint.status]
            ],
            "events": complaint.events.select_related("actor"),
            "overdue": complaint.reply_overdue(now),
            "acknowledge_overdue": complaint.acknowledge_overdue(now),
            "working_days": workdays.calendar_for(request.tenant.phone_region),
            "paused_for": _duration(complaint.paused_for),
            "can_handle": request.user.has_perm(HANDLE_COMPLAINTS),
        },
        status=status,
    )


@require_POST
@login_required
@handle_complaints
def complaint_move(request, complaint_id):
    complaint = get_object_or_404(Complaint, pk=complaint_id)
    move = ComplaintMoveForm(request.POST)
    move.is_valid()
    try:
        feedback.complaint_move(
            complaint,
            request.user,
            request.POST.get("to_status", ""),
            reply=move.cleaned_data.get("reply", ""),
            note=move.cleaned_data.get("note", ""),
        )
    except ValidationError as exc:
        move.add_error(None, exc)
        return _detail(request, complaint, ComplaintForm(instance=complaint), move, status=400)
    messages.success(request, _("Complaint updated."))
    return redirect("complaint_detail", complaint.pk)


@login_required
@record_feedback
def praise_create(request):
    task, contact = _origin(request)
    initial = {"department": task.encounter.department_id} if task else {}
    form = PraiseForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        source = FeedbackSource.CALL if task else FeedbackSource.IN_PERSON
        try:
            feedback.praise_record(
                source=source, actor=request.user, **_where(task, contact), **form.cleaned_data
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("Praise recorded. Thank you for passing it on."))
            if task is not None:
                return redirect("task_detail", task.pk)
            return redirect("praise_list" if request.user.has_perm("crm.view_praise") else "home")
    return render(
        request,
        "crm/praise_form.html",
        {"form": form, "task": task, "contact": contact},
        status=400 if request.method == "POST" else 200,
    )


@login_required
@permission_required("crm.view_praise", raise_exception=True)
def praise_list(request):
    by_staff = (
        Praise.objects.exclude(staff=None)
        .values("staff__first_name", "staff__last_name", "staff__email")
        .annotate(count=Count("id"))
        .order_by("-count", "staff__first_name")
    )
    by_department = (
        Praise.objects.exclude(department=None)
        .values("department__name")
        .annotate(count=Count("id"))
        .order_by("-count", "department__name")
    )
    recent = Praise.objects.select_related("staff", "department", "contact")[:50]
    return render(
        request,
        "crm/praise_list.html",
        {"by_staff": by_staff, "by_department": by_department, "recent": recent},
    )

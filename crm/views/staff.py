"""Tenant pages: the home page, staff and department management. Thin: parse, call a
service, render."""

from functools import wraps

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.db import connection
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from saas import clock

from .. import selectors, selectors_home
from ..forms import DepartmentForm, StaffDepartmentsForm, StaffInviteForm, StaffRoleForm
from ..models import Department
from ..roles import MANAGE_DEPARTMENTS, MANAGE_SETTINGS, MANAGE_STAFF, WORK_TASKS, Role
from ..services import onboarding, staff

User = get_user_model()
manage_staff_required = permission_required(MANAGE_STAFF, raise_exception=True)
manage_departments_required = permission_required(MANAGE_DEPARTMENTS, raise_exception=True)


@login_required
def home(request):
    home = selectors_home.home_for(request.user, connection.tenant, now=clock.now())
    return render(request, "crm/home.html", {"home": home})


@require_POST
@login_required
@permission_required(MANAGE_SETTINGS, raise_exception=True)
def onboarding_dismiss(request):
    onboarding.onboarding_dismiss(actor=request.user)
    messages.success(
        request, _("The set-up checklist is put away. Bring it back from the home page.")
    )
    return redirect("home")


@require_POST
@login_required
@permission_required(MANAGE_SETTINGS, raise_exception=True)
def onboarding_restore(request):
    onboarding.onboarding_restore(actor=request.user)
    return redirect("home")


@login_required
@permission_required(WORK_TASKS, raise_exception=True)
def calls_today(request):
    """The attempts the user logged today: the list behind the reach rate on their home."""
    now = clock.now()
    return render(
        request,
        "crm/calls_today.html",
        {
            "attempts": selectors_home.my_calls_today(request.user, now=now),
            "reach": selectors_home.reach_today(request.user, now=now),
        },
    )


# --- Departments ----------------------------------------------------------------------------


@login_required
@manage_departments_required
def department_list(request):
    return render(
        request,
        "crm/department_list.html",
        {"departments": Department.objects.order_by("-active", "name")},
    )


@login_required
@manage_departments_required
def department_create(request):
    return _department_form(request, None)


@login_required
@manage_departments_required
def department_edit(request, department_id):
    return _department_form(request, get_object_or_404(Department, pk=department_id))


def _department_form(request, department):
    initial = (
        {"name": department.name, "code": department.code, "active": department.active}
        if department
        else {"active": True}
    )
    form = DepartmentForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            staff.department_save(department=department, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)  # a dict of field errors lands on those fields
        else:
            messages.success(
                request, _("Department %(name)s saved.") % {"name": form.cleaned_data["name"]}
            )
            return redirect("department_list")
    return render(
        request,
        "crm/department_form.html",
        {"form": form, "department": department},
        status=400 if request.method == "POST" else 200,
    )


@login_required
@manage_staff_required
def staff_list(request):
    members = [(user, selectors.staff_role(user)) for user in selectors.staff_list()]
    departments = selectors.staff_departments()
    return render(
        request,
        "crm/staff_list.html",
        {
            "staff": members,
            "role_choices": Role.choices,
            "departments": departments,
            "two_step_ids": selectors.staff_two_step_ids(),
        },
    )


@login_required
@manage_staff_required
def staff_invite(request):
    form = StaffInviteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            staff.staff_invite(
                **form.cleaned_data,
                base_url=request.build_absolute_uri("/"),
                actor=request.user,
            )
        except ValidationError as exc:
            form.add_error(None, exc)  # a dict of field errors lands on those fields
        else:
            messages.success(
                request,
                _("Invitation sent to %(email)s.") % {"email": form.cleaned_data["email"]},
            )
            return redirect("staff_list")
    return render(request, "crm/staff_invite.html", {"form": form})


def staff_action(success_message):
    """A POST-only action of staff management on one staff member: run it, report success or
    the reason it was refused as a message, and go back to the staff list."""

    def decorate(action):
        @require_POST
        @login_required
        @manage_staff_required
        @wraps(action)
        def view(request, user_id):
            user = get_object_or_404(User, pk=user_id)
            try:
                action(request, user)
            except ValidationError as exc:
                for message in exc.messages:
                    messages.error(request, message)
            else:
                messages.success(request, success_message % {"email": user.email})
            return redirect("staff_list")

        return view

    return decorate


@login_required
@manage_staff_required
def staff_departments(request, user_id):
    member = get_object_or_404(User, pk=user_id)
    current = Department.objects.filter(staff__user=member)
    form = StaffDepartmentsForm(request.POST or None, initial={"departments": current})
    if request.method == "POST" and form.is_valid():
        staff.staff_set_departments(user=member, departments=form.cleaned_data["departments"])
        messages.success(request, _("Departments of %(email)s saved.") % {"email": member.email})
        return redirect("staff_list")
    return render(request, "crm/staff_departments.html", {"form": form, "member": member})


@staff_action(gettext_lazy("Role of %(email)s changed."))
def staff_role_change(request, user):
    form = StaffRoleForm(request.POST)
    if not form.is_valid():
        raise ValidationError(_("Choose one of the roles."))
    staff.staff_set_role(user=user, role=form.cleaned_data["role"], acting_user=request.user)


@staff_action(gettext_lazy("%(email)s can no longer sign in."))
def staff_deactivate(request, user):
    staff.staff_deactivate(user=user, acting_user=request.user)


@staff_action(gettext_lazy("%(email)s can sign in again."))
def staff_reactivate(request, user):
    staff.staff_reactivate(user=user, acting_user=request.user)


@staff_action(
    gettext_lazy(
        "Two-step sign-in of %(email)s was reset: they set it up again when they next sign in "
        "if their role needs it."
    )
)
def staff_two_step_reset(request, user):
    staff.staff_two_step_reset(user=user, acting_user=request.user)


@staff_action(gettext_lazy("Invitation sent to %(email)s."))
def staff_invitation_resend(request, user):
    staff.staff_invitation_queue(user=user, base_url=request.build_absolute_uri("/"))

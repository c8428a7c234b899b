"""Writes of the crm app: staff roles, departments and staff accounts. Runs inside the
current tenant's schema; never switches schemas."""

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import connection, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext as _

from billing import entitlements
from saas import two_step
from saas.celery import enqueue_on_commit

from ..models import AuditEntry, Department, StaffProfile
from ..presets import DEPARTMENTS
from ..roles import ROLE_PERMISSIONS, Role
from ..selectors import staff_role
from .audit import audit_record

User = get_user_model()


def roles_sync() -> None:
    """Make the five role groups exist with exactly the permissions of ROLE_PERMISSIONS."""
    wanted = {perm for perms in ROLE_PERMISSIONS.values() for perm in perms}
    by_name: dict[str, Permission] = {}
    for perm in Permission.objects.select_related("content_type").filter(
        codename__in={p.split(".", 1)[1] for p in wanted}
    ):
        by_name[f"{perm.content_type.app_label}.{perm.codename}"] = perm
    missing = wanted - by_name.keys()
    if missing:
        raise LookupError(f"Permissions missing in this schema: {sorted(missing)}")
    for role, perms in ROLE_PERMISSIONS.items():
        group, _created = Group.objects.get_or_create(name=role)
        group.permissions.set([by_name[p] for p in perms])


def roles_seed(*, kind: str, locale: str) -> None:
    """Preset step: every kind of tenant gets the same five roles."""
    roles_sync()


def departments_seed(*, kind: str, locale: str) -> None:
    """Preset step: the usual departments of this kind, named in the tenant's language."""
    use_chinese = locale.startswith("zh")
    Department.objects.bulk_create(
        [
            Department(code=code, name=zh_name if use_chinese else en_name)
            for code, zh_name, en_name in DEPARTMENTS.get(kind, [])
        ],
        ignore_conflicts=True,  # a department the tenant already has keeps its name
    )


def department_save(
    *, department: Department | None = None, name: str, code: str, active: bool = True
) -> Department:
    """Add a department (``department`` None) or change one. A code another department
    holds is refused with a message on the code; nothing is written then."""
    name, code = name.strip(), code.strip()
    if not name:
        raise ValidationError({"name": _("Give the department a name.")})
    taken = Department.objects.filter(code=code)
    if department is not None:
        taken = taken.exclude(pk=department.pk)
    if taken.exists():
        raise ValidationError({"code": _("Another department already has this code.")})
    department = department or Department()
    department.name, department.code, department.active = name, code, active
    department.full_clean()
    department.save()
    return department


@dataclass(frozen=True)
class Invitation:
    user: User
    set_password_url: str


def set_password_url(*, user, base_url: str) -> str:
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    # The tenant URLconf, also when provisioning runs from the vendor console's (public) request.
    path = reverse(
        "password_reset_confirm",
        kwargs={"uidb64": uid, "token": token},
        urlconf=settings.ROOT_URLCONF,
    )
    return base_url.rstrip("/") + path


@transaction.atomic
def staff_invite(
    *,
    email: str,
    full_name: str,
    role: str,
    base_url: str,
    actor=None,
) -> Invitation:
    """Create a staff account with no password yet and email a link to set one. The address
    is the login; an address that already has an account is refused."""
    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError as exc:
        raise ValidationError({"email": _("Enter a valid email address.")}) from exc
    if role not in Role.values:
        raise ValidationError({"role": _("Choose one of the roles.")})
    if User.objects.filter(username__iexact=email).exists():
        raise ValidationError(
            {"email": _("A staff member with this email address already exists.")}
        )
    entitlements.seats_check(
        connection.tenant, active_seats=User.objects.filter(is_active=True).count()
    )

    first_name, _sep, last_name = (full_name or "").strip().partition(" ")
    user = User(username=email, email=email, first_name=first_name[:150], last_name=last_name[:150])
    user.set_unusable_password()
    user.save()
    user.groups.set([Group.objects.get(name=role)])
    # The only way a clinic's staff account comes to exist: past the seat check, recorded.
    audit_record(actor, AuditEntry.Action.STAFF_INVITED, obj=user, detail={"role": role})
    staff_invitation_queue(user=user, base_url=base_url)
    return Invitation(user=user, set_password_url=set_password_url(user=user, base_url=base_url))


def staff_invitation_queue(*, user, base_url: str) -> None:
    """Queue the invitation email for when the transaction commits; also resends a lost one."""

    if user.has_usable_password():
        raise ValidationError(_("This staff member has already set a password."))
    enqueue_on_commit("crm.tasks.staff_invitation_email_task", user.pk, base_url)


def staff_invitation_email(*, user_id: int, base_url: str, organisation: str) -> None:
    """Send the invitation with a fresh set-password link, unless the invitation is no longer
    open (password already set, account deactivated or gone): safe to run twice."""
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None or user.has_usable_password():
        return
    role = staff_role(user)
    context = {
        "organisation": organisation,
        "url": set_password_url(user=user, base_url=base_url),
        "role": Role(role).label if role else "",
    }
    subject = _("You are invited to %(organisation)s on CareBridge") % {
        "organisation": organisation
    }
    body = render_to_string("crm/email/invitation.txt", context)
    send_mail(subject, body, None, [user.email])


def _ensure_admin_remains(user, *, acting_user) -> None:
    if user.pk == acting_user.pk:
        raise ValidationError(_("You cannot change your own role or deactivate yourself."))
    if staff_role(user) == Role.ADMIN:
        other_admins = User.objects.filter(is_active=True, groups__name=Role.ADMIN).exclude(
            pk=user.pk
        )
        if not other_admins.exists():
            raise ValidationError(_("The tenant must keep at least one active administrator."))


@transaction.atomic
def staff_set_role(*, user, role: str, acting_user) -> None:
    """Give ``user`` exactly one role."""
    if role not in Role.values:
        raise ValidationError(_("Choose one of the roles."))
    if staff_role(user) == role:
        return
    previous = staff_role(user)
    _ensure_admin_remains(user, acting_user=acting_user)
    user.groups.set([Group.objects.get(name=role)])
    user._staff_role = role  # selectors.staff_role keeps the role on the user object
    audit_record(
        acting_user,
        AuditEntry.Action.ROLE_CHANGED,
        obj=user,
        detail={"from": previous or "", "to": role},
    )


@transaction.atomic
def staff_deactivate(*, user, acting_user) -> None:
    """Stop ``user`` from logging in; their history stays."""
    _ensure_admin_remains(user, acting_user=acting_user)
    user.is_active = False
    user.save(update_fields=["is_active"])
    audit_record(acting_user, AuditEntry.Action.STAFF_DEACTIVATED, obj=user)
    # Open sessions die with it: ModelBackend.get_user refuses inactive users on each request.


@transaction.atomic
def staff_two_step_reset(*, user, acting_user) -> None:
    """A staff member lost their phone: remove their authenticator and recovery codes. Where
    their role or the clinic requires two-step sign-in, they set it up again at their next
    page. Not one's own: that would let a session left open drop its second step."""
    if user.pk == acting_user.pk:
        raise ValidationError(
            _("You cannot reset your own two-step sign-in; use your Two-step sign-in page.")
        )
    two_step.two_step_reset(user=user)
    audit_record(acting_user, AuditEntry.Action.TWO_STEP_RESET, obj=user)


@transaction.atomic
def staff_reactivate(*, user, acting_user=None) -> None:
    if user.is_active:
        return
    entitlements.seats_check(
        connection.tenant, active_seats=User.objects.filter(is_active=True).count()
    )
    user.is_active = True
    user.save(update_fields=["is_active"])
    audit_record(acting_user, AuditEntry.Action.STAFF_REACTIVATED, obj=user)


def staff_set_departments(*, user, departments) -> None:
    """The departments a staff member works in: their department queue in the worklist."""

    profile, _created = StaffProfile.objects.get_or_create(user=user)
    profile.departments.set(departments)

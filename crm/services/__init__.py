"""Writes of the crm app (the verbs of the domain), inside the current tenant's schema.
Services never switch schemas themselves."""

from .staff import (
    Invitation,
    department_save,
    departments_seed,
    roles_seed,
    roles_sync,
    set_password_url,
    staff_deactivate,
    staff_invitation_email,
    staff_invitation_queue,
    staff_invite,
    staff_reactivate,
    staff_set_departments,
    staff_set_role,
    staff_two_step_reset,
)

__all__ = [
    "Invitation",
    "department_save",
    "departments_seed",
    "roles_seed",
    "roles_sync",
    "set_password_url",
    "staff_deactivate",
    "staff_invitation_email",
    "staff_invitation_queue",
    "staff_invite",
    "staff_reactivate",
    "staff_set_departments",
    "staff_set_role",
    "staff_two_step_reset",
]

"""Reads of the crm app, inside the current tenant's schema."""

from django.contrib.auth import get_user_model
from django.db.models import QuerySet

from .roles import Role

User = get_user_model()


def staff_role(user) -> str | None:
    """The role of a staff member (the name of their role group), or None."""
    names = [g.name for g in user.groups.all() if g.name in Role.values]
    return names[0] if names else None


def staff_list() -> QuerySet:
    return User.objects.prefetch_related("groups").order_by("-is_active", "email")

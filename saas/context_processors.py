"""What the base layout needs on every page: tenant, navigation for the user's role, languages."""

from django.conf import settings
from django.urls import reverse

from crm.roles import Role
from crm.selectors import staff_role
from crm.vocabulary import clinic_vocabulary
from saas import navigation, two_step


def shell(request) -> dict:
    tenant = getattr(request, "tenant", None)
    is_tenant = tenant is not None and not tenant.is_public
    user = getattr(request, "user", None)
    menu = None
    role = None
    # Signed in with a password only: no navigation until the second step is done (its links
    # would all lead back to that step).
    if (
        user is not None
        and user.is_authenticated
        and not two_step.second_step_pending(user, tenant)
    ):
        if is_tenant:
            menu = navigation.menu_for(
                user,
                request.path,
                home_url=reverse("home"),
                menu=navigation.TENANT_MENU,
                labels={"contact_list": clinic_vocabulary().contacts},
            )
            code = staff_role(user)
            role = Role(code).label if code else None
        else:
            menu = navigation.menu_for(
                user, request.path, home_url=reverse("landing"), menu=navigation.PUBLIC_MENU
            )
    return {
        "current_tenant": tenant if is_tenant else None,
        "menu": menu,
        "nav_items": menu["items"] if menu else [],
        "user_role": role,
        "languages": settings.LANGUAGES,
        "base_domain": settings.BASE_DOMAIN,
    }

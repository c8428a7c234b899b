"""The Wagtail admin inside a tenant: staff accounts are managed on our Staff page (roles),
so Wagtail's own user and group screens are hidden; a menu item leads to the reach report."""

from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from wagtail import hooks
from wagtail.admin.menu import MenuItem


@hooks.register("construct_settings_menu")
def hide_user_and_group_screens(request, menu_items):
    menu_items[:] = [item for item in menu_items if item.name not in ("users", "groups", "sites")]


@hooks.register("register_admin_menu_item")
def reach_menu_item():
    return MenuItem(_("Reach of education"), reverse("cms_reach"), icon_name="view", order=900)


@hooks.register("register_admin_menu_item")
def back_to_carebridge_menu_item():
    return MenuItem(_("Back to CareBridge"), reverse("home"), icon_name="arrow-left", order=10000)

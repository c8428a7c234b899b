"""The clinic's people: its departments and the departments each staff member works in, in
the tenant's schema."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Department(models.Model):
    """A department (科室) of a hospital, or a team of a clinic or service business."""

    name = models.CharField(_("name"), max_length=100)
    code = models.SlugField(_("code"), max_length=40, unique=True)
    active = models.BooleanField(_("active"), default=True)
    # The set-up checklist tells a department the clinic added or edited from a preset one.
    # Empty on departments older than this field.
    updated_at = models.DateTimeField(auto_now=True, null=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("department")
        verbose_name_plural = _("departments")

    def __str__(self) -> str:
        return self.name


class StaffProfile(models.Model):
    """What CareBridge knows about a staff member beyond their login: the departments a
    clinician works in (their tier-1 patients and their department's queue)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff_profile"
    )
    departments = models.ManyToManyField(
        Department, blank=True, related_name="staff", verbose_name=_("departments")
    )

    class Meta:
        verbose_name = _("staff profile")
        verbose_name_plural = _("staff profiles")

    def __str__(self) -> str:
        return str(self.user)

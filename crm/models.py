"""Follow-up domain models, in the tenant's schema."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Department(models.Model):
    """A department (科室) of a hospital, or a team of a clinic or service business."""

    name = models.CharField(_("name"), max_length=100)
    code = models.SlugField(_("code"), max_length=40, unique=True)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("department")
        verbose_name_plural = _("departments")

    def __str__(self) -> str:
        return self.name

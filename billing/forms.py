from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from tenants.forms import TenantCreateForm

from .models import Plan
from .services import PlanValues


class SignupForm(TenantCreateForm):
    """Self-service sign-up on the public site: the console's tenant form plus the plan to
    try."""

    plan = forms.ModelChoiceField(
        label=_("Plan"), queryset=Plan.objects.filter(public=True), required=False,
        empty_label=_("Decide later (trial plan)"),
    )  # fmt: skip

    def __init__(self, *args, **kwargs):
        super().__init__(*args, base_domain=settings.BASE_DOMAIN, **kwargs)
        self.fields["name"].label = _("Clinic or company name")
        del self.fields["admin_name"]


class PlanForm(forms.ModelForm):
    class Meta:
        model = Plan
        fields = [
            "code", "name", "description", "currency", "monthly_price", "yearly_price",
            "stripe_price_monthly", "stripe_price_yearly", "staff_seats",
            "encounters_per_month", "sms_per_month", "storage_gb", "api_access", "webhooks",
            "custom_domain", "audit_tier3", "pdf_export", "public", "is_default", "position",
        ]  # fmt: skip
        help_texts = {
            "staff_seats": _("Empty: unlimited."),
            "encounters_per_month": _("Empty: unlimited."),
            "sms_per_month": _("Empty: unlimited."),
            "storage_gb": _("Empty: unlimited."),
        }

    def clean(self):
        cleaned = super().clean()
        for field in ("stripe_price_monthly", "stripe_price_yearly"):
            price = (cleaned.get(field) or "").strip()
            cleaned[field] = price
            if price and not price.startswith("price_"):
                self.add_error(field, _("A Stripe price id starts with price_."))
            elif price:
                clash = Plan.objects.exclude(pk=self.instance.pk).filter(
                    stripe_price_monthly=price
                ) | Plan.objects.exclude(pk=self.instance.pk).filter(stripe_price_yearly=price)
                if clash.exists():
                    self.add_error(field, _("Another plan already uses this price id."))
        return cleaned

    def plan_values(self) -> PlanValues:
        """The checked plan for billing.services.plan_save (once the form is valid)."""
        return PlanValues(**{name: getattr(self.instance, name) for name in self._meta.fields})


class TrialExtendForm(forms.Form):
    days = forms.IntegerField(label=_("Days"), min_value=1, max_value=90, initial=14)


class CompForm(forms.Form):
    plan = forms.ModelChoiceField(label=_("Plan"), queryset=Plan.objects.all())
    note = forms.CharField(label=_("Note"), max_length=200, required=False)

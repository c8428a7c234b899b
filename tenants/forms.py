from django import forms
from django.utils.translation import gettext_lazy as _

from .models import Tenant


class TenantCreateForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    slug = forms.CharField(
        label=_("Address name"),
        max_length=40,
        help_text=_(
            "Lowercase letters, digits and hyphens; the tenant's address will be <name>.%(domain)s"
        ),
    )
    kind = forms.ChoiceField(label=_("Kind"), choices=Tenant.Kind.choices)
    locale = forms.ChoiceField(label=_("Language"), choices=Tenant.Locale.choices)
    admin_email = forms.EmailField(label=_("Administrator's email"))
    admin_name = forms.CharField(label=_("Administrator's name"), max_length=150, required=False)

    def __init__(self, *args, base_domain: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["slug"].help_text = self.fields["slug"].help_text % {"domain": base_domain}


class DomainAddForm(forms.Form):
    domain = forms.CharField(label=_("Custom domain"), max_length=253)

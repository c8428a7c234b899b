from axes.handlers.proxy import AxesProxyHandler
from django import forms
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from saas import signin_throttle


class EmailAuthenticationForm(AuthenticationForm):
    """Staff sign in with their email address, which is their username. Besides axes' lock of
    one (account, address) pair, an account under attack from elsewhere makes this browser
    wait unless it has signed in to that account before (saas.signin_throttle)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["username"].label = _("Email")
        self.fields["username"].widget.attrs.update({"autocomplete": "email", "inputmode": "email"})

    def clean_username(self):
        return self.cleaned_data["username"].strip().lower()

    def clean(self):
        username = self.cleaned_data.get("username")
        if not username or not self.cleaned_data.get("password"):
            return super().clean()
        known = signin_throttle.device_known(self.request, username)
        # A pair that axes has locked gets axes' own page (its 15 minutes), not our wait.
        locked = AxesProxyHandler.is_locked(self.request, {"username": username})
        wait = 0 if locked else signin_throttle.attempt_wait(username, known=known)
        if wait:
            raise ValidationError(signin_throttle.wait_message(wait), code="throttled")
        try:
            return super().clean()
        except ValidationError as exc:
            if exc.code == "invalid_login":
                signin_throttle.failure_record(username, known=known)
            raise


class TwoStepCodeForm(forms.Form):
    """A code from the authenticator app (six digits) or a recovery code."""

    code = forms.CharField(
        label=pgettext_lazy("sign-in", "Code"),
        max_length=32,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "autofocus": True, "spellcheck": "false"}
        ),
    )


class PasswordResetMailForm(PasswordResetForm):
    """Django's reset form with limits: per client address and per account and hour. The page
    answers the same whatever happened, so it tells nobody whether an account exists."""

    def get_users(self, email):
        for user in super().get_users(email):
            if signin_throttle.password_reset_account_allowed(user):
                yield user

    def save(self, *args, request=None, **kwargs):
        if request is not None and not signin_throttle.password_reset_address_allowed(request):
            return
        super().save(*args, request=request, **kwargs)

"""Sign-in pages of both URLconfs (a clinic's host and the vendor console's): the password, the
second step, enrolment in two-step sign-in and its settings, and the throttled password reset.
Thin: parse, call saas.two_step / saas.signin_throttle, render."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView, PasswordResetView
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django_otp import login as otp_login

from saas import signin_throttle, two_step
from saas.forms import EmailAuthenticationForm, PasswordResetMailForm, TwoStepCodeForm


def _next_url(request) -> str:
    """Where the sign-in continues: the ``next`` it was given, if it is ours, else home."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return resolve_url(settings.LOGIN_REDIRECT_URL)


def _with_next(name: str, target: str) -> str:
    return f"{reverse(name)}?{urlencode({'next': target})}"


class SignInView(LoginView):
    """The password step. A user with an authenticator goes on to the second step; the session
    counts for pages only once it is done (saas.middleware.TwoStepMiddleware)."""

    authentication_form = EmailAuthenticationForm
    redirect_authenticated_user = True

    def form_valid(self, form):
        user = form.get_user()
        auth_login(self.request, user)
        if two_step.authenticator(user) is not None:
            return redirect(_with_next("two_step_verify", self.get_success_url()))
        response = HttpResponseRedirect(self.get_success_url())
        signin_throttle.signed_in(self.request, response, user.get_username())
        return response


class PasswordResetMailView(PasswordResetView):
    form_class = PasswordResetMailForm


def _signed_in(request, device, target: str):
    otp_login(request, device)
    response = HttpResponseRedirect(target)
    signin_throttle.signed_in(request, response, request.user.get_username())
    return response


@login_required
def two_step_verify(request):
    """The second step: a code from the authenticator app or a recovery code."""
    user, target = request.user, _next_url(request)
    if user.is_verified() or two_step.authenticator(user) is None:
        return redirect(target)
    form = TwoStepCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        username = user.get_username()
        known = signin_throttle.device_known(request, username)
        wait = signin_throttle.attempt_wait(username, known=known)
        if wait:
            form.add_error(None, signin_throttle.wait_message(wait))
        else:
            try:
                device = two_step.two_step_verify(user=user, code=form.cleaned_data["code"])
            except ValidationError as exc:
                signin_throttle.failure_record(username, known=known)
                form.add_error("code", exc)
            else:
                return _signed_in(request, device, target)
    return render(request, "registration/two_step_verify.html", {"form": form, "next": target})


def _issuer(request) -> str:
    tenant = getattr(request, "tenant", None)
    if tenant is None or tenant.is_public:
        return "CareBridge"
    return f"CareBridge {tenant.name}"


@login_required
def two_step_setup(request):
    """Enrolment: scan the QR code (or type the secret), confirm with a code, and see the ten
    recovery codes once."""
    user, target = request.user, _next_url(request)
    if two_step.authenticator(user) is not None:
        return redirect("two_step_manage")
    device = two_step.enrolment_start(user)
    form = TwoStepCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            device, codes = two_step.enrolment_confirm(user=user, code=form.cleaned_data["code"])
        except ValidationError as exc:
            form.add_error("code", exc)
        else:
            otp_login(request, device)
            response = render(
                request, "registration/two_step_codes.html", {"codes": codes, "next": target}
            )
            signin_throttle.signed_in(request, response, user.get_username())
            return response
    return render(
        request,
        "registration/two_step_setup.html",
        {
            "form": form,
            "next": target,
            "enrolment": two_step.enrolment_display(device, issuer=_issuer(request)),
            "required": two_step.two_step_required(user, getattr(request, "tenant", None)),
        },
    )


@login_required
def two_step_manage(request):
    """Two-step sign-in of the signed-in user: on or off, recovery codes left, new codes, and
    turning it off where the role allows."""
    user = request.user
    return render(
        request,
        "registration/two_step_manage.html",
        {
            "enabled": two_step.authenticator(user) is not None,
            "required": two_step.two_step_required(user, getattr(request, "tenant", None)),
            "codes_left": two_step.recovery_codes_left(user),
            "regenerate_form": TwoStepCodeForm(auto_id="regenerate_%s"),
            "disable_form": TwoStepCodeForm(auto_id="disable_%s"),
        },
    )


@require_POST
@login_required
def two_step_codes_regenerate(request):
    form = TwoStepCodeForm(request.POST)
    try:
        if not form.is_valid():
            raise ValidationError(_("Enter a code from your authenticator app."))
        codes = two_step.recovery_codes_regenerate(
            user=request.user, code=form.cleaned_data["code"]
        )
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
        return redirect("two_step_manage")
    return render(
        request,
        "registration/two_step_codes.html",
        {"codes": codes, "next": reverse("two_step_manage")},
    )


@require_POST
@login_required
def two_step_disable(request):
    form = TwoStepCodeForm(request.POST)
    try:
        if not form.is_valid():
            raise ValidationError(_("Enter a code from your authenticator app."))
        two_step.two_step_disable(
            user=request.user,
            tenant=getattr(request, "tenant", None),
            code=form.cleaned_data["code"],
        )
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    else:
        messages.success(request, _("Two-step sign-in is off."))
    return redirect("two_step_manage")

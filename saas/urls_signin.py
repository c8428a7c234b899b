"""Sign-in and two-step sign-in, the same on a clinic's host and on BASE_DOMAIN."""

from django.urls import path

from saas import signin_views

urlpatterns = [
    path("accounts/login/", signin_views.SignInView.as_view(), name="login"),
    path("accounts/two-step/", signin_views.two_step_manage, name="two_step_manage"),
    path("accounts/two-step/verify/", signin_views.two_step_verify, name="two_step_verify"),
    path("accounts/two-step/setup/", signin_views.two_step_setup, name="two_step_setup"),
    path(
        "accounts/two-step/recovery-codes/",
        signin_views.two_step_codes_regenerate,
        name="two_step_codes_regenerate",
    ),
    path("accounts/two-step/off/", signin_views.two_step_disable, name="two_step_disable"),
]

from django.urls import path

from . import views

app_name = "billing"
urlpatterns = [
    path("pricing/", views.pricing, name="pricing"),
    path("signup/", views.signup, name="signup"),
    path("signup/done/", views.signup_done, name="signup_done"),
    path("billing/stripe/webhook/", views.stripe_webhook, name="stripe_webhook"),
]

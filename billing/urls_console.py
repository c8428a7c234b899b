from django.urls import path

from . import console_views as views

app_name = "billing_console"
urlpatterns = [
    path("", views.tenant_list, name="tenants"),
    path("tenants/<int:tenant_id>/", views.tenant_detail, name="tenant"),
    path("tenants/<int:tenant_id>/trial/", views.trial_extend, name="trial_extend"),
    path("tenants/<int:tenant_id>/comp/", views.plan_comp, name="plan_comp"),
    path("tenants/<int:tenant_id>/comp/end/", views.comp_end, name="comp_end"),
    path("tenants/<int:tenant_id>/suspend/", views.suspend, name="suspend"),
    path("tenants/<int:tenant_id>/reactivate/", views.reactivate, name="reactivate"),
    path("tenants/<int:tenant_id>/stripe/", views.stripe_customer, name="stripe_customer"),
    path("plans/", views.plan_list, name="plans"),
    path("plans/new/", views.plan_edit, name="plan_create"),
    path("plans/<int:plan_id>/", views.plan_edit, name="plan_edit"),
]

from django.urls import path

from . import views

app_name = "console"
urlpatterns = [
    path("", views.tenant_list, name="tenants"),
    path("audit/", views.console_audit, name="audit"),
    path("tenants/new/", views.tenant_create, name="tenant_create"),
    path("tenants/<int:tenant_id>/suspend/", views.tenant_suspend, name="tenant_suspend"),
    path("tenants/<int:tenant_id>/reactivate/", views.tenant_reactivate, name="tenant_reactivate"),
    path("tenants/<int:tenant_id>/domains/", views.domain_add, name="domain_add"),
    path("domains/<int:domain_id>/remove/", views.domain_remove, name="domain_remove"),
]

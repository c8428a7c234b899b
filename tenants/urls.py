from django.urls import path

from . import views

app_name = "console"
urlpatterns = [
    path("", views.tenant_list, name="tenants"),
    path("audit/", views.console_audit, name="audit"),
    path("tenants/new/", views.tenant_create, name="tenant_create"),
    path("tenants/<int:tenant_id>/suspend/", views.tenant_suspend, name="tenant_suspend"),
    path("tenants/<int:tenant_id>/reactivate/", views.tenant_reactivate, name="tenant_reactivate"),
    path("tenants/<int:tenant_id>/close/", views.tenant_close, name="tenant_close"),
    path(
        "tenants/<int:tenant_id>/close/cancel/",
        views.tenant_close_cancel,
        name="tenant_close_cancel",
    ),
    path(
        "tenants/<int:tenant_id>/close/export.zip",
        views.tenant_closing_export,
        name="tenant_closing_export",
    ),
    path("tenants/<int:tenant_id>/domains/", views.domain_add, name="domain_add"),
    path("domains/<int:domain_id>/remove/", views.domain_remove, name="domain_remove"),
]

from django.urls import path

from . import views

urlpatterns = [
    path("", views.staff_list, name="staff_list"),
    path("invite/", views.staff_invite, name="staff_invite"),
    path("<int:user_id>/role/", views.staff_role_change, name="staff_role_change"),
    path("<int:user_id>/deactivate/", views.staff_deactivate, name="staff_deactivate"),
    path("<int:user_id>/reactivate/", views.staff_reactivate, name="staff_reactivate"),
    path("<int:user_id>/resend/", views.staff_invitation_resend, name="staff_invitation_resend"),
]

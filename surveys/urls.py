from django.urls import path

from .views import public, staff

urlpatterns = [
    # The patient's link: no login, a token instead of ids.
    path("s/<str:token>/", public.survey_answer, name="survey_answer"),
    path("s/<str:token>/stop/", public.survey_opt_out, name="survey_opt_out"),
    path("s/<str:token>/wechat/", public.survey_wechat, name="survey_wechat"),
    # The short link of an SMS (surveys.links): no trailing slash, every character counts.
    path("s/<str:token>", public.survey_answer, name="survey_short"),
    path("s/<str:token>/stop", public.survey_opt_out, name="survey_short_opt_out"),
    # Staff
    path("surveys/", staff.survey_list, name="survey_list"),
    path("surveys/new/", staff.survey_create, name="survey_create"),
    path("surveys/<int:template_id>/", staff.survey_edit, name="survey_edit"),
    path("surveys/<int:template_id>/publish/", staff.survey_publish, name="survey_publish"),
    path("surveys/<int:template_id>/responses/", staff.response_list, name="response_list"),
    path("surveys/responses/<int:response_id>/", staff.response_detail, name="response_detail"),
]

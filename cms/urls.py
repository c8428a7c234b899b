"""Tenant URLs of the cms app: the Wagtail admin (behind our sign-in), documents, images,
tracked article links and the patient site under /health/."""

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.urls import include, path, re_path
from wagtail import urls as wagtail_urls
from wagtail.admin import urls as wagtailadmin_urls
from wagtail.documents import urls as wagtaildocs_urls
from wagtail.utils.urlpatterns import decorate_urlpatterns

from . import views


def _staff_without_admin_access_refused(view):
    """Wagtail sends a signed-in user without admin access back to the sign-in page, which
    sends a signed-in user on to ``next``: a loop. Refuse them plainly instead."""

    def wrapped(request, *args, **kwargs):
        user = request.user
        if user.is_authenticated and not user.has_perm("wagtailadmin.access_admin"):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapped


# A clinic's staff, their roles and its site are CareBridge's to manage (the Staff page, with
# the plan's seat limit and the audit log; provisioning): Wagtail's own screens for them let a
# clinic administrator make superusers and add staff past the plan, unrecorded.
CLOSED_TO_CLINICS = ("users/", "groups/", "sites/")


def _not_found(view):
    def closed(request, *args, **kwargs):
        raise Http404

    return closed


admin_patterns = decorate_urlpatterns(
    [
        decorate_urlpatterns([pattern], _not_found)[0]
        if str(pattern.pattern) in CLOSED_TO_CLINICS
        else pattern
        for pattern in wagtailadmin_urls.urlpatterns
    ],
    _staff_without_admin_access_refused,
)

patient_site = [
    re_path(wagtail_urls.serve_pattern, views.page_serve, name="wagtail_serve"),
    path("", include(wagtail_urls)),
]

urlpatterns = [
    path("cms/admin/", include(admin_patterns)),
    path("cms/documents/", include(wagtaildocs_urls)),
    path("cms/reach/", views.reach, name="cms_reach"),
    path("media/<slug:schema>/<path:path>", views.media_serve, name="cms_media"),
    path("health/e/<str:token>/", views.article_link, name="cms_article_link"),
    path("health/", include(patient_site)),
]

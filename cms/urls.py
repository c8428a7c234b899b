"""Tenant URLs of the cms app: the Wagtail admin (behind our sign-in), documents, images,
tracked article links and the patient site under /health/."""

from django.core.exceptions import PermissionDenied
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


admin_patterns = decorate_urlpatterns(
    list(wagtailadmin_urls.urlpatterns), _staff_without_admin_access_refused
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

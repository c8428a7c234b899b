"""Patient-facing pages (served by Wagtail through the per-tenant page cache), tracked
article links, the tenant's media files, and the reach report for administrators."""

import mimetypes
import posixpath
import re

from django.contrib.auth.decorators import login_required, permission_required
from django.core.cache import cache
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.storage import default_storage
from django.db import connection
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_safe
from wagtail import views as wagtail_views

from . import pagecache, selectors, services
from .links import link_token_read
from .models import ArticlePage

# Only image files are served from the media folder; documents go through Wagtail's document
# view (which looks them up in the tenant's schema and checks their name).
MEDIA_PREFIXES = ("original_images/", "images/")
# Messengers and crawlers fetch a link to preview it: that is not a patient reading.
LINK_PREVIEWERS = re.compile(
    r"bot|crawler|spider|preview|facebookexternalhit|WhatsApp|Slack|TelegramBot", re.IGNORECASE
)


def page_serve(request, path):
    """Wagtail's page view, with whole pages cached per tenant for anonymous visitors."""
    if not pagecache.cacheable_request(request):
        return wagtail_views.serve(request, path)
    key = pagecache.page_key(request)
    response = cache.get(key)
    if response is not None:
        return response
    response = wagtail_views.serve(request, path)
    if hasattr(response, "render") and callable(response.render):
        response = response.render()
    if pagecache.cacheable_response(response):
        cache.set(key, response, pagecache.TIMEOUT)
    return response


def article_link(request, token):
    """A tracked link from a message or the call page: count the open, then show the article.
    An unknown, forged or other clinic's token, or an unpublished article, is a 404."""
    ids = link_token_read(token)
    if ids is None:
        raise Http404
    article_id, rule_id, step_id = ids
    article = ArticlePage.objects.live().public().filter(pk=article_id).first()
    if article is None:
        raise Http404
    if request.method == "GET" and not LINK_PREVIEWERS.search(
        request.headers.get("User-Agent", "")
    ):
        services.article_open_record(article_id=article.pk, rule_id=rule_id, step_id=step_id)
    response = redirect(article.url)
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"
    return response


@require_safe
def media_serve(request, schema, path):
    """An uploaded image of the tenant whose domain this is. Another tenant's folder is a 404
    whatever the path says."""
    path = posixpath.normpath(path)
    if schema != connection.schema_name or not path.startswith(MEDIA_PREFIXES):
        raise Http404
    try:
        handle = default_storage.open(path, "rb")
    except (FileNotFoundError, IsADirectoryError, SuspiciousFileOperation) as exc:
        raise Http404 from exc
    content_type = mimetypes.guess_type(path)[0] or "application/octet-stream"
    if not content_type.startswith("image/") or content_type == "image/svg+xml":
        handle.close()
        raise Http404
    response = FileResponse(handle, content_type=content_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "public, max-age=86400"
    return response


@login_required
@permission_required("wagtailadmin.access_admin", raise_exception=True)
def reach(request):
    days = 90
    return render(
        request,
        "cms/reach.html",
        {"rows": selectors.article_reach(days=days), "days": days},
    )

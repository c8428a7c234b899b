from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CmsConfig(AppConfig):
    name = "cms"
    verbose_name = _("Health education")

    def ready(self):
        # Cache purge only (no business logic): any change to what patients see retires the
        # tenant's cached pages.
        from django.db.models.signals import post_delete, post_save
        from wagtail.models import Page
        from wagtail.signals import (
            page_published,
            page_slug_changed,
            page_unpublished,
            post_page_move,
        )

        from .pagecache import pages_changed

        page_published.connect(pages_changed, dispatch_uid="cms-pages-published")
        page_unpublished.connect(pages_changed, dispatch_uid="cms-pages-unpublished")
        page_slug_changed.connect(pages_changed, dispatch_uid="cms-pages-slug")
        post_page_move.connect(pages_changed, dispatch_uid="cms-pages-moved")
        post_delete.connect(pages_changed, sender=Page, dispatch_uid="cms-pages-deleted")
        # A replaced image gets new rendition files; a privacy change alters who sees a page.
        from wagtail.images import get_image_model
        from wagtail.models import PageViewRestriction

        for model in (get_image_model(), PageViewRestriction):
            post_save.connect(pages_changed, sender=model, dispatch_uid=f"cms-{model.__name__}")
            post_delete.connect(pages_changed, sender=model, dispatch_uid=f"cms-{model.__name__}-d")

"""Writes of the cms app, inside the current tenant's schema: the patient site and its starter
articles, the editors' Wagtail permissions, and counting article opens."""

from django.conf import settings
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from wagtail.models import (
    Collection,
    GroupCollectionPermission,
    GroupPagePermission,
    Page,
    ReferenceIndex,
    Site,
)
from wagtail.search.models import IndexEntry

from crm.models import FollowUpRule, RuleStep
from crm.roles import Role
from saas import clock

from . import pagecache, starter
from .models import ArticleIndexPage, ArticleOpen, ArticlePage, HomePage
from .permissions import COLLECTION_PERMISSIONS, PAGE_PERMISSIONS


def _permission(name: str) -> Permission:
    app_label, codename = name.split(".", 1)
    return Permission.objects.get(content_type__app_label=app_label, codename=codename)


def editor_permissions_sync() -> None:
    """Give the role groups exactly the page and collection permissions above, on the whole
    tree and the root collection; drop Wagtail's own default groups (Editors, Moderators),
    which would only confuse our five roles."""
    Group.objects.filter(name__in=["Editors", "Moderators"]).delete()
    root = Page.get_first_root_node()
    collection = Collection.get_first_root_node()
    roles = list(Group.objects.filter(name__in=Role.values))
    GroupPagePermission.objects.filter(group__in=roles).delete()
    GroupCollectionPermission.objects.filter(group__in=roles).delete()
    for group in roles:
        GroupPagePermission.objects.bulk_create(
            GroupPagePermission(group=group, page=root, permission=_permission(p))
            for p in PAGE_PERMISSIONS.get(group.name, [])
        )
        GroupCollectionPermission.objects.bulk_create(
            GroupCollectionPermission(group=group, collection=collection, permission=_permission(p))
            for p in COLLECTION_PERMISSIONS.get(group.name, [])
        )


def _body(paragraphs: list[str], warning_title: str, warning_items: list[str]) -> list[dict]:
    from django.utils.html import escape

    blocks = [{"type": "paragraph", "value": f"<p>{escape(p)}</p>"} for p in paragraphs]
    items = "".join(f"<li>{escape(item)}</li>" for item in warning_items)
    blocks.append(
        {"type": "callout", "value": {"title": warning_title, "text": f"<ul>{items}</ul>"}}
    )
    return blocks


def _live(**fields) -> dict:
    now = clock.now()
    return {"live": True, "first_published_at": now, "last_published_at": now, **fields}


def patient_site_seed(*, rebuild: bool = False) -> HomePage:
    """Build the two language trees with every kind's starter articles (Wagtail's "Welcome"
    page goes). Without ``rebuild``, an existing tree is kept: this runs after provisioning by
    migrations. The template schema is rebuilt at every ``migrate``, so that a change to
    cms/starter.py reaches the tenants cloned after it."""
    existing = HomePage.objects.filter(depth=2).first()
    if existing is not None and not rebuild:
        return existing
    root = Page.get_first_root_node()
    Page.objects.filter(depth=2).delete()
    homes = {}
    for language in ("zh-hans", "en"):
        text = starter.HOME[language]
        parent = root if language == "zh-hans" else homes["zh-hans"]
        home = parent.add_child(
            instance=HomePage(
                **_live(
                    title=text["title"],
                    slug="home" if language == "zh-hans" else "en",
                    language=language,
                    clinic_name="",
                    intro=f"<p>{text['intro']}</p>",
                    opening_hours=text["hours"],
                )
            )
        )
        homes[language] = home
        index_page = home.add_child(
            instance=ArticleIndexPage(
                **_live(
                    title=text["index_title"],
                    slug="articles",
                    intro=f"<p>{text['index_intro']}</p>",
                )
            )
        )
        for item in starter.ARTICLES:
            title, summary, paragraphs, warning_title, warning_items = item[language]
            index_page.add_child(
                instance=ArticlePage(
                    **_live(
                        title=title,
                        slug=item["slug"],
                        summary=summary,
                        body=_body(paragraphs, warning_title, warning_items),
                        department_codes=item["departments"],
                        procedures=item["procedures"],
                        diagnosis_codes=item["codes"],
                        audience=item["audience"],
                        starter_kinds=item["kinds"],
                    )
                )
            )
    Site.objects.all().delete()
    Site.objects.create(
        hostname="localhost", port=80, root_page=homes["zh-hans"], is_default_site=True
    )
    return homes["zh-hans"]


def _site_port() -> int:
    if settings.TENANT_URL_PORT:
        return int(settings.TENANT_URL_PORT)
    return 443 if settings.TENANT_URL_SCHEME == "https" else 80


def _starter_articles_prune(kind: str) -> None:
    """Delete the seeded starter articles of other kinds from a fresh clone. They are leaves
    nobody has touched (no revisions, logs, comments or workflows), so their rows go directly:
    Wagtail's page deletion (unpublish, signals, reference index) costs ~10 ms a page, which
    provisioning cannot afford. Deferred foreign keys would fail the provisioning transaction
    if anything still pointed at them."""
    doomed = list(
        ArticlePage.objects.exclude(starter_kinds=[])
        .exclude(starter_kinds__contains=[kind])
        .values_list("pk", flat=True)
    )
    if not doomed:
        return
    object_ids = [str(pk) for pk in doomed]
    page_types = ContentType.objects.get_for_models(Page, ArticlePage).values()
    IndexEntry.objects.filter(content_type__in=page_types, object_id__in=object_ids).delete()
    ReferenceIndex.objects.filter(
        Q(base_content_type__in=page_types, object_id__in=object_ids)
        | Q(to_content_type__in=page_types, to_object_id__in=object_ids)
    ).delete()
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM cms_articlepage WHERE page_ptr_id = ANY(%s)", [doomed])
        cursor.execute("DELETE FROM wagtailcore_page WHERE id = ANY(%s)", [doomed])
    for index_page in ArticleIndexPage.objects.all():
        Page.objects.filter(pk=index_page.pk).update(
            numchild=Page.objects.child_of(index_page).count()
        )


def patient_site_prepare(*, kind: str, locale: str) -> None:
    """Preset step: keep the starter articles of this tenant's kind, name the clinic on its
    home pages, and point the Wagtail Site at the tenant's own address."""
    tenant = connection.tenant
    if not HomePage.objects.exists():  # a schema made by migrations, not cloned
        patient_site_seed()
        editor_permissions_sync()
    _starter_articles_prune(kind)
    HomePage.objects.update(clinic_name=tenant.name)
    Site.objects.filter(is_default_site=True).update(
        hostname=tenant.primary_host, port=_site_port(), site_name=tenant.name
    )
    Site.clear_site_root_paths_cache()
    pagecache.pages_changed()


def patient_site_ensure(*, kind: str, locale: str) -> None:
    """A clinic created before the patient site existed gets it (run by ``migrate``)."""
    if not HomePage.objects.exists():
        patient_site_prepare(kind=kind, locale=locale)


def article_open_record(*, article_id: int, rule_id: int | None, step_id: int | None) -> None:
    """Count one open of an article from a tracked link, today (tenant's day)."""

    # Ids come from a signed token, but the rule or step may have been deleted since.
    rule_id = rule_id if FollowUpRule.objects.filter(pk=rule_id).exists() else None
    step_id = step_id if RuleStep.objects.filter(pk=step_id).exists() else None
    key = {"article_id": article_id, "rule_id": rule_id, "step_id": step_id}
    key["day"] = clock.today()
    if ArticleOpen.objects.filter(**key).update(count=F("count") + 1):
        return
    try:
        with transaction.atomic():
            ArticleOpen.objects.create(**key, count=1)
    except IntegrityError:  # a simultaneous first open made the row
        ArticleOpen.objects.filter(**key).update(count=F("count") + 1)

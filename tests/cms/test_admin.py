"""The Wagtail admin on each tenant's domain: who gets in, and that one clinic's editors never
see, change or fetch another clinic's pages, images or documents."""

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, connection, transaction
from wagtail.documents import get_document_model
from wagtail.documents.models import Document
from wagtail.images import get_image_model
from wagtail.images.models import Image
from wagtail.models import Page
from wagtail.permissions import policy_registry

from cms.models import ArticleIndexPage, ArticlePage, HomePage
from tests.conftest import login
from tests.factories import StaffFactory

from .conftest import png_bytes


def _add_article(title, slug):
    home = HomePage.objects.get(language="zh-hans")
    index = ArticleIndexPage.objects.child_of(home).get()
    article = index.add_child(instance=ArticlePage(title=title, slug=slug, summary="s"))
    article.save_revision().publish()
    return article


def test_admin_opens_the_wagtail_admin_on_their_domain(admin_client_a):
    response = admin_client_a.get("/cms/admin/")

    assert response.status_code == 200


def test_anonymous_is_sent_to_our_sign_in_page(client_a):
    response = client_a.get("/cms/admin/pages/")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/cms/admin/pages/")


def test_agent_is_refused_without_a_redirect_loop(client_a, agent_a):
    login(client_a, "agent@alpha.test")

    response = client_a.get("/cms/admin/")

    assert response.status_code == 403


def test_only_administrators_edit_and_publish(tenant_a, in_tenant):
    with in_tenant(tenant_a):
        admin = StaffFactory(role="admin")
        supervisor = StaffFactory(role="supervisor")
        article = ArticlePage.objects.filter(depth=4).first()
        admin_perms = article.permissions_for_user(admin)
        supervisor_perms = article.permissions_for_user(supervisor)
        image_policy = policy_registry.get_by_type(get_image_model())
        document_policy = policy_registry.get_by_type(get_document_model())

        assert admin_perms.can_edit() and admin_perms.can_publish()
        assert not supervisor_perms.can_edit() and not supervisor_perms.can_publish()
        assert image_policy.user_has_permission(admin, "add")
        assert document_policy.user_has_permission(admin, "change")
        assert not image_policy.user_has_permission(supervisor, "add")
        assert not document_policy.user_has_permission(supervisor, "choose")
        assert not admin.has_perm("wagtailcore.change_site")


def test_admin_of_one_tenant_cannot_see_or_edit_another_tenants_page(
    admin_client_a, admin_client_b, tenant_a, tenant_b, in_tenant
):
    with in_tenant(tenant_a):
        alpha_max = max(Page.objects.values_list("pk", flat=True))
    with in_tenant(tenant_b), connection.cursor() as cursor:
        # Page ids start equal in every clone of the template: make sure alpha has no page
        # with the id beta's new page gets, so a 404 below means "not found in alpha".
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence('wagtailcore_page', 'id'), %s)",
            [alpha_max + 1000],
        )
        secret = _add_article("Beta 内部文章", "beta-only")

    edit_on_a = admin_client_a.get(f"/cms/admin/pages/{secret.pk}/edit/")
    search_on_a = admin_client_a.get("/cms/admin/pages/search/", {"q": "Beta 内部文章"})
    post_on_a = admin_client_a.post(
        f"/cms/admin/pages/{secret.pk}/edit/", {"title": "changed by alpha", "slug": "x"}
    )
    edit_on_b = admin_client_b.get(f"/cms/admin/pages/{secret.pk}/edit/")

    assert edit_on_a.status_code == 404
    assert f"/cms/admin/pages/{secret.pk}/" not in search_on_a.text
    assert post_on_a.status_code == 404
    assert edit_on_b.status_code == 200
    with in_tenant(tenant_b):
        assert ArticlePage.objects.get(pk=secret.pk).title == "Beta 内部文章"


def test_a_session_of_one_tenant_means_nothing_on_another(admin_client_b, client_a):
    client_a.cookies = admin_client_b.cookies  # replaying beta's cookie on alpha's host

    response = client_a.get("/cms/admin/")

    assert response.status_code == 302


def test_images_are_stored_and_served_per_tenant(
    admin_client_a, admin_client_b, client_a, client_b, tenant_a, tenant_b, in_tenant, settings
):
    response = admin_client_b.post(
        "/cms/admin/images/add/",
        {
            "title": "Beta X-ray",
            "file": SimpleUploadedFile("xray.png", png_bytes(), content_type="image/png"),
            "collection": 1,
        },
    )
    assert response.status_code == 302
    with in_tenant(tenant_b):
        image = Image.objects.get(title="Beta X-ray")
        url = image.file.url
        path = image.file.path
        rendition_url = image.get_rendition("width-20").url

    assert url.startswith("/media/beta/original_images/")
    assert path.startswith(str(settings.MEDIA_ROOT / "beta") + "/")
    assert client_b.get(url).status_code == 200
    assert client_b.get(rendition_url).status_code == 200
    assert client_a.get(url).status_code == 404
    assert client_a.get(rendition_url).status_code == 404
    assert client_a.get(url.replace("/media/beta/", "/media/alpha/")).status_code == 404
    assert client_a.get("/media/alpha/../beta/" + url.split("/media/beta/")[1]).status_code == 404
    with in_tenant(tenant_b):
        home = HomePage.objects.get(language="zh-hans")
        index = ArticleIndexPage.objects.child_of(home).get()
        article = index.add_child(
            instance=ArticlePage(
                title="带图片的文章",
                slug="with-image",
                summary="s",
                body=[
                    {
                        "type": "paragraph",
                        "value": f'<p>图片：</p><embed embedtype="image" id="{image.pk}" '
                        'format="left" alt="X 光片"/>',
                    }
                ],
            )
        )
        article.save_revision().publish()
    page_on_b = client_b.get("/health/articles/with-image/")
    src = page_on_b.text.split('alt="X 光片"')[1].split('src="', 1)[1].split('"')[0]
    assert src.startswith("/media/beta/images/")
    assert client_b.get(src).status_code == 200
    assert client_a.get(src).status_code == 404
    listing_on_a = admin_client_a.get("/cms/admin/images/")
    assert "Beta X-ray" not in listing_on_a.text
    assert admin_client_a.get(f"/cms/admin/images/{image.pk}/").status_code == 404
    with in_tenant(tenant_a):
        assert not Image.objects.filter(title="Beta X-ray").exists()


def test_documents_are_served_through_wagtail_per_tenant(
    admin_client_b, admin_client_a, client_a, client_b, tenant_b, in_tenant
):
    response = admin_client_b.post(
        "/cms/admin/documents/add/",
        {
            "title": "Beta leaflet",
            "file": SimpleUploadedFile("leaflet.txt", "Beta 的宣教单".encode(), "text/plain"),
            "collection": 1,
        },
    )
    assert response.status_code == 302
    with in_tenant(tenant_b):
        document = Document.objects.get(title="Beta leaflet")
        url = document.url
        stored = document.file.name

    on_b = client_b.get(url)
    assert url == f"/cms/documents/{document.pk}/{document.filename}"
    assert stored.startswith("documents/leaflet")
    assert on_b.status_code == 200
    assert b"".join(on_b.streaming_content).decode() == "Beta 的宣教单"
    assert client_a.get(url).status_code == 404
    assert client_a.get(f"/media/beta/{stored}").status_code == 404
    assert client_b.get(f"/media/beta/{stored}").status_code == 404  # only through Wagtail's view
    assert "Beta leaflet" not in admin_client_a.get("/cms/admin/documents/").text


def test_a_forbidden_document_type_is_refused_with_a_clear_message(
    admin_client_a, tenant_a, in_tenant
):
    admin_client_a.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    with in_tenant(tenant_a):
        before = Document.objects.count()

    response = admin_client_a.post(
        "/cms/admin/documents/add/",
        {
            "title": "Tool",
            "file": SimpleUploadedFile("setup.exe", b"MZ\x90\x00", "application/octet-stream"),
            "collection": 1,
        },
    )

    assert response.status_code == 200
    assert (
        "File extension “exe” is not allowed. Allowed extensions are: "
        "csv, docx, odt, pdf, pptx, rtf, txt, xlsx." in response.text
    )
    with in_tenant(tenant_a):
        assert Document.objects.count() == before


def test_an_svg_image_is_refused_with_a_clear_message(admin_client_a, tenant_a, in_tenant):
    admin_client_a.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'

    response = admin_client_a.post(
        "/cms/admin/images/add/",
        {
            "title": "Logo",
            "file": SimpleUploadedFile("logo.svg", svg, "image/svg+xml"),
            "collection": 1,
        },
    )

    assert response.status_code == 200
    assert "Not a supported image format. Supported formats: GIF, JPG, JPEG, PNG, WEBP." in (
        response.text
    )
    with in_tenant(tenant_a):
        assert not Image.objects.filter(title="Logo").exists()


def test_wagtail_user_and_group_screens_are_hidden(admin_client_a):
    response = admin_client_a.get("/cms/admin/")

    assert 'href="/cms/admin/users/"' not in response.text
    assert 'href="/cms/admin/groups/"' not in response.text


def test_the_article_editor_offers_the_clinics_departments(admin_client_a, tenant_a, in_tenant):
    with in_tenant(tenant_a):
        article = ArticlePage.objects.get(slug="postpartum-check", depth=4)

    response = admin_client_a.get(f"/cms/admin/pages/{article.pk}/edit/")

    assert response.status_code == 200
    field = response.context["form"].fields["department_codes"]
    assert ("obstetrics", "产科") in field.choices
    assert response.context["form"].initial["department_codes"] == ["obstetrics"]
    assert 'value="obstetrics"' in response.text


def test_articles_live_only_under_an_article_list():
    assert ArticlePage.allowed_parent_page_models() == [ArticleIndexPage]
    assert ArticleIndexPage.allowed_parent_page_models() == [HomePage]
    assert ArticlePage.allowed_subpage_models() == []


# --- Staff are CareBridge's to manage, not Wagtail's (issue 18) ---------------------------


def test_wagtails_user_group_and_site_screens_do_not_exist_for_a_clinic(
    admin_client_a, tenant_a, in_tenant
):
    with in_tenant(tenant_a):
        staff_before = get_user_model().objects.count()
        some_user = get_user_model().objects.first()

    for path in (
        "/cms/admin/users/",
        "/cms/admin/users/new/",
        f"/cms/admin/users/edit/{some_user.pk}/",
        "/cms/admin/groups/",
        "/cms/admin/groups/new/",
        "/cms/admin/sites/",
    ):
        assert admin_client_a.get(path).status_code == 404, path
    made = admin_client_a.post(
        "/cms/admin/users/new/",
        {
            "username": "root@alpha.test",
            "email": "root@alpha.test",
            "first_name": "Root",
            "last_name": "User",
            "password1": "Another-pass-2026",
            "password2": "Another-pass-2026",
            "is_superuser": "on",
        },
    )

    assert made.status_code == 404
    with in_tenant(tenant_a):
        assert get_user_model().objects.count() == staff_before
    menu = admin_client_a.get("/cms/admin/").content.decode()
    for closed in ("/cms/admin/users/", "/cms/admin/groups/", "/cms/admin/sites/"):
        assert closed not in menu


def test_the_database_refuses_a_superuser_in_a_clinics_schema_but_not_the_vendors(
    tenant_a, in_tenant
):
    with in_tenant(tenant_a):
        staff = StaffFactory(role="admin")
        staff.is_superuser = True
        with (
            pytest.raises(IntegrityError, match="clinic_staff_not_superuser"),
            transaction.atomic(),
        ):
            staff.save()
        staff.refresh_from_db()
        assert not staff.is_superuser

    vendor = get_user_model().objects.create_superuser("vendor@carebridge.test", password="x")
    assert connection.schema_name == "public" and vendor.is_superuser


def test_the_admin_sends_no_staff_email_hash_to_gravatar(admin_client_a):
    page = admin_client_a.get("/cms/admin/").content.decode()

    assert "gravatar" not in page.lower()

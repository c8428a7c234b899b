"""The patient site of each tenant: its tree, Site, starter articles, languages, publishing,
broken embeds and the per-tenant page cache."""

import pytest
from django.conf import settings
from wagtail.models import Site

from cms.models import ArticleIndexPage, ArticlePage, HomePage
from tests.conftest import ALPHA, BETA


def _article(index, **fields):
    defaults = {"title": "测试文章", "slug": "test-article", "summary": "摘要"}
    article = index.add_child(instance=ArticlePage(**{**defaults, **fields}))
    article.save_revision().publish()
    return article


def _index(language="zh-hans"):
    home = HomePage.objects.get(language=language)
    return ArticleIndexPage.objects.child_of(home).get()


def test_each_tenant_site_points_at_its_own_domain_and_home(tenant_a, tenant_b, in_tenant):
    with in_tenant(tenant_a):
        site = Site.objects.get()
        assert (site.hostname, site.site_name) == (f"{ALPHA}.{settings.BASE_DOMAIN}", tenant_a.name)
        assert site.is_default_site
        assert site.root_page.specific.clinic_name == "Alpha 人民医院"
    with in_tenant(tenant_b):
        site = Site.objects.get()
        assert site.hostname == f"{BETA}.{settings.BASE_DOMAIN}"
        assert site.root_page.specific.clinic_name == "Beta Dental"


def test_starter_articles_follow_the_tenant_kind_in_both_languages(tenant_a, tenant_b, in_tenant):
    with in_tenant(tenant_a):
        starters = ArticlePage.objects.exclude(starter_kinds=[])
        hospital = sorted(set(starters.values_list("slug", flat=True)))
        assert starters.live().count() == 2 * len(hospital)
    with in_tenant(tenant_b):
        starters = ArticlePage.objects.exclude(starter_kinds=[])
        dental = sorted(set(starters.values_list("slug", flat=True)))
        assert starters.live().count() == 2 * len(dental)

    assert hospital == [
        "discharge-home-care",
        "postpartum-check",
        "vaccination-reminder",
        "wound-care-after-surgery",
    ]
    assert dental == ["post-extraction-care"]


def test_patient_reads_the_home_page_and_a_starter_article(client_a):
    home = client_a.get("/health/")
    article = client_a.get("/health/articles/discharge-home-care/")

    assert home.status_code == 200
    assert "Alpha 人民医院" in home.text
    assert "出院后居家护理须知" in home.text
    assert article.status_code == 200
    assert "按时服药" in article.text
    assert "阅读约 1 分钟" in article.text
    assert '<html lang="zh-hans">' in article.text


def test_english_visitor_of_a_chinese_clinic_is_sent_to_the_english_tree(client_a):
    client_a.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"

    response = client_a.get("/health/")
    english = client_a.get(response["Location"])

    assert response.status_code == 302
    assert response["Location"] == "/health/en/"
    assert "Caring for yourself at home after discharge" in english.text
    assert "1 minute read" in client_a.get("/health/en/articles/discharge-home-care/").text


def test_an_unpublished_article_is_not_reachable_by_patients(client_a, tenant_a, in_tenant):
    with in_tenant(tenant_a):
        article = ArticlePage.objects.get(slug="vaccination-reminder", depth=4)
        before = client_a.get("/health/articles/vaccination-reminder/")
        article.unpublish()

    after = client_a.get("/health/articles/vaccination-reminder/")
    listing = client_a.get("/health/articles/")

    assert before.status_code == 200
    assert after.status_code == 404
    assert "宝宝疫苗接种提醒" not in listing.text
    with in_tenant(tenant_a):
        assert ArticlePage.objects.filter(slug="vaccination-reminder").count() == 2


def test_a_draft_is_never_served(client_a, tenant_a, in_tenant):
    with in_tenant(tenant_a):
        draft = _index().add_child(
            instance=ArticlePage(title="草稿", slug="draft", summary="未发布", live=False)
        )
        assert not draft.live

    assert client_a.get("/health/articles/draft/").status_code == 404


def test_a_broken_rich_text_embed_does_not_break_the_page(client_a, tenant_a, in_tenant):
    broken = (
        "<p>开头的文字</p>"
        '<embed embedtype="media" url="https://video.invalid/watch?v=nothing"/>'
        '<embed embedtype="image" id="987654" format="fullwidth" alt="gone"/>'
        '<embed embedtype="no-such-type" id="1"/>'
        "<p>结尾的文字</p>"
    )
    with in_tenant(tenant_a):
        _article(
            _index(),
            slug="broken-embeds",
            body=[
                {"type": "paragraph", "value": broken},
                {"type": "video", "value": "https://video.invalid/v/123"},
            ],
        )

    response = client_a.get("/health/articles/broken-embeds/")

    assert response.status_code == 200
    assert "开头的文字" in response.text
    assert "结尾的文字" in response.text


def test_bilibili_and_video_files_embed_without_a_third_party_call(client_a, tenant_a, in_tenant):
    with in_tenant(tenant_a):
        _article(
            _index(),
            slug="videos",
            body=[
                {"type": "video", "value": "https://www.bilibili.com/video/BV1xx411c7mD"},
                {"type": "video", "value": "https://cdn.example.com/care/wound.mp4"},
            ],
        )

    response = client_a.get("/health/articles/videos/")

    assert "player.bilibili.com/player.html?bvid=BV1xx411c7mD" in response.text
    assert (
        '<video controls preload="metadata" playsinline src="https://cdn.example.com/care/wound.mp4"'
        in response.text
    )


def test_pages_are_cached_per_tenant_and_purged_on_publish(
    client_a, client_b, tenant_a, tenant_b, in_tenant
):
    with in_tenant(tenant_a):
        _article(_index(), slug="same-slug", title="Alpha 的文章")
    with in_tenant(tenant_b):
        _article(_index(), slug="same-slug", title="Beta article")

    first_a = client_a.get("/health/articles/same-slug/")
    first_b = client_b.get("/health/articles/same-slug/")
    with in_tenant(tenant_a):
        article = ArticlePage.objects.get(slug="same-slug")
        article.title = "Alpha 改过的标题"
        article.save_revision().publish()
    second_a = client_a.get("/health/articles/same-slug/")
    second_b = client_b.get("/health/articles/same-slug/")

    assert "Alpha 的文章" in first_a.text and "Beta" not in first_a.text
    assert "Beta article" in first_b.text and "Alpha" not in first_b.text
    assert "Alpha 改过的标题" in second_a.text
    assert "Beta article" in second_b.text


def test_cached_page_keys_carry_the_tenant(client_a, tenant_a):
    from django.core.cache import cache

    client_a.get("/health/")

    keys = list(cache._cache.keys())
    assert keys
    assert all(key.startswith(f":1:{ALPHA}:") or key.split(":")[0] == ALPHA for key in keys)


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("换药", "术后伤口护理"),
        ("伤口 拆线", "术后伤口护理"),
        ("护理伤口", None),
        ("按时服药", "出院后居家护理须知"),
        ("疫苗", "宝宝疫苗接种提醒"),
    ],
)
def test_chinese_search_finds_words_inside_sentences(client_a, query, found):
    response = client_a.get("/health/articles/", {"q": query})

    assert response.status_code == 200
    titles = [a.title for a in response.context["articles"]]
    assert titles == ([found] if found else [])


def test_procedure_filter_matches_part_of_a_tag(client_b):
    response = client_b.get("/health/en/articles/", {"procedure": "extract"})

    assert [a.title for a in response.context["articles"]] == ["After a tooth extraction"]


def test_english_search_and_tag_filters(client_a):
    searched = client_a.get("/health/en/articles/", {"q": "wound dressing"})
    by_department = client_a.get("/health/en/articles/", {"department": "obstetrics"})
    by_audience = client_a.get("/health/en/articles/", {"audience": "parent"})
    by_procedure = client_a.get("/health/articles/", {"procedure": "剖宫"})

    assert [a.title for a in searched.context["articles"]] == [
        "Caring for your wound after surgery"
    ]
    assert [a.title for a in by_department.context["articles"]] == [
        "Your check-up 42 days after giving birth"
    ]
    assert [a.title for a in by_audience.context["articles"]] == ["Your baby's vaccinations"]
    assert [a.title for a in by_procedure.context["articles"]] == []


def test_search_stays_inside_the_tenant(client_b):
    # Alpha (a hospital) has the vaccination article; Beta (dental) does not.
    response = client_b.get("/health/articles/", {"q": "疫苗"})

    assert response.status_code == 200
    assert list(response.context["articles"]) == []


def test_provisioning_leaves_a_sound_tree(tenant_a, tenant_b, in_tenant):
    from wagtail.models import Page

    for tenant in (tenant_a, tenant_b):
        with in_tenant(tenant):
            assert [list(problem) for problem in Page.find_problems()] == [[], [], [], [], []]


def test_featured_articles_come_first_on_the_home_page(client_a, tenant_a, in_tenant):
    with in_tenant(tenant_a):
        home = HomePage.objects.get(language="zh-hans")
        featured = ArticlePage.objects.get(slug="postpartum-check", depth=4)
        home.featured = [("article", featured)]
        home.phone = "010-12345678"
        home.save_revision().publish()

    response = client_a.get("/health/")

    assert response.context["featured_articles"] == [featured]
    assert featured not in response.context["latest_articles"]
    assert 'href="tel:010-12345678"' in response.text


def test_an_english_clinic_opens_on_its_english_tree(client_b):
    response = client_b.get("/health/")

    assert (response.status_code, response["Location"]) == (302, "/health/en/")
    assert "Beta Dental" in client_b.get("/health/en/").text


def test_replacing_an_image_retires_the_cached_pages(client_a, tenant_a, in_tenant):
    from django.core.cache import cache

    from cms.pagecache import GENERATION_KEY

    client_a.get("/health/")
    with in_tenant(tenant_a):
        before = cache.get(GENERATION_KEY)
        from django.core.files.base import ContentFile
        from wagtail.images.models import Image

        from .conftest import png_bytes

        Image.objects.create(title="logo", file=ContentFile(png_bytes(), name="logo.png"))
        after = cache.get(GENERATION_KEY)

    assert before is not None and after != before


def test_migrate_gives_a_clinic_without_a_patient_site_its_site(tenant_b, in_tenant):
    from wagtail.models import Page

    from tenants.release import release_run

    with in_tenant(tenant_b):
        Page.objects.filter(depth=2).delete()  # as a clinic made before issue 7
        assert not HomePage.objects.exists()
    tenant_b.sync_fingerprint = ""  # a clinic made before releases recorded their work
    tenant_b.save()

    release_run(processes=1)

    with in_tenant(tenant_b):
        assert sorted(ArticlePage.objects.values_list("slug", flat=True)) == [
            "post-extraction-care",
            "post-extraction-care",
        ]
        assert Site.objects.get().hostname == f"{BETA}.{settings.BASE_DOMAIN}"


def test_the_language_link_of_an_english_clinic_reaches_the_chinese_tree(client_b):
    english = client_b.get("/health/en/")

    assert 'href="/health/?lang=zh-hans"' in english.text
    chinese = client_b.get("/health/", {"lang": "zh-hans"})
    assert chinese.status_code == 200
    assert "拔牙后注意事项" in chinese.text

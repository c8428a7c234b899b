"""Health education in a browser: the administrator of an aesthetic clinic writes a post-op
care article in Chinese in the Wagtail admin, tags it with a procedure and publishes it; the
day-3 follow-up of that procedure carries its tracked link; a patient opens it on a phone.

It runs in a clinic of its own, provisioned for this module and dropped afterwards, because
everything the live server writes is committed."""

from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from tenants.services import tenant_provision
from tests.conftest import committed, committed_tenant
from tests.e2e.test_shell import sign_in
from tests.factories import ContactFactory, EncounterFactory, StaffFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db]

SLUG = "e2e-cms"
TITLE = "双眼皮术后第三天护理"


@pytest.fixture(scope="module")
def clinic(django_db_setup, django_db_blocker):
    def create():
        tenant = tenant_provision(
            name="E2E 医美诊所", slug=SLUG, kind="aesthetic", admin_email="owner@e2e-cms.test"
        ).tenant
        with tenant_context(tenant):
            StaffFactory(email="admin@e2e-cms.test", role="admin")
        return tenant

    yield from committed_tenant(django_db_blocker, create)


def _day3_task_articles(tenant):
    """Plan a double-eyelid operation three days ago under the preset surgery rule, whose
    day-3 step sends the articles matching the encounter; return that task's articles."""
    from cms.selectors import articles_for_task
    from crm.models import FollowUpTask, RuleStep
    from crm.services.planning import encounters_plan

    with tenant_context(tenant):
        step = RuleStep.objects.filter(rule__match_kinds__contains=["surgery"], offset_days=3)
        step = step.order_by("rule__position", "id").first()
        step.articles_matching = True
        step.save()
        encounter = EncounterFactory(
            kind="surgery",
            procedure="双眼皮手术",
            contact=ContactFactory(name="李女士", phone="+8613900139000"),
            occurred_at=timezone.now() - timedelta(days=3),
        )
        encounters_plan([encounter.pk])
        task = FollowUpTask.objects.get(encounter=encounter, step=step)
        return [(item.title, item.url) for item in articles_for_task(task)]


def test_admin_writes_tags_and_publishes_a_chinese_article_a_patient_reads_it_on_a_phone(
    clinic, page, phone_page, tenant_url, screenshot
):
    """The issue's "done when", end to end."""
    sign_in(page, tenant_url(SLUG, "/accounts/login/?next=/cms/admin/"), "admin@e2e-cms.test")
    page.wait_for_url("**/cms/admin/")
    page.goto(tenant_url(SLUG, "/cms/admin/pages/"))
    index_id = committed(_index_id, clinic)
    page.goto(tenant_url(SLUG, f"/cms/admin/pages/add/cms/articlepage/{index_id}/"))

    page.fill("#id_title", TITLE)
    page.fill("#id_summary", "术后第三天如何护理伤口、冷敷和饮食。")
    page.locator("button.c-sf-add-button").first.click()
    page.get_by_role("option", name="正文").first.click()
    editor = page.locator(".public-DraftEditor-content").first
    editor.click()
    page.keyboard.type("术后第三天肿胀最明显，请继续冷敷，每次十五分钟。")
    # Draftail writes the text into the form a moment after typing stops.
    page.wait_for_function(
        "() => [...document.querySelectorAll('input[name^=\"body-\"]')]"
        ".some(input => input.value.includes('请继续冷敷'))"
    )
    page.get_by_role("tab", name="标签").click()
    page.fill("#id_procedures", "双眼皮")
    screenshot(page, "cms-admin-article-tags")
    page.locator("footer [data-w-dropdown-target='toggle']").first.click()
    page.locator("button[name='action-publish']").click()
    page.wait_for_url("**/cms/admin/pages/*/")
    screenshot(page, "cms-admin-published")

    links = committed(_day3_task_articles, clinic)
    assert TITLE in [title for title, _url in links]
    tracked = dict(links)[TITLE]
    assert "李女士" not in tracked and "13900139000" not in tracked

    phone = phone_page
    phone.goto(tenant_url(SLUG, urlsplit(tracked).path))
    assert phone.locator("h1").inner_text() == TITLE
    assert "请继续冷敷" in phone.locator("article").inner_text()
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(phone, "cms-article-phone")
    assert committed(_opens, clinic) == 1

    phone.emulate_media(media="print")  # prints as plain text: no buttons or links to other pages
    assert not phone.locator("button.print").is_visible()
    assert not phone.locator(".crumbs").is_visible()
    assert phone.locator(".print-note").is_visible()


def _index_id(tenant):
    from cms.models import ArticleIndexPage, HomePage

    with tenant_context(tenant):
        home = HomePage.objects.get(depth=2)
        return ArticleIndexPage.objects.child_of(home).get().pk


def _opens(tenant):
    from cms.models import ArticleOpen

    with tenant_context(tenant):
        return sum(o.count for o in ArticleOpen.objects.filter(article__title=TITLE))

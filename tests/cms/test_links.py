"""Articles sent with follow-ups: which articles a task carries, the tracked link, counting
opens per article and rule, and the agent's call page."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from cms.links import link_token
from cms.models import ArticleOpen, ArticlePage
from cms.selectors import article_reach, articles_for_task, articles_matching
from crm.models import Department, Encounter, FollowUpRule, FollowUpTask
from crm.services.planning import encounters_plan
from tests.conftest import login
from tests.factories import ContactFactory, EncounterFactory, RuleFactory


def _zh(slug):
    return ArticlePage.objects.get(slug=slug, depth=4)


def _en(slug):
    return ArticlePage.objects.get(slug=slug, depth=5)


@pytest.fixture
def surgery_task(tenant_a, in_tenant):
    """A day-3 phone follow-up of a general-surgery patient of alpha; its step sends the
    discharge article and the articles matching the encounter."""
    connection.set_schema_to_public()
    tenant_a.calling_hours = [["00:00", "24:00"]]
    tenant_a.save()
    with in_tenant(tenant_a):
        FollowUpRule.objects.update(active=False)
        rule = RuleFactory(
            name="术后回访",
            match_kinds=["surgery"],
            steps=[{"offset_days": 0, "due_days": 3, "articles_matching": True}],
        )
        step = rule.steps.get()
        step.articles.set([_zh("discharge-home-care")])
        encounter = EncounterFactory(
            kind="surgery",
            contact=ContactFactory(name="张三", phone="+8613800138000"),
            department=Department.objects.get(code="general-surgery"),
            occurred_at=timezone.now() - timedelta(days=1),
        )
        encounters_plan([encounter.pk])
        return FollowUpTask.objects.get(encounter=encounter)


def test_a_task_carries_the_chosen_and_the_matching_articles(surgery_task, tenant_a, in_tenant):
    with in_tenant(tenant_a):
        items = articles_for_task(surgery_task)

        assert [i.title for i in items] == ["出院后居家护理须知", "术后伤口护理"]
        assert all(i.url.startswith("https://alpha.localhost/health/e/") for i in items)
        assert "张三" not in items[0].url and "13800138000" not in items[0].url


def test_matching_articles_come_in_the_patients_language(surgery_task, tenant_a, in_tenant):
    with in_tenant(tenant_a):
        surgery_task.contact.language = "en"
        surgery_task.contact.save()

        titles = [i.title for i in articles_for_task(surgery_task)]

    assert titles == ["出院后居家护理须知", "Caring for your wound after surgery"]


def test_procedure_and_diagnosis_tags_are_matched(tenant_b, tenant_a, in_tenant):
    with in_tenant(tenant_b):
        extraction = Encounter(procedure="下颌智齿拔牙", procedure_code="")
        coded = Encounter(procedure="Surgical tooth EXTRACTION", procedure_code="")
        other = Encounter(procedure="洁牙", procedure_code="")

        assert [a.slug for a in articles_matching(extraction, language="zh-hans")] == [
            "post-extraction-care"
        ]
        assert [a.title for a in articles_matching(coded, language="en")] == [
            "After a tooth extraction"
        ]
        assert articles_matching(other, language="zh-hans") == []
    with in_tenant(tenant_a):
        article = _zh("postpartum-check")
        article.diagnosis_codes = ["O80"]
        article.save_revision().publish()
        birth = Encounter(diagnosis_code="O80.001")
        caesarean = Encounter(diagnosis_code="O82")

        assert [a.slug for a in articles_matching(birth, language="zh-hans")] == [
            "postpartum-check"
        ]
        assert articles_matching(caesarean, language="zh-hans") == []


def test_opening_a_tracked_link_counts_per_article_and_rule(
    surgery_task, client_a, tenant_a, in_tenant
):
    with in_tenant(tenant_a):
        first, second = articles_for_task(surgery_task)
    path = first.url.removeprefix("https://alpha.localhost")

    opened = client_a.get(path)
    client_a.get(path)
    client_a.get(second.url.removeprefix("https://alpha.localhost"))

    assert opened.status_code == 302
    assert opened["Location"] == "/health/articles/discharge-home-care/"
    assert opened["Cache-Control"] == "no-store"
    assert not opened.cookies
    with in_tenant(tenant_a):
        counts = {
            (o.article.slug, o.rule_id, o.step_id): o.count for o in ArticleOpen.objects.all()
        }
        reach = article_reach()
    assert counts == {
        ("discharge-home-care", surgery_task.rule_id, surgery_task.step_id): 2,
        ("wound-care-after-surgery", surgery_task.rule_id, surgery_task.step_id): 1,
    }
    assert [(r.article.slug, r.rule_name, r.opens) for r in reach] == [
        ("discharge-home-care", "术后回访", 2),
        ("wound-care-after-surgery", "术后回访", 1),
    ]


def test_a_link_of_another_tenant_or_a_forged_one_is_refused_and_not_counted(
    surgery_task, client_a, client_b, tenant_a, tenant_b, in_tenant
):
    with in_tenant(tenant_a):
        url = articles_for_task(surgery_task)[0].url
        article_pk = _zh("discharge-home-care").pk
    with in_tenant(tenant_b):
        beta_token = link_token(article_id=article_pk, rule_id=None, step_id=None)
    path = url.removeprefix("https://alpha.localhost")

    on_b = client_b.get(path)
    beta_on_a = client_a.get(f"/health/e/{beta_token}/")
    forged = client_a.get(path[:-3] + "xx/")

    assert (on_b.status_code, beta_on_a.status_code, forged.status_code) == (404, 404, 404)
    with in_tenant(tenant_a):
        assert not ArticleOpen.objects.exists()
    with in_tenant(tenant_b):
        assert not ArticleOpen.objects.exists()


def test_a_link_to_an_unpublished_article_is_a_404_and_not_counted(
    surgery_task, client_a, tenant_a, in_tenant
):
    with in_tenant(tenant_a):
        url = articles_for_task(surgery_task)[0].url
        _zh("discharge-home-care").unpublish()

    response = client_a.get(url.removeprefix("https://alpha.localhost"))

    assert response.status_code == 404
    with in_tenant(tenant_a):
        assert not ArticleOpen.objects.exists()
        assert [i.title for i in articles_for_task(surgery_task)] == ["术后伤口护理"]


def test_the_call_page_shows_the_articles_with_a_link_to_copy(
    surgery_task, client_a, agent_a, tenant_a, in_tenant
):
    login(client_a, "agent@alpha.test")
    with in_tenant(tenant_a):
        urls = [i.url for i in articles_for_task(surgery_task)]

    response = client_a.get(f"/tasks/{surgery_task.pk}/")

    assert response.status_code == 200
    assert "出院后居家护理须知" in response.text
    for url in urls:
        assert f'value="{url}"' in response.text


def test_a_rule_step_saves_its_articles(client_a, admin_a, tenant_a, in_tenant):
    login(client_a, "admin@alpha.test")
    with in_tenant(tenant_a):
        rule = RuleFactory(name="Articles rule")
        step = rule.steps.get()
        wound = _zh("wound-care-after-surgery")
    form = client_a.get(f"/rules/{rule.pk}/").context["steps"]
    data = {
        "name": rule.name,
        "position": "0",
        "active": "on",
        "match_kinds": ["discharge"],
        "steps-TOTAL_FORMS": "1",
        "steps-INITIAL_FORMS": "1",
        "steps-MIN_NUM_FORMS": "0",
        "steps-MAX_NUM_FORMS": "1000",
        "steps-0-id": str(step.pk),
        "steps-0-rule": str(rule.pk),
        "steps-0-name": "Day 3",
        "steps-0-offset_days": "3",
        "steps-0-due_days": "3",
        "steps-0-grace_days": "7",
        "steps-0-channel": "phone",
        "steps-0-tier": "2",
        "steps-0-assignee_policy": "centre",
        "steps-0-max_attempts": "3",
        "steps-0-retry_gap_hours": "4",
        "steps-0-stop_when": "limit",
        "steps-0-articles": [str(wound.pk)],
        "steps-0-articles_matching": "on",
    }
    assert form is not None

    response = client_a.post(f"/rules/{rule.pk}/", data)

    assert response.status_code == 302, response.context and response.context["form"].errors
    with in_tenant(tenant_a):
        step.refresh_from_db()
        assert list(step.articles.values_list("slug", flat=True)) == ["wound-care-after-surgery"]
        assert step.articles_matching


def test_the_reach_report_is_for_administrators(client_a, tenant_a, admin_a, agent_a):
    from django.test import Client

    agent_client = Client(HTTP_HOST=tenant_a.primary_host)
    login(agent_client, "agent@alpha.test")
    login(client_a, "admin@alpha.test")

    refused = agent_client.get("/cms/reach/")
    shown = client_a.get("/cms/reach/")

    assert refused.status_code == 403
    assert shown.status_code == 200
    assert 'href="/cms/reach/"' in shown.text  # in the navigation


def test_link_previews_and_head_requests_are_not_counted(
    surgery_task, client_a, tenant_a, in_tenant
):
    with in_tenant(tenant_a):
        path = articles_for_task(surgery_task)[0].url.removeprefix("https://alpha.localhost")

    preview = client_a.get(path, HTTP_USER_AGENT="Mozilla/5.0 (compatible; Slackbot 1.0)")
    head = client_a.head(path)

    assert (preview.status_code, head.status_code) == (302, 302)
    with in_tenant(tenant_a):
        assert not ArticleOpen.objects.exists()

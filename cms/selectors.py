"""Reads of the cms app, inside the current tenant's schema: the articles an encounter's tags
call for, the articles of a follow-up task with their tracked links, and the reach report.
(An article list searches its own articles: ArticleIndexPage.articles_search.)"""

from dataclasses import dataclass
from datetime import timedelta

from django.db.models import Q, Sum

from saas import clock

from .links import tracked_url
from .models import ArticleIndexPage, ArticleOpen, ArticlePage, HomePage


def home_for_language(language: str) -> HomePage | None:
    """The live home page of a language's tree; the root (clinic's first) tree otherwise."""
    homes = list(HomePage.objects.live().order_by("depth", "path"))
    for home in homes:
        if home.language == language:
            return home
    return homes[0] if homes else None


def articles_of_language(home: HomePage):
    """The articles of one language's tree: under the home page's own article lists (the
    English tree sits below the Chinese home page and is not part of it)."""
    paths = Q(pk__in=[])
    for index_page in ArticleIndexPage.objects.child_of(home):
        paths |= Q(path__startswith=index_page.path)
    return ArticlePage.objects.filter(paths)


def article_languages() -> dict[int, str]:
    """Each article's language, that of the patient site tree it belongs to: lists that
    offer articles of both trees mark each title with it."""
    languages: dict[int, str] = {}
    for home in HomePage.objects.order_by("depth", "path"):
        for pk in articles_of_language(home).values_list("pk", flat=True):
            languages.setdefault(pk, home.language)
    return languages


def _code_matches(codes: list[str], value: str) -> bool:
    value = (value or "").strip().upper()
    return bool(value) and any(value.startswith(code.upper()) for code in codes if code)


def _procedure_matches(procedures: list[str], code: str, name: str) -> bool:
    code = (code or "").strip().upper()
    name = (name or "").strip().casefold()
    for tag in procedures:
        tag = tag.strip()
        if not tag:
            continue
        if code and code.startswith(tag.upper()):
            return True
        if name and (tag.casefold() == name or tag.casefold() in name):
            return True
    return False


def articles_matching(encounter, *, language: str) -> list[ArticlePage]:
    """The live articles of ``language`` whose tags fit the encounter. The most specific tags
    decide: an article tagged with diagnosis codes or procedures matches when one of them
    fits the encounter; an article tagged only with departments matches every encounter of
    those departments; an article without tags matches nothing (it is for browsing)."""
    home = home_for_language(language)
    if home is None:
        return []
    department_code = encounter.department.code if encounter.department_id else ""
    found = []
    for article in articles_of_language(home).live().public().order_by("path"):
        if article.diagnosis_codes or article.procedures:
            fits = _code_matches(article.diagnosis_codes, encounter.diagnosis_code) or (
                _procedure_matches(
                    article.procedures, encounter.procedure_code, encounter.procedure
                )
            )
        else:
            fits = bool(department_code) and department_code in article.department_codes
        if fits:
            found.append(article)
    return found


@dataclass(frozen=True)
class TaskArticle:
    article: ArticlePage
    title: str
    summary: str
    url: str  # absolute, tracked: opening it is counted for the article and the task's rule


def _language_of(task) -> str:
    from django.db import connection

    contact_language = getattr(task.contact, "language", "") if task.contact_id else ""
    tenant = getattr(connection, "tenant", None)
    return contact_language or getattr(tenant, "locale", "zh-hans")


def articles_for_task(task) -> list[TaskArticle]:
    """What a follow-up task sends the patient to read: the step's chosen articles, then, when
    the step says so, the articles matching the encounter's tags in the patient's language;
    each once, live ones only, with an absolute tracked link (ids only in it).
    Called by the outbound messages and shown on the agent's call page."""
    step = task.step
    if step is None:
        return []
    chosen = list(step.articles.live().public().order_by("title"))
    articles = chosen
    if step.articles_matching and task.encounter_id:
        articles = chosen + [
            a
            for a in articles_matching(task.encounter, language=_language_of(task))
            if a.pk not in {c.pk for c in chosen}
        ]
    return [
        TaskArticle(
            article=a,
            title=a.title,
            summary=a.summary,
            url=tracked_url(article=a, rule_id=task.rule_id, step_id=step.pk),
        )
        for a in articles
    ]


@dataclass(frozen=True)
class ReachRow:
    article: ArticlePage
    rule_name: str
    step_name: str
    opens: int


def article_reach(*, days: int = 90) -> list[ReachRow]:
    """Opens from tracked links over the last ``days``, per article and rule step, most first."""
    since = clock.today() - timedelta(days=days)
    rows = (
        ArticleOpen.objects.filter(day__gte=since)
        .values("article", "rule__name", "step__name")
        .annotate(opens=Sum("count"))
        .order_by("-opens", "article")
    )
    articles = ArticlePage.objects.in_bulk([r["article"] for r in rows])
    return [
        ReachRow(
            article=articles[r["article"]],
            rule_name=r["rule__name"] or "",
            step_name=r["step__name"] or "",
            opens=r["opens"],
        )
        for r in rows
        if r["article"] in articles
    ]

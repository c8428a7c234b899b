"""Every enum value reaches the screen through its label: a walk over every page an
administrator and a supervisor can reach from the menu, in Chinese, on a clinic with a
believable past (crm.services.demo), finds no English code of a choice ("discharge",
"in_progress") in the visible text."""

import re
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest
from django.db import models
from django.test import Client
from django.urls import Resolver404, resolve

from crm.services.demo import demo_history_seed
from tests.conftest import login
from tests.factories import StaffFactory

OUR_APPS = ("crm.", "surveys.", "tenants.", "billing.", "cms.", "saas.")
# Addresses that download a file, change something or sign out: not pages to read.
NOT_PAGES = re.compile(r"\.(csv|xlsx|pdf|zip|json)$|/logout/|/export|/download|/cms/admin/")
# Two of each kind of page (two rules, two follow-ups …) are enough to see every template.
PER_PAGE_KIND = 2


def _choice_classes(cls=models.Choices):
    for sub in cls.__subclasses__():
        yield sub
        yield from _choice_classes(sub)


def enum_codes() -> dict[str, str]:
    """Code → where it comes from, for every text choice of our apps whose code is not its
    own label (a code like "API" may show as itself)."""
    codes = {}
    for choices in _choice_classes():
        if not choices.__module__.startswith(OUR_APPS):
            continue
        for member in choices:
            value = member.value
            if (
                isinstance(value, str)
                and value != str(member.label)
                and re.fullmatch(r"[a-z][a-z0-9_]*[a-z0-9]", value)
            ):
                codes[value] = f"{choices.__module__}.{choices.__qualname__}"
    return codes


# Not labels: code and keys (identifiers typed into integrations, shortcuts) and scripts.
NOT_LABELS = {"script", "style", "code", "kbd", "samp"}


class _Page(HTMLParser):
    """The Chinese text a reader sees, and the links to follow. Text in another language is
    marked so (lang="en": an English article's title, an English message) and is content,
    not a label; so are identifiers in <code>."""

    def __init__(self):
        super().__init__()
        self.text: list[str] = []
        self.links: list[str] = []
        self._skipping: str | None = None
        self._depth = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])
        if self._skipping == tag:
            self._depth += 1
        elif self._skipping is None:
            foreign = attrs.get("lang") and not attrs["lang"].startswith("zh")
            if tag in NOT_LABELS or foreign:
                self._skipping, self._depth = tag, 1

    def handle_endtag(self, tag):
        if tag == self._skipping:
            self._depth -= 1
            if not self._depth:
                self._skipping = None

    def handle_data(self, data):
        if self._skipping is None:
            self.text.append(data)


def _walk(client: Client) -> dict[str, str]:
    """Each page reachable from the home page within three clicks: address → visible text."""
    seen: dict[str, str] = {}
    per_kind: dict[str, int] = {}
    queue = ["/"]
    for _click in range(3):
        following = []
        for path in queue:
            if path in seen:
                continue
            try:
                kind = resolve(urlsplit(path).path).route
            except Resolver404:
                continue
            if per_kind.get(kind, 0) >= PER_PAGE_KIND:
                continue
            per_kind[kind] = per_kind.get(kind, 0) + 1
            response = client.get(path)
            if response.status_code != 200 or "text/html" not in response["Content-Type"]:
                continue
            page = _Page()
            page.feed(response.content.decode())
            seen[path] = " ".join(page.text)
            for href in page.links:
                parts = urlsplit(urljoin(path, href))
                if parts.netloc or parts.scheme or NOT_PAGES.search(parts.path):
                    continue
                following.append(parts.path + (f"?{parts.query}" if parts.query else ""))
        queue = following
    return seen


# Whole words only: "surgery" alone, not inside an address, a file name or a longer word.
TEMPLATE_SYNTAX = re.compile(r"{{.*?}}|{%.*?%}")
WORD = re.compile(r"(?<![\w@./-])[a-z][a-z0-9_]*[a-z0-9](?![\w@/-])")


def _english_codes(text: str, codes: dict[str, str]) -> list[str]:
    """Each code found, with the words around it (to find it on the page). Message templates
    show their placeholders ({{ survey_link }}) as the clinic types them: not labels."""
    text = " ".join(TEMPLATE_SYNTAX.sub(" ", text).split())
    return sorted(
        {
            f"{match[0]} («{text[max(0, match.start() - 30) : match.end() + 30]}»)"
            for match in WORD.finditer(text)
            if match[0] in codes
        }
    )


def test_the_codes_looked_for_include_the_rule_page_s_encounter_kinds():
    codes = enum_codes()

    assert {"discharge", "surgery", "in_progress", "no_answer", "supervisor"} <= set(codes)
    found = _english_codes("匹配条件 discharge · me@alpha.test {{ survey_link }}", codes)
    assert found == ["discharge («匹配条件 discharge · me@alpha.test»)"]


# How many pages each role's walk reaches at least (the walk itself is checked too).
WALKED = {"admin": 40, "supervisor": 25, "agent": 10}


@pytest.mark.parametrize("role", WALKED)
def test_no_page_shows_an_english_enum_code_in_chinese(tenant_a, in_tenant, role):
    with in_tenant(tenant_a):
        StaffFactory(email="enum-caller@alpha.test", role="agent")  # the demo past's calls
        StaffFactory(email=f"enum-{role}@alpha.test", role=role)
        demo_history_seed(days=20, per_day=3)
    client = Client(HTTP_HOST=tenant_a.primary_host, HTTP_ACCEPT_LANGUAGE="zh-hans")
    client.cookies["django_language"] = "zh-hans"
    login(client, f"enum-{role}@alpha.test")
    codes = enum_codes()

    pages = _walk(client)

    assert len(pages) >= WALKED[role], sorted(pages)
    found = {path: _english_codes(text, codes) for path, text in pages.items()}
    shown = [f"{path}: {word}" for path, words in found.items() for word in words]
    assert shown == [], "\n".join(shown)

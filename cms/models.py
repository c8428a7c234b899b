"""The tenant's patient site: one tree per language under Wagtail's root.

    Root
    └── HomePage (zh-hans)                /health/        the Site's root page
        ├── ArticleIndexPage               /health/articles/
        │   └── ArticlePage …
        └── HomePage (en)                 /health/en/
            └── ArticleIndexPage           /health/en/articles/
                └── ArticlePage …

A page's language is the language of the HomePage above it, so an article can never
disagree with its tree. Every tenant schema has its own tree, images and documents."""

import math
import re

from django import forms
from django.contrib.postgres.fields import ArrayField
from django.core.paginator import Paginator
from django.db import models
from django.shortcuts import redirect
from django.utils.functional import cached_property
from django.utils.html import strip_tags
from django.utils.translation import gettext_lazy as _
from wagtail import blocks
from wagtail.admin.forms import WagtailAdminPageForm
from wagtail.admin.panels import FieldPanel, MultiFieldPanel, ObjectList, TabbedInterface
from wagtail.embeds.blocks import EmbedBlock
from wagtail.fields import RichTextField, StreamField
from wagtail.images.blocks import ImageBlock
from wagtail.models import Page
from wagtail.search import index

from crm.models import Department

from .search import cjk_ngrams, cjk_query

LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]

RICH_TEXT_FEATURES = ["h2", "h3", "bold", "italic", "ol", "ul", "link", "image", "embed"]


class Audience(models.TextChoices):
    EVERYONE = "everyone", _("Everyone")
    PATIENT = "patient", _("Patients")
    CAREGIVER = "caregiver", _("Family and caregivers")
    PARENT = "parent", _("Parents")


class CalloutBlock(blocks.StructBlock):
    """A boxed note, e.g. the warning signs that mean "call us now"."""

    title = blocks.CharBlock(label=_("Title"))
    text = blocks.RichTextBlock(label=_("Text"), features=["bold", "italic", "ul", "link"])

    class Meta:
        label = _("Callout")
        icon = "warning"
        template = "cms/blocks/callout.html"


class ArticleBodyBlock(blocks.StreamBlock):
    paragraph = blocks.RichTextBlock(label=_("Text"), features=RICH_TEXT_FEATURES)
    image = ImageBlock(label=_("Image"))
    video = EmbedBlock(
        label=_("Video"),
        help_text=_("A video address: bilibili, YouTube, Vimeo or a link to an .mp4 file."),
    )
    callout = CalloutBlock()


def _text_list(label, help_text):
    return ArrayField(
        models.CharField(max_length=80),
        verbose_name=label,
        default=list,
        blank=True,
        help_text=help_text,
    )


class ArticlePageForm(WagtailAdminPageForm):
    """Departments are picked from the clinic's own list; codes and procedures are typed,
    comma-separated, as they appear on encounters."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        known = list(Department.objects.filter(active=True).values_list("code", "name"))
        chosen = set(self.initial.get("department_codes") or [])
        known_codes = {code for code, _name in known}
        extra = [(code, code) for code in sorted(chosen - known_codes)]
        self.fields["department_codes"] = forms.MultipleChoiceField(
            label=_("Departments"),
            choices=known + extra,
            required=False,
            widget=forms.CheckboxSelectMultiple,
            help_text=_("Encounters of these departments get this article."),
        )

    def _clean_list(self, name, *, upper=False):
        values = []
        for item in self.cleaned_data.get(name) or []:
            item = item.strip()
            item = item.upper() if upper else item
            if item and item not in values:
                values.append(item)
        return values

    def clean_diagnosis_codes(self):
        return self._clean_list("diagnosis_codes", upper=True)

    def clean_procedures(self):
        return self._clean_list("procedures")


class ArticlePage(Page):
    """A health-education article (健康宣教). Its tags say which encounters it is for: see
    cms.selectors.articles_matching for how they are matched."""

    summary = models.TextField(
        _("summary"),
        max_length=300,
        help_text=_("One or two sentences, shown in lists and in messages."),
    )
    body = StreamField(ArticleBodyBlock(), verbose_name=_("body"), blank=True)
    department_codes = _text_list(_("departments"), "")
    diagnosis_codes = _text_list(
        _("diagnosis codes"),
        _("ICD codes, comma-separated. A code matches itself and every code that starts with it."),
    )
    procedures = _text_list(
        _("procedures"),
        _("Procedure names or codes as they appear on encounters, comma-separated."),
    )
    audience = models.CharField(
        _("audience"), max_length=20, choices=Audience.choices, default=Audience.EVERYONE
    )
    # Seeded starter articles name the tenant kinds they are for; provisioning removes the
    # others. Empty for articles the clinic writes.
    starter_kinds = ArrayField(models.CharField(max_length=20), default=list, blank=True)

    search_fields = [
        *Page.search_fields,
        index.SearchField("summary"),
        index.SearchField("body"),
        index.SearchField("procedures"),
        index.SearchField("cjk_terms"),
        index.FilterField("audience"),
    ]

    content_panels = [
        *Page.content_panels,
        FieldPanel("summary"),
        FieldPanel("body"),
    ]
    tag_panels = [
        MultiFieldPanel(
            [
                FieldPanel("department_codes"),
                FieldPanel("diagnosis_codes"),
                FieldPanel("procedures"),
                FieldPanel("audience"),
            ],
            heading=_("Who is it for"),
        )
    ]
    edit_handler = TabbedInterface(
        [
            ObjectList(content_panels, heading=_("Content")),
            ObjectList(tag_panels, heading=_("Tags")),
            ObjectList(Page.promote_panels, heading=_("Promote")),
        ]
    )
    base_form_class = ArticlePageForm

    parent_page_types = ["cms.ArticleIndexPage"]
    subpage_types: list[str] = []

    class Meta:
        verbose_name = _("article")
        verbose_name_plural = _("articles")

    def plain_text(self) -> str:
        parts = [self.title, self.summary]
        for block in self.body:
            if block.block_type == "paragraph":
                parts.append(strip_tags(block.value.source))
            elif block.block_type == "callout":
                parts.append(block.value["title"])
                parts.append(strip_tags(block.value["text"].source))
        return "\n".join(p for p in parts if p)

    def cjk_terms(self) -> str:
        """Chinese text cut into characters and pairs of characters, so PostgreSQL's full-text
        search (which does not split Chinese words) finds words inside sentences."""
        return cjk_ngrams(self.plain_text())

    @cached_property
    def reading_minutes(self) -> int:
        """About 300 Chinese characters or 200 English words a minute; at least one."""
        text = self.plain_text()
        han = len(re.findall(r"[\u3400-\u9fff]", text))
        words = len(re.findall(r"[A-Za-z0-9]+", text))
        return max(1, math.ceil(han / 300 + words / 200))

    @cached_property
    def home(self):
        return HomePage.objects.ancestor_of(self).order_by("-depth").first()

    @property
    def language(self) -> str:
        home = self.home
        return home.language if home else "zh-hans"

    def get_context(self, request, *args, **kwargs):
        context = super().get_context(request, *args, **kwargs)
        context["home"] = self.home
        return context


class ArticleIndexPage(Page):
    """The list of a language's articles, with search and tag filters."""

    intro = RichTextField(_("introduction"), blank=True, features=["bold", "italic", "link"])

    content_panels = [*Page.content_panels, FieldPanel("intro")]
    parent_page_types = ["cms.HomePage"]
    subpage_types = ["cms.ArticlePage"]
    PAGE_SIZE = 20

    class Meta:
        verbose_name = _("article list")
        verbose_name_plural = _("article lists")

    def articles_search(
        self, *, query: str = "", department: str = "", procedure: str = "", audience: str = ""
    ) -> list["ArticlePage"]:
        """Live, public articles of this list, filtered by tags, then ranked by the search
        (Wagtail's database backend on PostgreSQL) when there is a query, else newest first."""
        articles = ArticlePage.objects.child_of(self).live().public()
        if department:
            articles = articles.filter(department_codes__contains=[department])
        if procedure:
            articles = articles.filter(procedures__icontains=procedure)
        if audience:
            articles = articles.filter(audience=audience)
        if not query:
            return list(articles.order_by("-first_published_at", "-pk"))
        ids = list(articles.values_list("pk", flat=True))
        if not ids:
            return []
        return list(ArticlePage.objects.filter(pk__in=ids).search(cjk_query(query), operator="and"))

    def get_context(self, request, *args, **kwargs):
        context = super().get_context(request, *args, **kwargs)
        query = request.GET.get("q", "").strip()[:100]
        department = request.GET.get("department", "")
        procedure = request.GET.get("procedure", "").strip()[:80]
        audience = request.GET.get("audience", "")
        articles = self.articles_search(
            query=query,
            department=department,
            procedure=procedure,
            audience=audience if audience in Audience.values else "",
        )
        page = Paginator(articles, self.PAGE_SIZE).get_page(request.GET.get("page"))
        codes = {c for a in self.get_children().live().specific() for c in a.department_codes}
        context.update(
            {
                "articles": page,
                "query": query,
                "department": department,
                "procedure": procedure,
                "audience": audience,
                "departments": Department.objects.filter(code__in=codes).order_by("name"),
                "audiences": Audience.choices,
                "home": HomePage.objects.ancestor_of(self).order_by("-depth").first(),
                "filtered": bool(query or department or procedure or audience),
            }
        )
        return context


class HomePage(Page):
    """The clinic's patient-facing home page in one language. The Chinese one is the Site's
    root; the English one is its child at /en/. A visitor whose language is not the root's
    is sent to the home page in their language, unless they asked for the root's language
    (the language link carries ?lang=)."""

    language = models.CharField(_("language"), max_length=10, choices=LANGUAGES)
    clinic_name = models.CharField(_("clinic name"), max_length=120, blank=True)
    intro = RichTextField(_("introduction"), blank=True, features=["bold", "italic", "link"])
    phone = models.CharField(_("phone"), max_length=40, blank=True)
    email = models.EmailField(_("email"), blank=True)
    address = models.CharField(_("address"), max_length=300, blank=True)
    opening_hours = models.TextField(
        _("opening hours"), blank=True, help_text=_("One line per day or group of days.")
    )
    featured = StreamField(
        [("article", blocks.PageChooserBlock(page_type="cms.ArticlePage", label=_("Article")))],
        verbose_name=_("featured articles"),
        blank=True,
    )

    content_panels = [
        *Page.content_panels,
        FieldPanel("clinic_name"),
        FieldPanel("intro"),
        MultiFieldPanel(
            [
                FieldPanel("phone"),
                FieldPanel("email"),
                FieldPanel("address"),
                FieldPanel("opening_hours"),
            ],
            heading=_("Contact details"),
        ),
        FieldPanel("featured"),
    ]
    settings_panels = [FieldPanel("language"), *Page.settings_panels]
    parent_page_types = ["wagtailcore.Page", "cms.HomePage"]
    subpage_types = ["cms.ArticleIndexPage", "cms.HomePage"]

    class Meta:
        verbose_name = _("home page")
        verbose_name_plural = _("home pages")

    def serve(self, request, *args, **kwargs):
        wanted = getattr(request, "LANGUAGE_CODE", self.language)
        if self.depth == 2 and wanted != self.language and not request.GET:
            other = HomePage.objects.child_of(self).live().filter(language=wanted).first()
            if other is not None:
                return redirect(other.url)
        return super().serve(request, *args, **kwargs)

    def get_context(self, request, *args, **kwargs):
        context = super().get_context(request, *args, **kwargs)
        featured_ids = [b.value.pk for b in self.featured if b.value is not None]
        by_id = {p.pk: p for p in ArticlePage.objects.live().public().filter(pk__in=featured_ids)}
        index_page = ArticleIndexPage.objects.child_of(self).live().first()
        latest = []
        if index_page is not None:
            latest = list(
                ArticlePage.objects.child_of(index_page)
                .live()
                .public()
                .exclude(pk__in=featured_ids)
                .order_by("-first_published_at")[:6]
            )
        context.update(
            {
                "home": self,
                "featured_articles": [by_id[i] for i in featured_ids if i in by_id],
                "latest_articles": latest,
                "index_page": index_page,
                "other_homes": self._other_homes(),
                "hours_lines": [line for line in self.opening_hours.splitlines() if line.strip()],
            }
        )
        return context

    def _other_homes(self):
        root = self if self.depth == 2 else self.get_parent().specific
        homes = [root, *HomePage.objects.child_of(root).live()]
        return [h for h in homes if h.pk != self.pk and h.live]


class ArticleOpen(models.Model):
    """How often an article was opened from a tracked link, per day and per rule step (reach
    of education). Counts only: no visitor, contact or task is recorded."""

    article = models.ForeignKey(ArticlePage, on_delete=models.CASCADE, related_name="opens")
    rule = models.ForeignKey(
        "crm.FollowUpRule", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    step = models.ForeignKey(
        "crm.RuleStep", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    day = models.DateField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("article opens")
        verbose_name_plural = _("article opens")
        constraints = [
            models.UniqueConstraint(
                fields=["article", "rule", "step", "day"],
                name="article_open_unique",
                nulls_distinct=False,
            )
        ]

    def __str__(self) -> str:
        return f"{self.article_id} {self.day}: {self.count}"

"""Survey templates: the editor's draft, its checks and the versions it is published as
(DESIGN.md §6). A published version is frozen; responses keep the version they answered."""

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils.translation import gettext as _

from saas import clock

from ..models import QuestionKind, SurveyQuestion, SurveyTemplate, SurveyVersion

Kind = QuestionKind

CHOICE_KINDS = (Kind.SINGLE, Kind.MULTIPLE)


def question_problems(question: SurveyQuestion) -> list[str]:
    problems = []
    if not (question.text_zh.strip() or question.text_en.strip()):
        problems.append(_("Write the question in Chinese or English."))
    if question.kind in CHOICE_KINDS and len(question.choices) < 2:
        problems.append(_("A choice question needs at least two choices."))
    if question.dimension and question.kind != Kind.RATING:
        problems.append(_("Only a rating question can measure a dimension."))
    if question.raises_complaint and question.kind not in (Kind.TEXT, Kind.YES_NO):
        problems.append(_("Only a free-text or yes / no answer can raise a complaint."))
    return problems


def _snapshot(question: SurveyQuestion) -> dict:
    return {
        "key": question.key,
        "kind": question.kind,
        "text_zh": question.text_zh,
        "text_en": question.text_en,
        "dimension": question.dimension,
        "required": question.required,
        "choices": question.choices,
        "raises_complaint": question.raises_complaint,
    }


@transaction.atomic
def template_publish(template: SurveyTemplate, user=None, *, now=None) -> SurveyVersion:
    """Freeze the draft into a new version; responses already given keep theirs."""
    now = now or clock.now()
    template = SurveyTemplate.objects.select_for_update().get(pk=template.pk)
    questions = list(template.questions.all())
    if not questions:
        raise ValidationError(_("Add at least one question before publishing."))
    errors = [
        f"{position}. {problem}"
        for position, question in enumerate(questions, start=1)
        for problem in question_problems(question)
    ]
    if errors:
        raise ValidationError(errors)
    if template.low_score_threshold >= template.satisfied_threshold:
        raise ValidationError(_("“Dissatisfied up to” must be below “satisfied from”."))
    number = (template.versions.aggregate(n=Max("number"))["n"] or 0) + 1
    version = SurveyVersion.objects.create(
        template=template,
        number=number,
        name=template.name,
        description=template.description,
        questions=[_snapshot(q) for q in questions],
        satisfied_threshold=template.satisfied_threshold,
        low_score_threshold=template.low_score_threshold,
        complaint_on_low_score=template.complaint_on_low_score,
        published_at=now,
        published_by=user,
    )
    template.published = version
    template.draft_changed = False
    template.save(update_fields=["published", "draft_changed", "updated_at"])
    return version


def question_key_next(template: SurveyTemplate) -> str:
    taken = set(template.questions.values_list("key", flat=True))
    number = len(taken) + 1
    while f"q{number}" in taken:
        number += 1
    return f"q{number}"


def template_changed(template: SurveyTemplate) -> None:
    SurveyTemplate.objects.filter(pk=template.pk).update(draft_changed=True)


def choices_parse(text: str) -> list[list[str]]:
    """One choice per line, “中文 | English” (either part may be left out)."""
    choices = []
    for line in text.splitlines():
        if not line.strip():
            continue
        zh, _bar, en = line.partition("|")
        choices.append([zh.strip(), en.strip()])
    return choices


def choices_format(choices: list) -> str:
    return "\n".join(f"{zh} | {en}" if en else zh for zh, en in choices)


@dataclass(frozen=True)
class QuestionDraft:
    """A question of a template's draft as the editor left it; ``pk`` is None for a new one."""

    pk: int | None
    kind: str
    text_zh: str
    text_en: str
    dimension: str
    required: bool
    raises_complaint: bool
    choices: list = field(default_factory=list)


@transaction.atomic
def template_save(
    *,
    template: SurveyTemplate,
    settings: Mapping[str, object],
    questions: Sequence[QuestionDraft],
    deleted_ids: Collection[int] = (),
) -> SurveyTemplate:
    """Save a template's settings and its draft questions in the order given (validated by
    the caller). Keys of new questions are the next free q<N>."""
    for name, value in settings.items():
        setattr(template, name, value)
    template.draft_changed = True
    template.save()
    if deleted_ids:
        template.questions.filter(pk__in=deleted_ids).delete()
    existing = template.questions.in_bulk([q.pk for q in questions if q.pk is not None])
    for position, draft in enumerate(questions, start=1):
        question = existing[draft.pk] if draft.pk is not None else SurveyQuestion(template=template)
        question.kind = draft.kind
        question.text_zh = draft.text_zh
        question.text_en = draft.text_en
        question.dimension = draft.dimension
        question.required = draft.required
        question.raises_complaint = draft.raises_complaint
        question.choices = draft.choices
        question.position = position
        if not question.key:
            question.key = question_key_next(template)
        question.save()
    return template

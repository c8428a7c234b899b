"""Reads of the surveys app."""

from datetime import datetime

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Count, Q, QuerySet
from django.utils.translation import gettext as _

from .models import SurveyInvitation, SurveyResponse, SurveyTemplate, SurveyVersion

User = get_user_model()


SCALES = {"rating": [str(n) for n in range(1, 6)], "nps": [str(n) for n in range(11)]}


def survey_default() -> SurveyTemplate | None:
    """The survey of survey-link follow-ups whose step names none: the first active one."""
    return (
        SurveyTemplate.objects.filter(active=True, published__isnull=False)
        .select_related("published")
        .order_by("pk")
        .first()
    )


def contact_surveyed_since(contact_id: int, since: datetime) -> bool:
    """Whether the contact was sent a survey link, or answered a survey (also on a call),
    since ``since``: the clinic's cap against survey fatigue (DESIGN.md §7a.8)."""
    return (
        SurveyInvitation.objects.filter(contact_id=contact_id, created_at__gt=since).exists()
        or SurveyResponse.objects.filter(contact_id=contact_id, submitted_at__gt=since).exists()
    )


def task_survey(task) -> tuple[SurveyVersion | None, str]:
    """The published survey a follow-up's call asks (its step's), and the language to ask it
    in (the contact's, else the clinic's): (None, "") when the step carries none."""
    survey = task.step.survey if task.step_id else None
    if survey is None or survey.published_id is None:
        return None, ""
    return survey.published, task.contact.language or connection.tenant.locale


def templates_with_counts() -> QuerySet:
    return SurveyTemplate.objects.select_related("published").annotate(
        responses=Count("versions__responses"),
        versions_count=Count("versions", distinct=True),
    )


def staff_choices() -> dict[str, object]:
    """The staff a patient may praise, by the value the form posts (the user's id)."""
    return {
        str(user.pk): user
        for user in User.objects.filter(is_active=True, is_staff=False)
        .exclude(first_name="", last_name="")
        .order_by("first_name", "last_name")
    }


def responses(*, template=None) -> QuerySet:
    qs = SurveyResponse.objects.select_related("contact", "version", "department", "answered_by")
    if template is not None:
        qs = qs.filter(template=template)
    return qs


def response_counts(template) -> dict:
    return SurveyResponse.objects.filter(template=template).aggregate(
        total=Count("id"),
        satisfied=Count("id", filter=Q(satisfaction="satisfied")),
        dissatisfied=Count("id", filter=Q(satisfaction="dissatisfied")),
    )


def questions_shown(version, language: str, posted, errors: dict) -> list[dict]:
    """Questions with their text in the contact's language (the other one when missing), the
    value posted back after an error, and the error."""
    english = (language or "").startswith("en")
    items = []
    for question in version.questions:
        text = question["text_en"] if english else question["text_zh"]
        choices = [
            {"value": zh or en, "label": (en if english else zh) or zh or en}
            for zh, en in question["choices"]
        ]
        name = f"q_{question['key']}"
        items.append(
            {
                **question,
                "name": name,
                "text": text or question["text_zh"] or question["text_en"],
                "options": choices,
                "scale": SCALES.get(question["kind"], []),
                "posted": posted.getlist(name)
                if question["kind"] == "multiple"
                else posted.get(name, ""),
                "error": errors.get(question["key"]),
            }
        )
    return items


def answers_shown(response: SurveyResponse) -> list[dict]:
    """Each question of the version answered, with its answer as text."""
    answers = {a.question_key: a for a in response.answers.select_related("staff")}
    rows = []
    for question in response.version.questions:
        answer = answers.get(question["key"])
        shown = ""
        if answer is not None:
            if answer.staff_id:
                shown = answer.staff.get_full_name() or answer.staff.email
            elif answer.choices:
                shown = "; ".join(answer.choices)
            elif question["kind"] == "yes_no" and answer.number is not None:
                shown = str(_("Yes") if answer.number else _("No"))
            elif answer.number is not None:
                shown = str(answer.number)
            else:
                shown = answer.text
        rows.append(
            {
                "text": question["text_zh"] or question["text_en"],
                "dimension": question["dimension"],
                "answer": shown,
            }
        )
    return rows

"""The clinic's encounter kinds (issue 19 §2): adding, renaming, archiving and deleting them.
A kind that encounters use keeps its name and stays (archiving hides it from new rules and
imports): its code is what those encounters, their reports and their history say. Each change
is written to the audit trail."""

import re

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from ..models import AuditEntry, Encounter, EncounterKind, FollowUpRule, KpiTarget
from ..selectors_kinds import builtin_labels_all, kind_encounter_count
from .audit import audit_record

CODE_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,19}$")
NAME_MAX = 60
Action = AuditEntry.Action


def encounter_kinds_seed(*, kind: str = "", locale: str = "") -> None:
    """The built-in kinds (Encounter.Kind) in a new clinic, labelled in the reader's
    language; a clinic that has them already is left as it is."""
    EncounterKind.objects.bulk_create(
        [
            EncounterKind(
                code=code,
                builtin=True,
                books_return_visit=code == Encounter.Kind.APPOINTMENT,
                position=position,
            )
            for position, code in enumerate(Encounter.Kind.values)
        ],
        ignore_conflicts=True,
    )


def _in_use_error(kind: EncounterKind, verb: str) -> ValidationError | None:
    """Why ``kind`` may not be renamed or deleted: encounters (or, for deleting, rules and
    targets) name it by its code."""
    used = kind_encounter_count(kind.code)
    if used:
        message = (
            ngettext(
                "%(count)s encounter uses this kind: it cannot be renamed.",
                "%(count)s encounters use this kind: it cannot be renamed.",
                used,
            )
            if verb == "rename"
            else ngettext(
                "%(count)s encounter uses this kind: it cannot be deleted.",
                "%(count)s encounters use this kind: it cannot be deleted.",
                used,
            )
        )
        return ValidationError(
            message + " " + _("Archive it instead to stop offering it."),
            code="in_use",
            params={"count": used},
        )
    if verb == "delete":
        rules = FollowUpRule.objects.filter(match_kinds__contains=[kind.code]).count()
        targets = KpiTarget.objects.filter(encounter_kind=kind.code).count()
        if rules or targets:
            return ValidationError(
                _(
                    "%(rules)s rules and %(targets)s targets name this kind: change them "
                    "first, or archive the kind."
                ),
                code="in_use",
                params={"rules": rules, "targets": targets},
            )
    return None


def _name_check(name: str, *, exclude: EncounterKind | None = None) -> str:
    name = " ".join(name.split())
    if not name:
        raise ValidationError({"name": _("Give the kind a name.")})
    if len(name) > NAME_MAX:
        raise ValidationError(
            {"name": _("A name of at most %(max)s characters, please.") % {"max": NAME_MAX}}
        )
    folded = name.lower()
    others = EncounterKind.objects.all()
    if exclude is not None:
        others = others.exclude(pk=exclude.pk)
    builtin = builtin_labels_all()
    for other in others:
        # An import matches a kind by any of these: one text must name one kind.
        texts = {other.code.lower(), other.name.lower()}
        if other.builtin:
            texts |= {label.lower() for label in builtin.get(other.code, [])}
        if folded in texts:
            raise ValidationError(
                {"name": _("Another kind is called “%(name)s” already.") % {"name": other.label}}
            )
    return name


def _code_for(name: str, code: str) -> str:
    taken = set(EncounterKind.objects.values_list("code", flat=True))
    if code:
        code = code.strip().lower()
        if not CODE_PATTERN.match(code):
            raise ValidationError(
                {
                    "code": _(
                        "A code of at most 20 lower-case letters, digits, - and _, starting "
                        "with a letter or a digit."
                    )
                }
            )
        if code in taken:
            raise ValidationError({"code": _("Another kind has this code already.")})
        return code
    # A Chinese name slugifies to nothing: such a kind is numbered instead.
    code = slugify(name)[:20].strip("-_")
    if code and CODE_PATTERN.match(code) and code not in taken:
        return code
    number = EncounterKind.objects.count() + 1
    while f"k-{number}" in taken:
        number += 1
    return f"k-{number}"


@transaction.atomic
def encounter_kind_add(
    *, name: str, code: str = "", books_return_visit: bool = False, actor=None
) -> EncounterKind:
    """A kind of the clinic's own. Without a code, one is made from the name (``k-<n>``
    when the name has no Latin letters). A bad name or code is refused, nothing written."""
    name = _name_check(name)
    code = _code_for(name, code)
    position = (
        EncounterKind.objects.order_by("-position").values_list("position", flat=True).first() or 0
    ) + 1
    kind = EncounterKind.objects.create(
        code=code, name=name, books_return_visit=books_return_visit, position=position
    )
    audit_record(actor, Action.ENCOUNTER_KIND_ADDED, obj=kind.code)
    return kind


@transaction.atomic
def encounter_kind_change(
    *, kind: EncounterKind, name: str, books_return_visit: bool, actor=None
) -> EncounterKind:
    """Rename a kind, or change whether it is a booked return visit: refused, with how many
    encounters use it, once any does (their reports and history name it)."""
    kind = EncounterKind.objects.select_for_update().get(pk=kind.pk)
    name = " ".join(name.split())
    # A built-in kind keeps following the reader's language until it is given a name.
    unchanged_builtin = kind.builtin and not kind.name and name == kind.label
    new_name = kind.name if unchanged_builtin else _name_check(name, exclude=kind)
    fields = [
        field
        for field, changed in (
            ("name", new_name != kind.name),
            ("books_return_visit", books_return_visit != kind.books_return_visit),
        )
        if changed
    ]
    if not fields:
        return kind
    error = _in_use_error(kind, "rename")
    if error is not None:
        raise error
    kind.name, kind.books_return_visit = new_name, books_return_visit
    kind.save(update_fields=[*fields, "updated_at"])
    audit_record(actor, Action.ENCOUNTER_KIND_CHANGED, obj=kind.code, detail={"fields": fields})
    return kind


@transaction.atomic
def encounter_kind_archive(*, kind: EncounterKind, archived: bool, actor=None) -> EncounterKind:
    """Stop (or start again) offering a kind for new rules, targets and imports; encounters,
    rules and targets that name it keep working."""
    if kind.archived != archived:
        kind.archived = archived
        kind.save(update_fields=["archived", "updated_at"])
        audit_record(
            actor, Action.ENCOUNTER_KIND_CHANGED, obj=kind.code, detail={"fields": ["archived"]}
        )
    return kind


@transaction.atomic
def encounter_kind_delete(*, kind: EncounterKind, actor=None) -> None:
    """Delete a kind nothing names: refused with the count while encounters, rules or
    targets do."""
    kind = EncounterKind.objects.select_for_update().get(pk=kind.pk)
    error = _in_use_error(kind, "delete")
    if error is not None:
        raise error
    code = kind.code
    kind.delete()
    audit_record(actor, Action.ENCOUNTER_KIND_DELETED, obj=code)

"""The clinic's encounter kinds (crm.models.EncounterKind): the one place that says what a
kind code is called, which kinds a new rule, target or import may name, and which kinds are
booked return visits."""

from dataclasses import dataclass

from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.utils import translation

from .models import Encounter, EncounterKind


def kinds_all() -> list[EncounterKind]:
    """Every kind of the clinic, archived ones included, in the clinic's order."""
    return list(EncounterKind.objects.all())


def kinds_active() -> list[EncounterKind]:
    """The kinds offered for new rules, targets and imports."""
    return list(EncounterKind.objects.filter(archived=False))


def kind_labels() -> dict[str, str]:
    """Code → the label the interface shows (the active language's for a built-in kind), for
    every kind, archived ones included: old encounters and rules still name them."""
    return {kind.code: kind.label for kind in kinds_all()}


def kind_label(code: str, labels: dict[str, str] | None = None) -> str:
    """One code's label; a code no kind has any more shows as itself."""
    labels = kind_labels() if labels is None else labels
    return labels.get(code, code)


def booking_kind_codes() -> frozenset[str]:
    """The kinds that are a return visit booked: never followed up unless a rule names them,
    and while one lies ahead no follow-up message or survey goes to its contact."""
    return frozenset(
        EncounterKind.objects.filter(books_return_visit=True).values_list("code", flat=True)
    )


@dataclass(frozen=True)
class KindLookup:
    """How a text names a kind in an import or an API row: a kind's code, the clinic's name
    for it, a built-in kind's label in Chinese or English, or a known synonym (购车 is a
    sale), case aside. Archived kinds are not offered."""

    codes: dict[str, str]  # folded text → code
    names: tuple[str, ...]  # the labels to list when a text matches none
    booking: frozenset[str]

    def find(self, text: str) -> str | None:
        return self.codes.get(text.strip().lower())


# The languages a register may be written in: a built-in kind's label in each matches it.
REGISTER_LANGUAGES = ("zh-hans", "en")


def builtin_labels_all() -> dict[str, list[str]]:
    """Built-in code → its label in each language a register may be written in."""
    labels: dict[str, list[str]] = {}
    for language in REGISTER_LANGUAGES:
        with translation.override(language):
            for code, label in Encounter.Kind.choices:
                labels.setdefault(code, []).append(str(label))
    return labels


def kind_lookup(*, synonyms: dict[str, str]) -> KindLookup:
    """``synonyms``: folded text → built-in code (the import's known words for them)."""
    active = kinds_active()
    builtin_labels = builtin_labels_all()
    codes: dict[str, str] = {}
    by_code = {kind.code: kind for kind in active}
    for text, code in synonyms.items():
        if code in by_code:
            codes[text.lower()] = code
    for kind in active:
        if kind.builtin:
            for label in builtin_labels.get(kind.code, []):
                codes[label.lower()] = kind.code
    # The clinic's own words win over the presets' (a clinic may call its kind 维修).
    for kind in active:
        codes[kind.code.lower()] = kind.code
        if kind.name:
            codes[kind.name.lower()] = kind.code
    return KindLookup(
        codes=codes,
        names=tuple(kind.label for kind in active),
        booking=frozenset(kind.code for kind in active if kind.books_return_visit),
    )


@dataclass(frozen=True)
class KindUse:
    kind: EncounterKind
    encounters: int


def kinds_with_use() -> list[KindUse]:
    """Every kind with how many encounters are of it (the settings page)."""
    used = (
        Encounter.objects.filter(kind=OuterRef("code"))
        .order_by()
        .values("kind")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return [
        KindUse(kind=kind, encounters=kind.used)
        for kind in EncounterKind.objects.annotate(used=Coalesce(Subquery(used), 0))
    ]


def kind_encounter_count(code: str) -> int:
    return Encounter.objects.filter(kind=code).count()

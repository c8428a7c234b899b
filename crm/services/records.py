"""Contacts and encounters entered by staff: phones normalised, flags cascaded to tasks,
encounters planned after every save."""

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from billing import entitlements
from saas import clock

from .. import crypto
from ..models import AuditEntry, Contact, ContactPhone, Encounter, FollowUpTask
from ..phones import phone_normalise
from .audit import audit_record
from .cascade import contacts_tasks_cancel
from .planning import encounter_cascade, encounters_plan_later


def phones_normalise(raw_numbers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """[(number, label)] → E.164 numbers in the tenant's region, duplicates dropped; one
    ValidationError listing every bad number."""
    region = connection.tenant.phone_region
    result, errors, seen = [], [], set()
    for raw, label in raw_numbers:
        if not (raw or "").strip():
            continue
        try:
            number = phone_normalise(raw, region)
        except ValidationError as exc:
            errors.extend(exc.messages)
            continue
        if number not in seen:
            seen.add(number)
            result.append((number, label or ContactPhone.Label.MOBILE))
    if errors:
        raise ValidationError({"phones": errors})
    return result


def _phones_set(contact: Contact, phones: list[tuple[str, str]]) -> None:
    """Keep numbers still listed (with their wrong-number flag), add new ones, drop the rest."""
    wanted = {number: (position, label) for position, (number, label) in enumerate(phones)}
    indexes = {crypto.blind_phone(number): number for number in wanted}
    ContactPhone.objects.filter(contact=contact).exclude(number_index__in=indexes).delete()
    for index, number in indexes.items():
        position, label = wanted[number]
        ContactPhone.objects.update_or_create(
            contact=contact,
            number_index=index,
            defaults={"number": number, "position": position, "label": label},
        )


# Kept by contact_save itself, not changes anyone made.
_UNAUDITED_FIELDS = {"id", "created_at", "updated_at", "deceased_at", "do_not_contact_at"}


def _fields_changed(before: Contact, after: Contact) -> list[str]:
    """The names (never the values) of the fields whose value differs."""
    return [
        field.name
        for field in Contact._meta.concrete_fields
        # Editable fields only: a blind index follows its field (crm.fields) and is not news.
        if field.editable
        and field.name not in _UNAUDITED_FIELDS
        and field.value_from_object(before) != field.value_from_object(after)
    ]


def _phones_of(contact: Contact | None) -> set[tuple[str, str]]:
    if contact is None:
        return set()
    return set(ContactPhone.objects.filter(contact=contact).values_list("number", "label"))


def contact_edit_viewed(contact: Contact, user) -> None:
    """The edit page shows the contact's details (masked numbers): a read, audited as one."""
    audit_record(user, AuditEntry.Action.CONTACT_EDIT_VIEWED, contact=contact)


@transaction.atomic
def contact_save(*, contact: Contact, phones: list[tuple[str, str]], actor=None) -> Contact:
    """Create or update a contact and its phone numbers. Marking the contact deceased or
    do-not-contact cancels every open follow-up with that reason. A change made by staff
    (``actor``) is audited with the names of the fields it changed."""
    normalised = phones_normalise(phones)
    now = clock.now()
    previous = Contact.objects.filter(pk=contact.pk).first() if contact.pk else None
    previous_phones = _phones_of(previous)
    if contact.record_no:
        clash = Contact.objects.filter(record_no=contact.record_no).exclude(pk=contact.pk)
        if clash.exists():
            raise ValidationError(
                {"record_no": _("Another contact already has this record number.")}
            )
    if contact.deceased and not (previous and previous.deceased):
        contact.deceased_at = now
    if not contact.deceased:
        contact.deceased_at = None
    if contact.do_not_contact and not (previous and previous.do_not_contact):
        contact.do_not_contact_at = now
    if not contact.do_not_contact:
        contact.do_not_contact_at, contact.do_not_contact_reason = None, ""
    contact.full_clean()
    contact.save()
    _phones_set(contact, normalised)
    if actor is not None and previous is not None:
        changed = _fields_changed(previous, contact)
        if _phones_of(contact) != previous_phones:
            changed.append("phones")
        audit_record(
            actor, AuditEntry.Action.CONTACT_CHANGED, contact=contact, detail={"fields": changed}
        )
    if contact.deceased:
        contacts_tasks_cancel([contact.pk], reason=FollowUpTask.Reason.DECEASED, now=now)
    elif contact.do_not_contact:
        contacts_tasks_cancel([contact.pk], reason=FollowUpTask.Reason.DO_NOT_CONTACT, now=now)
    elif previous is not None:
        # A phone added or a flag cleared can make excluded follow-ups workable again.
        encounters_plan_later(contact.encounters.values_list("pk", flat=True))
    return contact


@transaction.atomic
def encounter_save(encounter: Encounter) -> Encounter:
    """Create or correct an encounter, then (re-)plan its follow-ups once committed."""
    if encounter.external_id:
        clash = Encounter.objects.filter(
            source=encounter.source, external_id=encounter.external_id
        ).exclude(pk=encounter.pk)
        if clash.exists():
            raise ValidationError(
                {"external_id": _("An encounter with this external id already exists.")}
            )
    if encounter.age is None and encounter.contact.birth_date:
        encounter.age = _age_on(encounter.contact.birth_date, encounter.occurred_at)
    encounter.full_clean()
    if encounter._state.adding and not entitlements.usage_reserve(
        connection.tenant, "encounters", 1
    ):
        raise entitlements.encounter_limit_error(connection.tenant)
    encounter.save()
    encounter_cascade(encounter)
    encounters_plan_later([encounter.pk])
    return encounter


def _age_on(birth_date, moment) -> int:
    day = timezone.localtime(moment).date()
    return day.year - birth_date.year - ((day.month, day.day) < (birth_date.month, birth_date.day))


def contact_viewed(contact: Contact, user, *, via: str | None = None) -> None:
    """Audit a read of the contact's details by ``user``; ``via`` names what read them when it
    is not the user's own session (an API key: "api_key:<id>")."""
    audit_record(user, AuditEntry.Action.CONTACT_VIEWED, contact=contact, obj=via)

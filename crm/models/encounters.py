"""Contacts (patients, customers) and the encounters (service events) that trigger follow-up."""

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from .. import crypto
from ..fields import BlindIndexField, EncryptedCharField, EncryptedTextField
from .people import Department


class ContactQuerySet(models.QuerySet):
    def named(self, name: str):
        """The contacts with this exact full name (spaces and case aside), by its blind index."""
        return self.filter(name_index=crypto.blind_name(name))


class ContactPhoneQuerySet(models.QuerySet):
    def numbered(self, number: str):
        """The rows of this E.164 number, by its blind index."""
        return self.filter(number_index=crypto.blind_phone(number))


class Contact(models.Model):
    """A patient or customer. Identified within the tenant by their record number (住院号 /
    medical record or customer number) when they have one."""

    class Sex(models.TextChoices):
        FEMALE = "F", _("Female")
        MALE = "M", _("Male")
        UNKNOWN = "", _("Unknown")

    class Erasure(models.TextChoices):
        """Why a contact's personal data was erased (kept: the record stays, counted)."""

        RETENTION = "retention", _("Retention period over")
        PATIENT_REQUEST = "patient_request", _("The patient asked for erasure")
        ENTERED_IN_ERROR = "entered_in_error", _("Entered by mistake")
        LEGAL = "legal", _("Other legal ground")

    class Language(models.TextChoices):
        TENANT = "", _("The clinic's language")
        ZH_HANS = "zh-hans", "简体中文"
        EN = "en", "English"

    name = EncryptedCharField(_("name"), max_length=100)
    # The exact full name (spaces collapsed, case folded): how a name is searched and how
    # intake finds a contact by name and phone; a part of a name cannot be searched.
    name_index = BlindIndexField(source="name", kind="name")
    sex = models.CharField(_("sex"), max_length=1, choices=Sex.choices, blank=True, default="")
    birth_date = models.DateField(_("birth date"), null=True, blank=True)
    record_no = models.CharField(
        _("record number"),
        max_length=50,
        blank=True,
        default="",
        help_text=_("Medical record (住院号) or customer number."),
    )
    email = models.EmailField(_("email"), blank=True, default="")
    address = EncryptedCharField(_("address"), max_length=300, blank=True, default="")
    language = models.CharField(
        _("language"), max_length=10, choices=Language.choices, blank=True, default=""
    )
    do_not_contact = models.BooleanField(_("do not contact"), default=False)
    do_not_contact_reason = models.CharField(
        _("reason for do not contact"), max_length=200, blank=True, default=""
    )
    do_not_contact_at = models.DateTimeField(_("do not contact since"), null=True, blank=True)
    deceased = models.BooleanField(_("deceased"), default=False)
    deceased_at = models.DateTimeField(_("deceased recorded at"), null=True, blank=True)
    notes = EncryptedTextField(_("notes"), blank=True, default="")
    # Set by crm.services.retention.contact_anonymise: personal data blanked, never planned
    # or called again; the row stays so that counts and reports do not change.
    anonymised_at = models.DateTimeField(_("anonymised at"), null=True, blank=True)
    # db_default: the bulk intake writes contacts in SQL that names only the columns it fills.
    anonymised_reason = models.CharField(
        _("anonymised because"),
        max_length=20,
        choices=Erasure.choices,
        blank=True,
        default="",
        db_default="",
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = ContactQuerySet.as_manager()

    class Meta:
        # Names are encrypted: SQL cannot sort by them.
        ordering = ["id"]
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        constraints = [
            models.UniqueConstraint(
                fields=["record_no"], condition=~Q(record_no=""), name="contact_record_no_unique"
            )
        ]
        indexes = [models.Index(fields=["name_index"], name="contact_name_index_idx")]

    def __str__(self) -> str:
        return self.name

    @property
    def reachable(self) -> bool:
        return not (self.deceased or self.do_not_contact or self.anonymised_at)

    @property
    def is_anonymised(self) -> bool:
        return self.anonymised_at is not None


class ContactPhone(models.Model):
    """A phone number of a contact, in E.164. A number found to be wrong stays on file,
    flagged, so it is not called again and not re-imported as new."""

    class Label(models.TextChoices):
        MOBILE = "mobile", pgettext_lazy("phone", "Mobile")
        HOME = "home", pgettext_lazy("phone", "Home")
        WORK = "work", pgettext_lazy("phone", "Work")
        FAMILY = "family", pgettext_lazy("phone", "Family member")

    # Found by phone_unique_per_contact, which starts with the contact: a second index on
    # the contact alone would only cost every bulk intake its upkeep.
    contact = models.ForeignKey(
        Contact, on_delete=models.CASCADE, related_name="phones", db_index=False
    )
    number = EncryptedCharField(_("phone number"), max_length=20)
    # Found by the whole number (inbound SMS, import, API) or by its last four digits (what
    # an agent types into a search).
    number_index = BlindIndexField(source="number", kind="phone")
    tail_index = BlindIndexField(source="number", kind="tail")
    label = models.CharField(_("label"), max_length=10, choices=Label.choices, default=Label.MOBILE)
    position = models.PositiveSmallIntegerField(default=0)
    invalid = models.BooleanField(_("wrong number"), default=False)

    objects = ContactPhoneQuerySet.as_manager()

    class Meta:
        ordering = ["invalid", "position", "id"]
        verbose_name = _("phone number")
        verbose_name_plural = _("phone numbers")
        constraints = [
            models.UniqueConstraint(
                fields=["contact", "number_index"], name="phone_unique_per_contact"
            )
        ]
        indexes = [
            models.Index(fields=["number_index"], name="phone_number_index_idx"),
            models.Index(fields=["tail_index"], name="phone_tail_index_idx"),
        ]

    def __str__(self) -> str:
        return self.number


class Encounter(models.Model):
    """The service event follow-up is about: a discharge, an operation, a visit, a sale."""

    class Kind(models.TextChoices):
        DISCHARGE = "discharge", _("Discharge")
        SURGERY = "surgery", _("Surgery")
        OUTPATIENT = "outpatient", _("Outpatient visit")
        TREATMENT_COURSE = "treatment_course", _("Treatment course end")
        CONSULTATION = "consultation", _("Consultation")
        SALE = "sale", _("Sale")
        MAINTENANCE = "maintenance", _("Maintenance")
        # A return visit already booked, dated when it will happen: no rule plans follow-ups
        # for it unless it names this kind, and while it lies ahead no follow-up message or
        # survey goes to the contact (crm.services.followup_messages).
        APPOINTMENT = "appointment", _("Return visit booked")

    class Outcome(models.TextChoices):
        NONE = "", _("Not recorded")
        CURED = "cured", _("Cured")
        IMPROVED = "improved", _("Improved")
        UNCHANGED = "unchanged", _("Not improved")
        TRANSFERRED = "transferred", _("Transferred")
        DIED = "died", _("Died")
        SELF_DISCHARGED = "self_discharged", _("Self-discharged")

    contact = models.ForeignKey(
        Contact,
        on_delete=models.PROTECT,
        related_name="encounters",
        verbose_name=_("contact"),
        db_index=False,  # encounter_contact_idx starts with the contact
    )
    # An EncounterKind's code (no choices: each clinic defines its own kinds; the forms, the
    # import and the API check a value against them). A column of codes, not a foreign key,
    # so that raw SQL, the KPI summary and its triggers keep reading it as text.
    kind = models.CharField(_("kind"), max_length=20)
    department = models.ForeignKey(
        Department,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="encounters",
        verbose_name=_("department"),
    )
    attending = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="attended_encounters",
        verbose_name=_("attending clinician"),
        db_index=False,  # encounter_attending_idx, over the few encounters that have one
    )
    attending_name = models.CharField(
        _("attending clinician (name)"), max_length=100, blank=True, default=""
    )
    # Who calls a cured patient back where the rules say so (assignee "the responsible nurse").
    responsible_nurse = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="nursed_encounters",
        verbose_name=_("responsible nurse"),
        db_index=False,  # encounter_nurse_idx, over the encounters that have one
    )
    # db_default: SQL that writes encounters naming only the columns it fills still works.
    responsible_nurse_name = models.CharField(
        _("responsible nurse (name)"), max_length=100, blank=True, default="", db_default=""
    )
    occurred_at = models.DateTimeField(
        _("date"), help_text=_("Discharge, operation, visit or sale date and time.")
    )
    admitted_at = models.DateField(_("admitted on"), null=True, blank=True)
    serial_no = models.CharField(_("serial number"), max_length=30, blank=True, default="")
    age = models.PositiveSmallIntegerField(_("age"), null=True, blank=True)
    diagnosis_code = models.CharField(_("diagnosis code"), max_length=30, blank=True, default="")
    diagnosis = EncryptedCharField(_("diagnosis"), max_length=300, blank=True, default="")
    procedure_code = models.CharField(_("procedure code"), max_length=30, blank=True, default="")
    procedure = EncryptedCharField(_("procedure"), max_length=300, blank=True, default="")
    treatment_course = models.CharField(
        _("treatment course"), max_length=100, blank=True, default=""
    )
    discharge_outcome = models.CharField(
        _("outcome at discharge"),
        max_length=20,
        choices=Outcome.choices,
        blank=True,
        default="",
    )
    length_of_stay = models.PositiveSmallIntegerField(
        _("length of stay (days)"), null=True, blank=True
    )
    bed = models.CharField(_("bed"), max_length=20, blank=True, default="")
    tags = ArrayField(
        models.CharField(max_length=40), verbose_name=_("tags"), default=list, blank=True
    )
    recovered_at = models.DateTimeField(_("recovered on"), null=True, blank=True)
    source = models.CharField(_("source"), max_length=40, default="manual")
    external_id = models.CharField(_("external id"), max_length=100, blank=True, default="")
    notes = EncryptedTextField(_("notes"), blank=True, default="")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        verbose_name = _("encounter")
        verbose_name_plural = _("encounters")
        constraints = [
            # Re-entry and re-import of the same event from the same system is idempotent.
            models.UniqueConstraint(
                fields=["source", "external_id"],
                condition=~Q(external_id=""),
                name="encounter_external_id_unique_per_source",
            )
        ]
        indexes = [
            models.Index(fields=["contact", "-occurred_at"], name="encounter_contact_idx"),
            # For a clinician's encounters and SET NULL when a user is deleted; most
            # encounters come from an HIS that names the clinician as text only.
            models.Index(
                fields=["attending"],
                condition=Q(attending__isnull=False),
                name="encounter_attending_idx",
            ),
            models.Index(
                fields=["responsible_nurse"],
                condition=Q(responsible_nurse__isnull=False),
                name="encounter_nurse_idx",
            ),
        ]

    def __str__(self) -> str:
        label = Encounter.Kind(self.kind).label if self.kind in Encounter.Kind.values else self.kind
        return f"{label} {timezone.localtime(self.occurred_at):%Y-%m-%d}"


class EncounterKind(models.Model):
    """A kind of encounter the clinic follows up: the built-in ones (``Encounter.Kind``, made
    in every clinic as presets) and the clinic's own (an HR department's new hires and
    leavers, a gym's trial class). ``Encounter.kind``, rules, targets and imports name a kind
    by its code."""

    code = models.SlugField(
        _("code"),
        max_length=20,
        unique=True,
        help_text=_("What imports and the API may send; letters, digits, - and _."),
    )
    # Empty for a built-in kind: its label in the reader's language (Encounter.Kind).
    name = models.CharField(_("name"), max_length=60, blank=True, default="")
    builtin = models.BooleanField(_("built-in"), default=False)
    books_return_visit = models.BooleanField(
        _("a booked return visit"),
        default=False,
        help_text=_(
            "Dated when the visit will happen: rules follow it up only when they name it, "
            "and while it lies ahead no follow-up message or survey goes to the contact."
        ),
    )
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    archived = models.BooleanField(
        _("archived"),
        default=False,
        help_text=_("Not offered for new rules and imports; encounters of it stay valid."),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("encounter kind")
        verbose_name_plural = _("encounter kinds")
        constraints = [
            # Imports match a kind by its name whatever the case: two names differing only
            # in case would make a row ambiguous.
            models.UniqueConstraint(
                Lower("name"), condition=~Q(name=""), name="encounter_kind_name_unique"
            )
        ]

    def __str__(self) -> str:
        return str(self.label)

    @property
    def label(self) -> str:
        """What the interface calls the kind, in the active language for a built-in one."""
        if self.name:
            return self.name
        if self.code in Encounter.Kind.values:
            return str(Encounter.Kind(self.code).label)
        return self.code


class EncounterPlanPending(models.Model):
    """An encounter whose follow-ups are not planned yet. A database trigger (migration 0018)
    adds every new encounter, however it came (page, import, API), in the transaction that
    creates it; planning removes it. One still here well after it was created lost its
    planning (the broker was away when it committed, the worker died): the tick plans it.
    Not a foreign key, as EncounterKpiStale: nothing to collect when an encounter goes."""

    encounter_id = models.BigIntegerField(primary_key=True)

    def __str__(self) -> str:
        return f"encounter {self.encounter_id}"

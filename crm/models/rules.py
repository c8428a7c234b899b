"""Follow-up rules: which encounters get which follow-ups when (DESIGN.md §5.1)."""

from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from tenants.models import validate_calling_hours

from .encounters import Encounter
from .people import Department


def _choice_list(choices, label):
    return ArrayField(
        models.CharField(max_length=20, choices=choices),
        verbose_name=label,
        default=list,
        blank=True,
    )


def _text_list(label, help_text=""):
    return ArrayField(
        models.CharField(max_length=40),
        verbose_name=label,
        default=list,
        blank=True,
        help_text=help_text,
    )


class FollowUpRule(models.Model):
    """A tenant's rule. An empty match list matches everything; every matching rule applies,
    except that an ``exclusive`` rule that matches suppresses the rules after it (by
    position) that also match. A *lapsed-customer* rule matches only a contact's last
    encounter, once ``lapse_days`` have passed without a later one (the car dealer's "no visit
    for 6 months" call, the dental recall nobody booked); its steps count from that day."""

    class Trigger(models.TextChoices):
        ENCOUNTER = "encounter", _("After each matching encounter")
        LAPSED = "lapsed", _("Lapsed customer: no later encounter within N days")

    name = models.CharField(_("name"), max_length=120)
    active = models.BooleanField(_("active"), default=True)
    position = models.PositiveIntegerField(_("position"), default=0)
    exclusive = models.BooleanField(
        _("exclusive"),
        default=False,
        help_text=_("When this rule matches, later rules do not apply to the encounter."),
    )
    trigger = models.CharField(
        _("follow up"), max_length=20, choices=Trigger.choices, default=Trigger.ENCOUNTER
    )
    lapse_days = models.PositiveSmallIntegerField(
        _("lapsed after (days)"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(3650)],
        help_text=_(
            "Lapsed customer rules: the contact's last encounter matches once this many days "
            "have passed without a later encounter (a visit, a sale or a booked return "
            "visit). The steps' days count from that day."
        ),
    )
    # EncounterKind codes, the clinic's own included (the rule form offers its kinds).
    match_kinds = ArrayField(
        models.CharField(max_length=20), verbose_name=_("encounter kinds"), default=list, blank=True
    )
    match_departments = models.ManyToManyField(
        Department, blank=True, related_name="+", verbose_name=_("departments")
    )
    match_codes = _text_list(
        _("diagnosis or procedure codes"),
        _("A code matches itself and every code that starts with it, e.g. I10 or K35."),
    )
    match_tags = _text_list(_("tags"), _("The encounter must carry at least one of them."))
    match_outcomes = _choice_list(Encounter.Outcome.choices, _("outcomes at discharge"))
    min_age = models.PositiveSmallIntegerField(_("minimum age"), null=True, blank=True)
    max_age = models.PositiveSmallIntegerField(_("maximum age"), null=True, blank=True)
    exclude_outcomes = _choice_list(Encounter.Outcome.choices, _("excluded outcomes"))
    exclude_tags = _text_list(
        _("excluded tags"), _("e.g. privacy-sensitive: such encounters are never called.")
    )
    calling_hours = models.JSONField(
        _("calling hours override"),
        null=True,
        blank=True,
        validators=[validate_calling_hours],
        help_text=_("Empty: the clinic's calling hours."),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("follow-up rule")
        verbose_name_plural = _("follow-up rules")
        constraints = [
            # The tick counts a lapse from this: a lapsed rule without a positive N would plan
            # a call the day of every encounter, or never.
            models.CheckConstraint(
                condition=Q(trigger="encounter") | Q(lapse_days__isnull=False, lapse_days__gte=1),
                name="rule_lapse_days_positive",
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_lapsed(self) -> bool:
        return self.trigger == self.Trigger.LAPSED

    def clean(self):
        if self.min_age is not None and self.max_age is not None and self.min_age > self.max_age:
            raise ValidationError({"max_age": _("The maximum age is below the minimum age.")})


def lapse_days_message() -> str:
    """What the rule form says to a lapsed rule without a positive N (the database refuses
    one too: rule_lapse_days_positive)."""
    return _(
        "Say after how many days without a new encounter a customer has lapsed: a whole "
        "number of days, 1 or more."
    )


class RuleStep(models.Model):
    """One follow-up of a rule: its window counted in days from the encounter's date, in the
    tenant's time zone. Day N opens at 00:00 of the Nth day after the encounter's date."""

    class Channel(models.TextChoices):
        PHONE = "phone", _("Phone call")
        SMS = "sms", _("SMS")
        EMAIL = "email", _("Email")
        SURVEY_LINK = "survey_link", _("Survey link")

    class Tier(models.IntegerChoices):
        CLINICIAN = 1, _("Tier 1 · clinician")
        CENTRE = 2, _("Tier 2 · follow-up centre")

    class Assignee(models.TextChoices):
        CLINICIAN = "clinician", _("The attending clinician")
        DEPARTMENT = "department", _("The encounter's department queue")
        CENTRE = "centre", _("The follow-up centre")
        ROUND_ROBIN = "round_robin", _("Round-robin among agents")
        # The team the regulation names (an aesthetic clinic's post-op care team …): a
        # department queue chosen on the step, whatever the encounter's department.
        TEAM = "team", _("A team's queue (chosen below)")
        # A hospital's cured patients are called by their responsible nurse (责任护士).
        NURSE = "nurse", _("The responsible nurse")

    class StopWhen(models.TextChoices):
        LIMIT = "limit", _("Only the limit")
        RECOVERED = "recovered", _("The patient has recovered")

    rule = models.ForeignKey(FollowUpRule, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    name = models.CharField(_("name"), max_length=60, help_text=_("e.g. Day 3"))
    offset_days = models.IntegerField(
        _("opens after (days)"), validators=[MinValueValidator(0), MaxValueValidator(3650)]
    )
    due_days = models.IntegerField(
        _("due after (days)"),
        validators=[MinValueValidator(0), MaxValueValidator(3650)],
        help_text=_("The last day of the window; equal to the opening day for a one-day window."),
    )
    grace_days = models.PositiveSmallIntegerField(
        _("grace (days)"),
        default=7,
        validators=[MaxValueValidator(365)],
        help_text=_("An overdue task stays workable this many days after it was due."),
    )
    channel = models.CharField(
        _("channel"), max_length=20, choices=Channel.choices, default=Channel.PHONE
    )
    tier = models.PositiveSmallIntegerField(_("tier"), choices=Tier.choices, default=Tier.CENTRE)
    assignee_policy = models.CharField(
        _("assign to"), max_length=20, choices=Assignee.choices, default=Assignee.CENTRE
    )
    team = models.ForeignKey(
        Department,
        verbose_name=_("team"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_("For “a team's queue”: the department or team that takes these calls."),
    )
    max_attempts = models.PositiveSmallIntegerField(
        _("maximum attempts"), default=3, validators=[MinValueValidator(1), MaxValueValidator(20)]
    )
    retry_gap_hours = models.PositiveSmallIntegerField(
        _("minimum hours between attempts"), default=4, validators=[MaxValueValidator(720)]
    )
    repeat_every_days = models.PositiveSmallIntegerField(
        _("repeat every (days)"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(3650)],
    )
    repeat_limit = models.PositiveSmallIntegerField(
        _("at most (times)"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(50)],
        help_text=_("Hard limit on the number of follow-ups of a repeating step."),
    )
    stop_when = models.CharField(
        _("repeat until"), max_length=20, choices=StopWhen.choices, default=StopWhen.LIMIT
    )
    script = models.TextField(
        _("script"), blank=True, default="", help_text=_("What the agent says and asks.")
    )
    survey = models.ForeignKey(
        "surveys.SurveyTemplate",
        verbose_name=_("survey"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_(
            "Filled in by the agent during a call; sent as a link by SMS or email otherwise."
        ),
    )
    # Anti-fraud pre-notice (DESIGN.md §7a.3): unknown numbers are hung up on as scams, so an
    # SMS names the clinic and the number it will call from (crm.services.followup_messages).
    pre_notice = models.BooleanField(
        _("SMS before the first call"),
        default=False,
        help_text=_(
            "The day before the window opens, an SMS says which number the clinic will call "
            "from (Settings → the number we call from). Phone steps only."
        ),
    )
    # Health education sent with this follow-up (cms.selectors.articles_for_task).
    articles = models.ManyToManyField(
        "cms.ArticlePage", blank=True, related_name="+", verbose_name=_("articles to send")
    )
    articles_matching = models.BooleanField(
        _("also send matching articles"),
        default=False,
        help_text=_(
            "Articles tagged with the encounter's department, diagnosis or procedure, in the "
            "patient's language."
        ),
    )

    class Meta:
        ordering = ["rule", "position", "offset_days", "id"]
        verbose_name = _("step")
        verbose_name_plural = _("steps")

    def __str__(self) -> str:
        return self.name

    @property
    def occurrences(self) -> int:
        return self.repeat_limit if self.repeat_every_days else 1

    def clean(self):
        errors = {}
        if self.offset_days is not None and self.offset_days < 0:
            errors["offset_days"] = _("A step cannot open before the encounter.")
        if (
            self.offset_days is not None
            and self.due_days is not None
            and self.due_days < self.offset_days
        ):
            errors["due_days"] = _("A step cannot be due before it opens.")
        if self.repeat_every_days and not self.repeat_limit:
            errors["repeat_limit"] = _("A repeating step needs a limit.")
        if self.repeat_limit and not self.repeat_every_days:
            errors["repeat_every_days"] = _("Say how often the step repeats, or clear the limit.")
        if (
            self.repeat_every_days
            and self.due_days is not None
            and self.offset_days is not None
            and self.repeat_every_days <= self.due_days - self.offset_days
        ):
            errors["repeat_every_days"] = _(
                "Repeats must be further apart than the window is long."
            )
        if self.assignee_policy == self.Assignee.TEAM and not self.team_id:
            errors["team"] = _("Choose the team that takes these calls.")
        if self.pre_notice and self.channel != self.Channel.PHONE:
            errors["pre_notice"] = _("Only a phone call is announced by an SMS beforehand.")
        if errors:
            raise ValidationError(errors)

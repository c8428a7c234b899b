"""Survey templates, their published versions, invitations by link and responses
(DESIGN.md §6). A template's questions are edited as a draft; publishing freezes them into a
new SurveyVersion, and every response points at the version it answered."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from crm.fields import EncryptedTextField


class Dimension(models.TextChoices):
    OVERALL = "overall", _("Overall")
    DOCTOR = "doctor", _("Doctor")
    NURSE = "nurse", _("Nursing")
    ENVIRONMENT = "environment", _("Environment")
    FEES = "fees", _("Fees")
    ADMINISTRATION = "administration", _("Administration")
    RESULT = "result", _("Result of the treatment")
    SERVICE = "service", pgettext_lazy("survey dimension", "Service")


class QuestionKind(models.TextChoices):
    RATING = "rating", _("Rating 1–5")
    NPS = "nps", _("Recommendation 0–10 (NPS)")
    SINGLE = "single", _("Single choice")
    MULTIPLE = "multiple", _("Multiple choice")
    YES_NO = "yes_no", _("Yes / no")
    TEXT = "text", _("Free text")
    STAFF = "staff", _("Name a staff member to praise")


class Satisfaction(models.TextChoices):
    SATISFIED = "satisfied", _("Satisfied")
    NEUTRAL = "neutral", _("Neutral")
    DISSATISFIED = "dissatisfied", _("Dissatisfied")


class SurveyTemplate(models.Model):
    name = models.CharField(_("name"), max_length=120)
    description = models.TextField(pgettext_lazy("survey", "introduction"), blank=True)
    satisfied_threshold = models.DecimalField(
        _("satisfied from"),
        max_digits=3,
        decimal_places=1,
        default=4,
        help_text=_("A response whose score (1–5) reaches this is counted as satisfied."),
    )
    low_score_threshold = models.DecimalField(
        _("dissatisfied up to"),
        max_digits=3,
        decimal_places=1,
        default=2,
        help_text=_(
            "A score at or below this is dissatisfied; between the two it is neutral. "
            "A dissatisfied response raises a complaint when that is switched on."
        ),
    )
    complaint_on_low_score = models.BooleanField(
        _("raise a complaint on a dissatisfied response"), default=True
    )
    link_days = models.PositiveSmallIntegerField(_("links expire after (days)"), default=14)
    active = models.BooleanField(_("active"), default=True)
    published = models.ForeignKey(
        "SurveyVersion",
        verbose_name=_("published version"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    draft_changed = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("survey template")
        verbose_name_plural = _("survey templates")

    def __str__(self) -> str:
        return self.name


class SurveyQuestion(models.Model):
    """A question of a template's draft. ``key`` stays the same across versions, so answers
    to "the doctor question" of every version can be counted together."""

    template = models.ForeignKey(SurveyTemplate, on_delete=models.CASCADE, related_name="questions")
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    key = models.SlugField(_("key"), max_length=40)
    kind = models.CharField(_("kind"), max_length=20, choices=QuestionKind.choices)
    text_zh = models.CharField(_("question (Chinese)"), max_length=300, blank=True)
    text_en = models.CharField(_("question (English)"), max_length=300, blank=True)
    dimension = models.CharField(
        _("dimension"), max_length=20, choices=Dimension.choices, blank=True
    )
    required = models.BooleanField(_("required"), default=True)
    choices = models.JSONField(
        _("choices"), default=list, blank=True, help_text=_("[[Chinese, English], …]")
    )
    raises_complaint = models.BooleanField(
        _("an answer raises a complaint"),
        default=False,
        help_text=_("Free text: any answer; yes / no: the answer yes."),
    )

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["template", "key"], name="survey_question_key_once")
        ]

    def __str__(self) -> str:
        return self.text_zh or self.text_en


class SurveyVersion(models.Model):
    """What a template looked like when it was published: never changed afterwards."""

    template = models.ForeignKey(SurveyTemplate, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    questions = models.JSONField()
    satisfied_threshold = models.DecimalField(max_digits=3, decimal_places=1)
    low_score_threshold = models.DecimalField(max_digits=3, decimal_places=1)
    complaint_on_low_score = models.BooleanField()
    published_at = models.DateTimeField()
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["template", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["template", "number"], name="survey_version_once")
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.number}"


class SurveyInvitation(models.Model):
    """A link sent to a contact. Only a hash of the link's secret is kept: the link itself
    lives in the message that carried it. By SMS the link is short (surveys.links), by email
    long and signed; a reminder carries a link of its own, to the same invitation."""

    class Channel(models.TextChoices):
        SMS = "sms", _("SMS")
        EMAIL = "email", _("Email")
        WECHAT = "wechat", _("WeChat")
        LINK = "link", _("Link handed over")

    template = models.ForeignKey(SurveyTemplate, on_delete=models.PROTECT, related_name="+")
    contact = models.ForeignKey("crm.Contact", on_delete=models.CASCADE, related_name="+")
    task = models.ForeignKey(
        "crm.FollowUpTask", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.LINK)
    # The one-question SMS whose digit reply answers this invitation.
    message = models.ForeignKey(
        "crm.Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    secret_hash = models.CharField(max_length=64, unique=True)
    reminder_hash = models.CharField(max_length=64, unique=True, null=True, blank=True)
    # When the one reminder went to the outbox, or was dropped because nothing could carry
    # it (no number left, a return visit booked): either way there is never a second.
    reminded_at = models.DateTimeField(null=True, blank=True)
    language = models.CharField(max_length=10, blank=True)
    expires_at = models.DateTimeField()
    opened_at = models.DateTimeField(null=True, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            # The tick's reminder pass reads only invitations still waiting for an answer.
            models.Index(
                fields=["created_at"],
                condition=models.Q(answered_at__isnull=True, reminded_at__isnull=True),
                name="invitation_unanswered_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.template_id}"


class SurveyResponse(models.Model):
    class Source(models.TextChoices):
        CALL = "call", _("During a call")
        LINK = "link", _("By link")
        SMS_REPLY = "sms_reply", _("By SMS reply")

    version = models.ForeignKey(SurveyVersion, on_delete=models.PROTECT, related_name="responses")
    template = models.ForeignKey(SurveyTemplate, on_delete=models.PROTECT, related_name="+")
    source = models.CharField(_("source"), max_length=10, choices=Source.choices)
    invitation = models.OneToOneField(
        SurveyInvitation, null=True, blank=True, on_delete=models.SET_NULL, related_name="response"
    )
    task = models.OneToOneField(
        "crm.FollowUpTask",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="survey_response",
    )
    contact = models.ForeignKey("crm.Contact", on_delete=models.CASCADE, related_name="+")
    encounter = models.ForeignKey(
        "crm.Encounter", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    department = models.ForeignKey(
        "crm.Department", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_("The agent who filled it in during a call."),
    )
    language = models.CharField(max_length=10, blank=True)
    score = models.DecimalField(_("score"), max_digits=3, decimal_places=2, null=True)
    nps = models.PositiveSmallIntegerField(null=True)
    satisfaction = models.CharField(
        _("satisfaction"), max_length=12, choices=Satisfaction.choices, blank=True
    )
    submitted_at = models.DateTimeField(_("submitted at"))

    class Meta:
        ordering = ["-submitted_at", "-id"]
        indexes = [models.Index(fields=["submitted_at"], name="response_submitted_idx")]

    def __str__(self) -> str:
        return f"#{self.pk} v{self.version_id}"


class SurveyAnswer(models.Model):
    response = models.ForeignKey(SurveyResponse, on_delete=models.CASCADE, related_name="answers")
    question_key = models.SlugField(max_length=40)
    kind = models.CharField(max_length=20, choices=QuestionKind.choices)
    dimension = models.CharField(max_length=20, choices=Dimension.choices, blank=True)
    number = models.SmallIntegerField(null=True, help_text="rating, NPS, yes (1) / no (0)")
    text = EncryptedTextField(blank=True)  # a patient's own words
    choices = models.JSONField(default=list, blank=True)
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["response", "question_key"], name="survey_answer_once")
        ]

    def __str__(self) -> str:
        return f"{self.question_key}={self.number if self.number is not None else self.text}"

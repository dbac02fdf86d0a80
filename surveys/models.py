"""Surveys of a program's members: what is asked (``Survey``), who is asked (``Invitation``), what they
answered (``Response``) and the follow-up of an unhappy answer (``FollowUpCase``).

A survey's questions are stored per language (English, German) with ``{program}`` standing for the
program's name. An invitation has no token of its own: its link carries the invitation's id, signed
(``surveys.services.invitation_token``), and it is single-use because an answered invitation is refused.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Kind(models.TextChoices):
    NPS = "nps", "Net Promoter Score (0–10)"
    CSAT = "csat", "Customer satisfaction (1–5)"
    CES = "ces", "Customer effort (1–7)"


# The answer scale of each kind: lowest and highest score.
SCALES = {Kind.NPS: (0, 10), Kind.CSAT: (1, 5), Kind.CES: (1, 7)}

DEFAULT_QUESTIONS = {
    Kind.NPS: ("How likely are you to recommend {program} to a friend?",
               "Wie wahrscheinlich ist es, dass Sie {program} einem Freund oder einer Freundin empfehlen?"),
    Kind.CSAT: ("How satisfied are you with {program}?",
                "Wie zufrieden sind Sie mit {program}?"),
    Kind.CES: ("{program} made it easy for me to collect and use my points.",
               "{program} hat es mir leicht gemacht, meine Punkte zu sammeln und einzulösen."),
}
DEFAULT_FOLLOW_UP = ("What is the main reason for your score?", "Was ist der wichtigste Grund für Ihre Bewertung?")

DEFAULT_COOLDOWN_DAYS = 90
DEFAULT_INVITATION_DAYS = 14
DEFAULT_REPLY_TARGET_BUSINESS_DAYS = 2


class Survey(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    program = models.ForeignKey("programs.Program", on_delete=models.PROTECT, related_name="surveys")
    code = models.SlugField(max_length=32, help_text="Unique in the program, e.g. nps; the POS names it.")
    name = models.CharField(max_length=120, help_text="What staff and the invitation email call it.")
    kind = models.CharField(max_length=4, choices=Kind.choices)
    question_en = models.CharField(max_length=300, help_text="{program} stands for the program's name.")
    question_de = models.CharField(max_length=300, help_text="{program} stands for the program's name.")
    follow_up_en = models.CharField(max_length=300, blank=True, default=DEFAULT_FOLLOW_UP[0],
                                    help_text="The free-text question after the score; empty: none.")
    follow_up_de = models.CharField(max_length=300, blank=True, default=DEFAULT_FOLLOW_UP[1])
    # Optional further questions, each {"id", "type": "choice"|"text", "text_en", "text_de",
    # "choices_en": [...], "choices_de": [...]} (``services.extra_questions_check``).
    extra_questions = models.JSONField(default=list, blank=True)
    active = models.BooleanField(default=True)
    starts_at = models.DateTimeField(null=True, blank=True, help_text="Empty: from now on.")
    ends_at = models.DateTimeField(null=True, blank=True, help_text="Empty: open-ended.")
    bonus_points = models.PositiveIntegerField(
        default=0, help_text="Points for answering, once per member and survey; 0: no bonus.")
    # Distribution: which events invite, how many of them, how late, and how often a member may be asked.
    on_purchase = models.BooleanField(default=False, help_text="Invite after a purchase.")
    on_redemption = models.BooleanField(default=False, help_text="Invite after a redemption.")
    on_tier_change = models.BooleanField(default=False, help_text="Invite after a tier change.")
    sampling_rate = models.DecimalField(
        max_digits=5, decimal_places=4, default=Decimal("1"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("1"))],
        help_text="Share of events that invite, 0 to 1 (0.1 = one in ten).")
    delay_minutes = models.PositiveIntegerField(default=60, help_text="Wait this long after the event.")
    cooldown_days = models.PositiveIntegerField(
        default=DEFAULT_COOLDOWN_DAYS,
        help_text="No invitation if the member was invited to any survey of the program within this many days.")
    invitation_days = models.PositiveIntegerField(default=DEFAULT_INVITATION_DAYS,
                                                  validators=[MinValueValidator(1)],
                                                  help_text="An invitation's link works this many days.")
    reply_target_business_days = models.PositiveSmallIntegerField(
        default=DEFAULT_REPLY_TARGET_BUSINESS_DAYS,
        help_text="A follow-up case is due this many business days after the answer.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["program", "code"]
        constraints = [
            models.UniqueConstraint(fields=["program", "code"], name="survey_code_unique_in_program"),
            models.CheckConstraint(condition=Q(kind__in=["nps", "csat", "ces"]), name="survey_kind_valid"),
            models.CheckConstraint(condition=Q(sampling_rate__gte=0, sampling_rate__lte=1),
                                   name="survey_sampling_rate_valid"),
        ]

    def __str__(self):
        return f"{self.name} ({self.code})"

    @property
    def scale(self) -> tuple[int, int]:
        return SCALES[self.kind]

    def is_open(self, at=None) -> bool:
        at = at or timezone.now()
        return self.active and (self.starts_at is None or self.starts_at <= at) and (
            self.ends_at is None or at < self.ends_at)

    def question(self, language: str, program_name: str) -> str:
        text = self.question_de if language == "de" else self.question_en
        return text.replace("{program}", program_name)

    def follow_up(self, language: str) -> str:
        return self.follow_up_de if language == "de" else self.follow_up_en


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    PORTAL = "portal", "Portal"
    POS = "pos", "Point of sale"


class Trigger(models.TextChoices):
    PURCHASE = "purchase", "Purchase"
    REDEMPTION = "redemption", "Redemption"
    TIER_CHANGE = "tier_change", "Tier change"
    CASE_RESOLUTION = "case_resolution", "Case resolved"
    MANUAL = "manual", "Sent by staff"


class Invitation(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for its time"
        SENT = "sent", "Sent"
        SKIPPED = "skipped", "Not sent"
        ANSWERED = "answered", "Answered"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    program = models.ForeignKey("programs.Program", on_delete=models.CASCADE, related_name="+")
    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="invitations")
    member = models.ForeignKey("members.Member", on_delete=models.CASCADE, related_name="+")
    channel = models.CharField(max_length=8, choices=Channel.choices, default=Channel.EMAIL)
    trigger = models.CharField(max_length=16, choices=Trigger.choices)
    # The occasion that invited (a domain event's id): one invitation per survey, member and occasion.
    trigger_key = models.CharField(max_length=100)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    skip_reason = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    due_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["survey", "member", "trigger_key"], name="invitation_once_per_occasion"),
            models.CheckConstraint(condition=Q(status__in=["pending", "sent", "skipped", "answered"]),
                                   name="invitation_status_valid"),
        ]
        indexes = [
            models.Index(fields=["due_at"], condition=Q(status="pending"), name="invitation_due_idx"),
            # The cool-down: "was this member invited in the program lately?"
            models.Index(fields=["program", "member", "-created_at"], name="invitation_member_idx"),
        ]

    def __str__(self):
        return f"{self.survey.code} to {self.member_id} ({self.status})"


class Category(models.TextChoices):
    PROMOTER = "promoter", "Promoter"
    PASSIVE = "passive", "Passive"
    DETRACTOR = "detractor", "Detractor"


class Topic(models.Model):
    """What answers are about, named by staff (suggested from frequent phrases, confirmed by a person)."""

    program = models.ForeignKey("programs.Program", on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=60)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["program", "name"], name="topic_name_unique_in_program")]

    def __str__(self):
        return self.name


class Response(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    program = models.ForeignKey("programs.Program", on_delete=models.CASCADE, related_name="+")
    survey = models.ForeignKey(Survey, on_delete=models.PROTECT, related_name="responses")
    member = models.ForeignKey("members.Member", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    invitation = models.OneToOneField(Invitation, null=True, blank=True, on_delete=models.SET_NULL,
                                      related_name="response")
    store = models.ForeignKey("programs.Store", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    external_id = models.CharField(max_length=64, blank=True, default="",
                                   help_text="The till's id of the answer (POS answers only).")
    channel = models.CharField(max_length=8, choices=Channel.choices)
    score = models.SmallIntegerField()
    category = models.CharField(max_length=10, choices=Category.choices, blank=True, default="",
                                help_text="NPS answers only.")
    comment = models.TextField(blank=True, default="")
    answers = models.JSONField(default=dict, blank=True, help_text="The extra questions' answers, by question id.")
    answered_at = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now)
    incentivised = models.BooleanField(default=False, help_text="The answer earned a points bonus.")
    topics = models.ManyToManyField(Topic, blank=True, related_name="responses")

    class Meta:
        ordering = ["-answered_at"]
        constraints = [
            models.UniqueConstraint(fields=["store", "external_id"], condition=~Q(external_id=""),
                                    name="response_external_id_unique_per_store"),
            models.CheckConstraint(condition=Q(score__gte=0, score__lte=10), name="response_score_range"),
            models.CheckConstraint(condition=Q(category__in=["", "promoter", "passive", "detractor"]),
                                   name="response_category_valid"),
        ]
        indexes = [
            models.Index(fields=["survey", "answered_at"], name="response_survey_time_idx"),
            # analytics' health rollup: the members who answered on the days it rolls up
            models.Index(fields=["program", "answered_at"], name="response_program_time_idx"),
        ]

    def __str__(self):
        return f"{self.survey.code}: {self.score}"


class FollowUpCase(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        IN_PROGRESS = "in_progress", "In progress"
        RESOLVED = "resolved", "Resolved"
        CLOSED = "closed", "Closed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    response = models.OneToOneField(Response, on_delete=models.CASCADE, related_name="case")
    program = models.ForeignKey("programs.Program", on_delete=models.CASCADE, related_name="+")
    member = models.ForeignKey("members.Member", on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.OPEN)
    assignee = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+")
    due_at = models.DateTimeField()
    root_cause = models.CharField(max_length=200, blank=True, default="")
    notes = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True,
                                        help_text="When the program's managers were told the case is overdue.")

    class Meta:
        ordering = ["due_at"]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=["open", "in_progress", "resolved", "closed"]),
                                   name="case_status_valid"),
        ]
        indexes = [models.Index(fields=["program", "status", "due_at"], name="case_queue_idx")]

    def __str__(self):
        return f"Case {self.pk} ({self.status})"


class FollowUpCaseChange(models.Model):
    """One step in a case's life: who changed its status, assignee or notes, when, and why (append-only)."""

    case = models.ForeignKey(FollowUpCase, on_delete=models.CASCADE, related_name="changes")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    actor_name = models.CharField(max_length=150, help_text="Who, as named then (a person, or the member's answer).")
    from_status = models.CharField(max_length=12, choices=FollowUpCase.Status.choices, blank=True, default="")
    to_status = models.CharField(max_length=12, choices=FollowUpCase.Status.choices)
    assignee_name = models.CharField(max_length=150, blank=True, default="",
                                     help_text="The assignee after the change, as named then.")
    note = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self):
        return f"{self.case_id}: {self.from_status} → {self.to_status}"

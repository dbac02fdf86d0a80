"""Member notifications: per-program settings and the email outbox.

An ``Outbox`` row is one message: what its templates need when it is queued, the rendered text once
a worker has sent it. It is written in the transaction of the action it reports, so a rolled-back
action sends nothing, and claimed by workers (see ``loyalty.queue``) so a message survives a
worker that dies and is never claimed by two workers at once.
``dedupe_key`` is unique: one message per member, kind and occasion (an earn, a tier change, an
expiry-warning window), however often the occasion is reported.
"""

from django.core.serializers.json import DjangoJSONEncoder
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Kind(models.TextChoices):
    POINTS_EARNED = "points_earned", "Points earned"
    TIER_CHANGED = "tier_changed", "Tier changed"
    POINTS_EXPIRING = "points_expiring", "Points expiring"
    REWARD_ISSUED = "reward_issued", "Reward issued"
    SURVEY_INVITATION = "survey_invitation", "Survey invitation"
    PASSWORD_RESET = "password_reset", "Password reset"
    EMAIL_CONFIRMATION = "email_confirmation", "Email confirmation"
    CARD_CLAIM = "card_claim", "Card claim"


class Category(models.TextChoices):
    """Transactional messages report on the member's own account and go without marketing consent;
    marketing messages go only to members who opted in (``Member.marketing_opt_in``)."""

    TRANSACTIONAL = "transactional", "Transactional"
    MARKETING = "marketing", "Marketing"


# Which kinds need consent. A survey invitation asks for something the member did not request
# (feedback for the program's benefit), so it is marketing; the others report on the account, and the
# account's links (a new password, confirming the email, claiming a card made at the till) were asked for.
KIND_CATEGORY = {
    Kind.POINTS_EARNED: Category.TRANSACTIONAL,
    Kind.TIER_CHANGED: Category.TRANSACTIONAL,
    Kind.POINTS_EXPIRING: Category.TRANSACTIONAL,
    Kind.REWARD_ISSUED: Category.TRANSACTIONAL,
    Kind.SURVEY_INVITATION: Category.MARKETING,
    Kind.PASSWORD_RESET: Category.TRANSACTIONAL,
    Kind.EMAIL_CONFIRMATION: Category.TRANSACTIONAL,
    Kind.CARD_CLAIM: Category.TRANSACTIONAL,
}

DEFAULT_EXPIRY_WARNING_DAYS = 30


class NotificationSettings(models.Model):
    """A program's notification choices; a program without a row uses the defaults."""

    program = models.OneToOneField("programs.Program", on_delete=models.CASCADE,
                                   related_name="notification_settings")
    emails_enabled = models.BooleanField(default=True, help_text="Send member emails at all.")
    from_email = models.CharField(max_length=200, blank=True, default="",
                                  help_text='Sender, e.g. "Coffee Club <club@example.com>"; empty: the site default.')
    expiry_warning_days = models.PositiveSmallIntegerField(
        default=DEFAULT_EXPIRY_WARNING_DAYS, validators=[MaxValueValidator(365)],
        help_text="Warn members of points expiring within this many days, at most once per this many days; "
                  "0 sends no warnings.")

    class Meta:
        verbose_name = verbose_name_plural = "notification settings"

    def __str__(self):
        return f"Notifications of {self.program}"


class Outbox(models.Model):
    class Channel(models.TextChoices):
        EMAIL = "email", "Email"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    program = models.ForeignKey("programs.Program", on_delete=models.CASCADE, related_name="+")
    member = models.ForeignKey("members.Member", null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="+")
    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.EMAIL)
    kind = models.CharField(max_length=32, choices=Kind.choices)
    category = models.CharField(max_length=16, choices=Category.choices)
    dedupe_key = models.CharField(max_length=200, unique=True)
    to = models.CharField(max_length=254)
    from_email = models.CharField(max_length=200)
    # The message as sent, written by the worker that renders it from ``context`` (rows from before
    # ``context`` existed were rendered when queued). Read it as ``subject``, ``text`` and ``html``.
    rendered_subject = models.CharField(max_length=300, blank=True, default="", db_column="subject")
    rendered_text = models.TextField(blank=True, default="", db_column="text")
    rendered_html = models.TextField(blank=True, default="", db_column="html")
    # What the templates are given, as it was when the message was queued (``notifications.services``).
    # db_default: code from before this column, still queueing rendered rows during a deploy, inserts {}.
    context = models.JSONField(default=dict, blank=True, db_default={}, encoder=DjangoJSONEncoder)
    headers = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    claimed_until = models.DateTimeField(null=True, blank=True)
    claim_token = models.UUIDField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")

    class Meta:
        verbose_name = verbose_name_plural = "outbox"
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=["pending", "sent", "failed", "cancelled"]),
                                   name="outbox_status_valid"),
            models.CheckConstraint(condition=Q(category__in=["transactional", "marketing"]),
                                   name="outbox_category_valid"),
        ]
        indexes = [
            # The workers' queue: only pending rows are in it.
            models.Index(fields=["next_attempt_at"], condition=Q(status="pending"), name="outbox_due_idx"),
            # "Was this member warned within the window?"
            models.Index(fields=["member", "kind", "-created_at"], name="outbox_member_kind_idx"),
        ]

    def __str__(self):
        return f"{self.kind} to {self.to} ({self.status})"



class EmailTemplateOverride(models.Model):
    """A program's own wording of one email in one language, sent in place of the platform's default.

    ``subject`` and ``body`` are Django template text over the email's context (``member``, ``program``,
    ``data``); the body is plain text, framed by the program's email layout and, in the HTML version, set in
    paragraphs. ``notifications.services.email_template_check`` refuses what could not be sent.
    """

    class Language(models.TextChoices):
        ENGLISH = "en", "English"
        GERMAN = "de", "German"

    program = models.ForeignKey("programs.Program", on_delete=models.CASCADE,
                                related_name="email_template_overrides")
    kind = models.CharField(max_length=32, choices=Kind.choices)
    language = models.CharField(max_length=2, choices=Language.choices)
    subject = models.CharField(max_length=300)
    body = models.TextField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["program", "kind", "language"], name="email_override_one_per_email"),
            models.CheckConstraint(condition=Q(language__in=["en", "de"]), name="email_override_language_valid"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} ({self.get_language_display()})"

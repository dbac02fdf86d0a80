"""Who may run which program, what they did, and the changes that wait for a second person."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Role(models.TextChoices):
    MANAGER = "manager", "Manager"
    AGENT = "agent", "Support agent"
    ANALYST = "analyst", "Analyst"


class StaffRole(models.Model):
    """One person's role in one program. Superusers need none: they run every program as managers."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff_roles")
    program = models.ForeignKey("programs.Program", on_delete=models.CASCADE, related_name="+")
    role = models.CharField(max_length=16, choices=Role.choices)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["program__name", "user__username"]
        verbose_name = "staff role"
        constraints = [
            models.UniqueConstraint(fields=["user", "program"], name="staff_role_one_per_program"),
            models.CheckConstraint(condition=Q(role__in=["manager", "agent", "analyst"]), name="staff_role_valid"),
        ]

    def __str__(self):
        return f"{self.user} · {self.get_role_display()} of {self.program}"


class StaffPolicy(models.Model):
    """A program's rules for its staff: how far an adjustment goes before a second person must approve."""

    program = models.OneToOneField("programs.Program", on_delete=models.CASCADE, related_name="staff_policy")
    approval_threshold = models.PositiveIntegerField(
        default=1000, help_text="Adjustments of more points than this (either way) wait for a second manager.")
    agent_adjustment_limit = models.PositiveIntegerField(
        default=500, help_text="The most points a support agent may adjust at one time.")
    manager_mfa_required = models.BooleanField(
        default=False, help_text="Managers must sign in with a one-time code from an authenticator app.")

    class Meta:
        verbose_name = "staff policy"
        verbose_name_plural = "staff policies"

    def __str__(self):
        return f"staff policy of {self.program}"


class AuditEvent(models.Model):
    """One staff action: who, when, what (before and after) and why. Rows are only ever added."""

    program = models.ForeignKey("programs.Program", null=True, blank=True, on_delete=models.PROTECT,
                                related_name="+")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    actor_name = models.CharField(max_length=150, help_text="The username at the time, kept if the user goes.")
    action = models.CharField(max_length=64, help_text="What was done, e.g. points.adjust, settings.change.")
    target_type = models.CharField(max_length=64, blank=True, default="")
    target_id = models.CharField(max_length=64, blank=True, default="")
    target_label = models.CharField(max_length=200, blank=True, default="")
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    reason = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "audit event"
        indexes = [
            models.Index(fields=["program", "-created_at", "-id"], name="audit_program_recent_idx"),
            models.Index(fields=["target_type", "target_id"], name="audit_target_idx"),
        ]

    def __str__(self):
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_name} {self.action} {self.target_label}"


class ReasonCode(models.TextChoices):
    GOODWILL = "goodwill", "Goodwill"
    MISSING_PURCHASE = "missing_purchase", "Missing purchase"
    CORRECTION = "correction", "Correction of an error"
    COMPLAINT = "complaint", "Complaint resolution"
    PROMOTION = "promotion", "Promotion or campaign"
    FRAUD = "fraud", "Fraud or abuse"
    MIGRATION = "migration", "Balance migration"
    OTHER = "other", "Other"


class Adjustment(models.Model):
    """A manual points adjustment asked for by staff: posted at once, or waiting for a second person."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for approval"
        POSTED = "posted", "Posted"
        REJECTED = "rejected", "Rejected"

    program = models.ForeignKey("programs.Program", on_delete=models.PROTECT, related_name="+")
    member = models.ForeignKey("members.Member", on_delete=models.PROTECT, related_name="+")
    points = models.BigIntegerField()
    reason_code = models.CharField(max_length=32, choices=ReasonCode.choices)
    note = models.TextField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL,
                                     related_name="+")
    requested_at = models.DateTimeField(default=timezone.now)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.TextField(blank=True, default="")
    batch = models.CharField(max_length=64, blank=True, default="",
                             help_text="The bulk upload this adjustment came from, if any.")
    idempotency_key = models.CharField(max_length=200, help_text="The ledger key the posting uses.")
    transaction_id = models.BigIntegerField(null=True, blank=True, help_text="The ledger transaction posted.")

    class Meta:
        ordering = ["-requested_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["program", "idempotency_key"], name="adjustment_key_unique"),
            models.CheckConstraint(condition=~Q(points=0), name="adjustment_points_not_zero"),
            models.CheckConstraint(condition=Q(status__in=["pending", "posted", "rejected"]),
                                   name="adjustment_status_valid"),
        ]
        indexes = [models.Index(fields=["program", "status", "-requested_at"], name="adjustment_queue_idx")]

    def __str__(self):
        return f"{self.points:+,d} points for {self.member} ({self.get_status_display().lower()})"


class ImportJob(models.Model):
    """A CSV import: checked in a dry run, then run in the background with its progress recorded."""

    class Kind(models.TextChoices):
        MEMBERS = "members", "Members"
        PURCHASES = "purchases", "Purchases"

    class Status(models.TextChoices):
        CHECKING = "checking", "Checking (dry run)"
        CHECKED = "checked", "Checked (dry run)"
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Importing"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    program = models.ForeignKey("programs.Program", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.CHECKING)
    file_name = models.CharField(max_length=200)
    file_sha256 = models.CharField(max_length=64)
    content = models.BinaryField(help_text="The uploaded file, kept until the import has run.")
    total_rows = models.PositiveIntegerField(default=0)
    processed_rows = models.PositiveIntegerField(default=0)
    created_rows = models.PositiveIntegerField(default=0)
    skipped_rows = models.PositiveIntegerField(default=0, help_text="Rows already imported before.")
    error_rows = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True, help_text="[{line, column, message}], first 1,000.")
    dry_run = models.JSONField(default=dict, blank=True,
                               help_text="What the dry run found: {rows, new, already, failed, errors, ignored}.")
    failure = models.TextField(blank=True, default="", help_text="Why the job stopped, when it failed.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+", help_text="Who started the import after its dry run.")
    created_at = models.DateTimeField(default=timezone.now)
    checked_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["program", "file_sha256"], name="import_job_file_idx")]

    def __str__(self):
        return f"{self.get_kind_display()} import {self.file_name} ({self.status})"


class TotpDevice(models.Model):
    """A staff member's authenticator app: the shared secret and the last time step used (no replays)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="totp_device")
    secret = models.CharField(max_length=64)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    last_used_step = models.BigIntegerField(null=True, blank=True)

    class Meta:
        verbose_name = "authenticator app"

    def __str__(self):
        return f"authenticator of {self.user}"

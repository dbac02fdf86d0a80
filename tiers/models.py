"""Tiers: what a program's tiers are, what qualifies for them, and where each member stands.

A member's tier is decided by a *qualifying value*: a windowed sum over their
``QualifyingActivity`` rows (points earned, spend or qualifying credits, as the
program's ``TierPolicy`` says), counted from each activity's ``occurred_at``.
A member with no ``MemberTier`` row is at the program's lowest tier whose
threshold is 0, if it has one; every member with qualifying activity has a row.
"""

import uuid

from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q


class TierPolicy(models.Model):
    class Metric(models.TextChoices):
        POINTS = "points", "Points earned"
        SPEND = "spend", "Spend"
        CREDITS = "credits", "Qualifying credits"

    class Window(models.TextChoices):
        ROLLING_MONTHS = "rolling_months", "Rolling window of N months"
        CALENDAR_YEAR = "calendar_year", "Calendar year"

    class Downgrade(models.TextChoices):
        NEVER = "never", "Never"
        END_OF_WINDOW = "end_of_window", "At the end of the window"
        STEPWISE = "stepwise", "One tier at a time, after a grace period"

    program = models.OneToOneField("programs.Program", on_delete=models.CASCADE, related_name="tier_policy")
    metric = models.CharField(max_length=16, choices=Metric.choices, default=Metric.POINTS)
    window = models.CharField(max_length=16, choices=Window.choices, default=Window.ROLLING_MONTHS)
    window_months = models.PositiveSmallIntegerField(
        default=12, validators=[MinValueValidator(1)], help_text="Length of a rolling window.")
    downgrade = models.CharField(max_length=16, choices=Downgrade.choices, default=Downgrade.NEVER)
    grace_days = models.PositiveIntegerField(
        default=30, help_text="Stepwise downgrades: days below the tier's threshold before dropping one tier.")

    class Meta:
        verbose_name_plural = "tier policies"
        constraints = [
            models.CheckConstraint(condition=Q(metric__in=["points", "spend", "credits"]), name="tier_policy_metric"),
            models.CheckConstraint(condition=Q(window__in=["rolling_months", "calendar_year"]),
                                   name="tier_policy_window"),
            models.CheckConstraint(condition=Q(downgrade__in=["never", "end_of_window", "stepwise"]),
                                   name="tier_policy_downgrade"),
            models.CheckConstraint(condition=Q(window_months__gte=1), name="tier_policy_window_months"),
        ]

    def __str__(self):
        return f"{self.program}: {self.metric}, {self.window}, downgrade {self.downgrade}"


class Tier(models.Model):
    program = models.ForeignKey("programs.Program", on_delete=models.CASCADE, related_name="tiers")
    code = models.SlugField(max_length=32)
    name = models.CharField(max_length=80)
    rank = models.PositiveSmallIntegerField(help_text="Higher is better; unique in the program.")
    threshold = models.DecimalField(
        max_digits=14, decimal_places=2, validators=[MinValueValidator(0)],
        help_text="Qualifying value (points, spend or credits in the window) that reaches this tier.")
    multiplier = models.DecimalField(max_digits=6, decimal_places=3, default=1, validators=[MinValueValidator(0)])
    benefits = models.TextField(blank=True, default="")
    perks = models.JSONField(default=list, blank=True, help_text="A list of short perk labels.")

    class Meta:
        ordering = ["program", "rank"]
        constraints = [
            models.UniqueConstraint(fields=["program", "code"], name="tier_code_unique_in_program"),
            models.UniqueConstraint(fields=["program", "rank"], name="tier_rank_unique_in_program"),
            models.CheckConstraint(condition=Q(threshold__gte=0), name="tier_threshold_not_negative"),
            models.CheckConstraint(condition=Q(multiplier__gte=0), name="tier_multiplier_not_negative"),
        ]

    def __str__(self):
        return f"{self.name} ({self.code})"


class QualifyingActivity(models.Model):
    """One earn (positive) or return (negative) as it counts towards tiers."""

    # (program, occurred_at) and (member, occurred_at) serve the foreign keys' lookups too.
    program = models.ForeignKey("programs.Program", on_delete=models.PROTECT, related_name="+", db_index=False)
    member = models.ForeignKey("members.Member", on_delete=models.PROTECT, related_name="qualifying_activity",
                               db_index=False)
    occurred_at = models.DateTimeField()
    points = models.BigIntegerField(default=0)
    spend = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    credits = models.IntegerField(default=0)
    source_type = models.CharField(max_length=32)
    source_id = models.CharField(max_length=64)
    actor = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "qualifying activity"
        constraints = [
            models.UniqueConstraint(fields=["program", "source_type", "source_id"],
                                    name="qualifying_activity_once_per_source"),
        ]
        indexes = [
            # A member's window is summed on every purchase: with its units in the index, from the index alone
            # (a regular's year of activities lies on as many table pages as there are activities).
            models.Index(fields=["member", "occurred_at"], include=["points", "spend", "credits"],
                         name="qualifying_member_window_idx"),
            models.Index(fields=["program", "occurred_at"], name="qualifying_program_time_idx"),
        ]

    def __str__(self):
        return f"{self.source_type} {self.source_id}: {self.points} points, {self.spend} spend"


class MemberTier(models.Model):
    """Where a member stands. ``qualifying_value`` is a cache of the windowed sum."""

    # Few indexes, none on a column a recalculation writes: its updates stay cheap (HOT on PostgreSQL).
    member = models.OneToOneField("members.Member", on_delete=models.CASCADE, related_name="tier_status",
                                  primary_key=True)
    program = models.ForeignKey("programs.Program", on_delete=models.PROTECT, related_name="+", db_index=False)
    tier = models.ForeignKey(Tier, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                             db_index=False)
    qualifying_value = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    achieved_at = models.DateTimeField(help_text="When the member reached this tier.")
    valid_until = models.DateTimeField(
        null=True, blank=True,
        help_text="End of the window the tier holds for (downgrade at the end of the window).")
    below_since = models.DateTimeField(
        null=True, blank=True, help_text="First recalculation that found the member below the tier (grace).")
    locked_until = models.DateTimeField(
        null=True, blank=True, help_text="A manual tier is not recalculated before this moment.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["program", "member"], name="member_tier_program_idx")]

    def __str__(self):
        return f"{self.member}: {self.tier or 'no tier'}"


class TierChange(models.Model):
    """History: every change of a member's tier, with why and who."""

    class Cause(models.TextChoices):
        UPGRADE = "upgrade", "Upgrade on reaching a threshold"
        DOWNGRADE = "downgrade", "Downgrade by the program's policy"
        MANUAL = "manual", "Set by staff"
        RECALC = "recalc", "Raised by recalculation"

    program = models.ForeignKey("programs.Program", on_delete=models.PROTECT, related_name="+")
    member = models.ForeignKey("members.Member", on_delete=models.CASCADE, related_name="tier_changes",
                               db_index=False)  # (member, -created_at) serves it
    from_tier = models.ForeignKey(Tier, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                  db_index=False)
    to_tier = models.ForeignKey(Tier, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                db_index=False)
    cause = models.CharField(max_length=16, choices=Cause.choices)
    reason = models.TextField(blank=True, default="")
    actor = models.CharField(max_length=100)
    qualifying_value = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["member", "-created_at"], name="tier_change_member_idx"),
            # The behaviour rollup counts a program's tier changes month by month.
            models.Index(fields=["program", "created_at"], name="tier_change_program_time_idx"),
        ]

    def __str__(self):
        return f"{self.from_tier or 'no tier'} → {self.to_tier or 'no tier'} ({self.get_cause_display().lower()})"


class RecalculationRow(models.Model):
    """Work table of a set-based recalculation: one decided change per member, deleted when applied."""

    run_id = models.UUIDField(default=uuid.uuid4, db_index=True)
    member_id = models.UUIDField()
    old_tier_id = models.BigIntegerField(null=True)
    new_tier_id = models.BigIntegerField(null=True)
    qualifying_value = models.DecimalField(max_digits=14, decimal_places=2)
    achieved_at = models.DateTimeField()
    valid_until = models.DateTimeField(null=True)
    below_since = models.DateTimeField(null=True)
    cause = models.CharField(max_length=16, null=True)

    class Meta:
        db_table = "tiers_recalculation_row"

    def __str__(self):
        return f"run {self.run_id}: {self.member_id} {self.old_tier_id} → {self.new_tier_id}"


"""The points ledger: the only tables that hold points.

Accounts cache balances; transactions and entries are append-only; lots carry
each earn's remaining points with its release and expiry dates. Everything
else asks ``ledger.services`` to move points and never writes these tables.
"""

import uuid

from django.contrib.postgres.indexes import BrinIndex
from django.db import models
from django.db.models import F, Q
from django.utils import timezone


class Kind(models.TextChoices):
    EARN = "earn", "Earned"
    BONUS = "bonus", "Bonus"
    REDEEM = "redeem", "Redeemed"
    RETURN = "return", "Returned purchase"
    EXPIRE = "expire", "Expired"
    ADJUST = "adjust", "Adjustment"
    RELEASE = "release", "Released"
    TRANSFER_IN = "transfer_in", "Transfer received"
    TRANSFER_OUT = "transfer_out", "Transfer sent"
    REFUND = "refund", "Refund"


class PointsAccount(models.Model):
    """A member's balance. ``available`` and ``pending`` are caches of the entries.

    ``debt`` holds points a return took back after they had been spent: the
    member's spendable balance is ``available - debt`` and may be negative.
    While there is debt, ``available`` is zero (debt is paid before anything
    becomes spendable), so ``available >= 0`` holds under every operation.
    """

    program = models.ForeignKey("programs.Program", on_delete=models.PROTECT, related_name="+")
    member = models.OneToOneField("members.Member", on_delete=models.PROTECT, related_name="account")
    available = models.BigIntegerField(default=0)
    pending = models.BigIntegerField(default=0)
    debt = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(available__gte=0), name="account_available_not_negative"),
            models.CheckConstraint(condition=Q(pending__gte=0), name="account_pending_not_negative"),
            models.CheckConstraint(condition=Q(debt__gte=0), name="account_debt_not_negative"),
        ]

    def __str__(self):
        return f"points account of {self.member}"

    @property
    def spendable(self) -> int:
        return self.available - self.debt


class LedgerTransaction(models.Model):
    """One business event that moved points, exactly once per idempotency key."""

    program = models.ForeignKey("programs.Program", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    idempotency_key = models.CharField(max_length=200)
    source_type = models.CharField(max_length=32, help_text="What caused it: purchase, return, redemption, …")
    source_id = models.CharField(max_length=64, blank=True, default="")
    actor = models.CharField(max_length=100, help_text="Who caused it: api_key:<id>, user:<id>, task:<name>")
    reason = models.TextField(blank=True, default="")
    reverses = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversals",
        help_text="The transaction this one corrects, if any.",
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["program", "idempotency_key"], name="ledger_txn_idempotency_unique"),
        ]
        indexes = [models.Index(fields=["source_type", "source_id"], name="ledger_txn_source_idx")]

    def __str__(self):
        return f"{self.kind} {self.idempotency_key}"


class PointsLot(models.Model):
    """Points from one earn: pending until ``available_at``, spent soonest-expiring first."""

    program = models.ForeignKey("programs.Program", on_delete=models.PROTECT, related_name="+")
    account = models.ForeignKey(PointsAccount, on_delete=models.PROTECT, related_name="lots")
    amount = models.BigIntegerField()
    remaining = models.BigIntegerField()
    earned_at = models.DateTimeField()
    available_at = models.DateTimeField()
    released = models.BooleanField(default=False, help_text="Counted in available (else in pending).")
    expires_at = models.DateTimeField(null=True, blank=True)
    expired = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="lot_amount_positive"),
            models.CheckConstraint(
                condition=Q(remaining__gte=0) & Q(remaining__lte=F("amount")), name="lot_remaining_in_range"
            ),
        ]
        indexes = [
            # Spending order within an account, whole: a spend reads its lots in index order and stops.
            models.Index(fields=["account", "expires_at", "earned_at", "id"], condition=Q(remaining__gt=0),
                         name="lot_spending_order_idx"),
            # The two batch jobs read only their own small slice.
            models.Index(fields=["expires_at"], condition=Q(remaining__gt=0, expired=False),
                         name="lot_expiry_due_idx"),
            models.Index(fields=["available_at"], condition=Q(released=False), name="lot_release_due_idx"),
            # One account's pending lots by release time: with lot_spending_order_idx, what falls due for an
            # account is found without reading its history (ledger/sql.py, _DUE_WHERE).
            models.Index(fields=["account", "available_at"], condition=Q(released=False), name="lot_pending_due_idx"),
        ]

    def __str__(self):
        return f"lot {self.pk}: {self.remaining}/{self.amount}"


class LedgerEntry(models.Model):
    """One account's side of a transaction. Never updated, never deleted.

    ``points`` is what the member's statement shows (signed); the three deltas
    are the accounting that the cached balances must equal when summed.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False,
                                 help_text="The entry's id in the API (public identifiers are UUIDs).")
    transaction = models.ForeignKey(LedgerTransaction, on_delete=models.PROTECT, related_name="entries")
    program = models.ForeignKey("programs.Program", on_delete=models.PROTECT, related_name="+")
    account = models.ForeignKey(PointsAccount, on_delete=models.PROTECT, related_name="entries")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    points = models.BigIntegerField()
    available_delta = models.BigIntegerField(default=0)
    pending_delta = models.BigIntegerField(default=0)
    debt_delta = models.BigIntegerField(default=0)
    lot = models.ForeignKey(PointsLot, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                            help_text="The lot an earn created.")
    expires_at = models.DateTimeField(null=True, blank=True)
    description = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "ledger entries"
        indexes = [
            models.Index(fields=["account", "-created_at", "-id"], name="entry_activity_idx"),
            # Entries by booking time, for a program's figures per day (the staff home): entries are appended
            # in time order, so a block-range index a few kB in size skips all but the days asked for, and
            # costs the posting path next to nothing (a B-tree would be one more index insert per entry).
            BrinIndex(fields=["created_at"], name="entry_booked_brin_idx"),
        ]

    def __str__(self):
        return f"{self.kind} {self.points:+d}"


class LotMovement(models.Model):
    """Points an entry took from (negative) or gave back to (positive) a lot: the audit trail of lots."""

    entry = models.ForeignKey(LedgerEntry, on_delete=models.PROTECT, related_name="movements")
    lot = models.ForeignKey(PointsLot, on_delete=models.PROTECT, related_name="movements")
    points = models.BigIntegerField()

    class Meta:
        indexes = [models.Index(fields=["lot"], name="lot_movement_lot_idx")]

    def __str__(self):
        return f"lot {self.lot_id} {self.points:+d}"


class VerificationRun(models.Model):
    """One whole-ledger run of ``ledger_verify`` (the nightly task or the command): what it checked and what
    drifted. The staff home reads the latest run; rows are only ever added."""

    class Trigger(models.TextChoices):
        TASK = "task", "Nightly task"
        COMMAND = "command", "Command"

    trigger = models.CharField(max_length=16, choices=Trigger.choices)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    accounts_checked = models.BigIntegerField(default=0)
    lots_checked = models.BigIntegerField(default=0)
    accounts_drifted = models.IntegerField(default=0)
    lots_drifted = models.IntegerField(default=0)
    # {program id: {"accounts": n, "lots": n}} for the programs with drift, so each program's staff see their own.
    programs = models.JSONField(default=dict, blank=True)
    # The first drifted accounts and lots, each {"program", "account", "member", "lot"?, "problems"}.
    drift = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-finished_at", "-id"]
        indexes = [models.Index(fields=["-finished_at", "-id"], name="verification_run_latest_idx")]

    def __str__(self):
        return f"ledger verification of {self.finished_at:%Y-%m-%d %H:%M}"

    @property
    def ok(self) -> bool:
        return not self.accounts_drifted and not self.lots_drifted

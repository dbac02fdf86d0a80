"""Daily rollups: what the analytics pages read instead of the ledger and the purchases.

Each table holds one program's figures per local day (the program's time zone), written only by
``analytics.services`` from the owning apps' selectors, a whole day range replaced at a time: a rollup run
again over the same days writes the same rows.
"""

from django.db import models


class DailyLedger(models.Model):
    """The points of one kind booked on one local day, signed as booked (redemptions and expiry negative)."""

    program = models.ForeignKey("programs.Program", on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    kind = models.CharField(max_length=16)
    points = models.BigIntegerField()
    entries = models.PositiveIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["program", "day", "kind"], name="daily_ledger_one_per_kind")]

    def __str__(self):
        return f"{self.day} {self.kind}: {self.points}"


class DailyTrade(models.Model):
    """Purchases made and members enrolled on one local day, by store (``None``: enrolled without a till)."""

    program = models.ForeignKey("programs.Program", on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    store = models.ForeignKey("programs.Store", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    purchases = models.PositiveIntegerField(default=0)
    member_purchases = models.PositiveIntegerField(default=0)
    sales = models.DecimalField(max_digits=16, decimal_places=2, default=0)
    member_sales = models.DecimalField(max_digits=16, decimal_places=2, default=0)
    returned = models.DecimalField(max_digits=16, decimal_places=2, default=0)
    enrolments = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["program", "day", "store"], nulls_distinct=False,
                                               name="daily_trade_one_per_store")]

    def __str__(self):
        return f"{self.day} store {self.store_id}: {self.purchases} purchases"


class RollupRun(models.Model):
    """One rollup of a program's day range: when, how long, how many rows; the reconciliation's verdict."""

    program = models.ForeignKey("programs.Program", on_delete=models.CASCADE, related_name="+")
    first_day = models.DateField()
    last_day = models.DateField()
    trigger = models.CharField(max_length=16)  # nightly, today, rebuild, manual
    rows = models.PositiveIntegerField()
    seconds = models.FloatField()
    finished_at = models.DateTimeField()
    drift = models.JSONField(default=dict, blank=True, help_text="Kinds whose rollup differs from the ledger.")

    class Meta:
        indexes = [models.Index(fields=["program", "-finished_at"], name="rollup_run_latest_idx")]

    def __str__(self):
        return f"{self.program_id} {self.first_day}..{self.last_day} ({self.trigger})"


class SimulationRun(models.Model):
    """One "what if" of the earn-rate simulator: who asked, what they changed, how far the replay got, and its
    figures (``analytics.simulator``). The replay writes nothing else but the members it would move."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Waiting to start"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    program = models.ForeignKey("programs.Program", on_delete=models.CASCADE, related_name="+")
    requested_by = models.ForeignKey("auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    requested_by_name = models.CharField(max_length=150, blank=True, default="")
    created_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0, help_text="Per cent of the members replayed.")
    heartbeat_at = models.DateTimeField(null=True, blank=True, help_text="When the replay last reported progress.")
    changes = models.JSONField(default=dict, help_text="What was changed, as the form read it.")
    first_day = models.DateField(help_text="The replay's first local day (12 months before its last).")
    last_day = models.DateField()
    figures = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True, default="")

    class Meta:
        indexes = [models.Index(fields=["program", "-created_at"], name="simulation_run_latest_idx")]

    def __str__(self):
        return f"simulation {self.pk} of {self.program_id} ({self.status})"


class SimulationMover(models.Model):
    """A member the simulated configuration would put in another tier at the end of the replay."""

    run = models.ForeignKey(SimulationRun, on_delete=models.CASCADE, related_name="movers")
    member_id = models.UUIDField()
    from_tier = models.CharField(max_length=32, blank=True, default="")  # tier codes; "" for no tier
    to_tier = models.CharField(max_length=32, blank=True, default="")
    units = models.BigIntegerField(help_text="Qualifying value as it is, in the metric's units.")
    simulated_units = models.BigIntegerField()

    class Meta:
        indexes = [models.Index(fields=["run", "member_id"], name="simulation_mover_run_idx")]

    def __str__(self):
        return f"{self.member_id}: {self.from_tier or '-'} → {self.to_tier or '-'}"

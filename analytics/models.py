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


class BreakageFlow(models.Model):
    """How the points of one issue month (the local month their lot was earned in) moved on one local day: credited,
    redeemed (net of refunds), expired, taken back. Summed over the days, a development triangle."""

    program = models.ForeignKey("programs.Program", on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    issue_month = models.DateField()
    issued = models.BigIntegerField(default=0)
    redeemed = models.BigIntegerField(default=0)
    expired = models.BigIntegerField(default=0)
    reversed = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["program", "day", "issue_month"],
                                               name="breakage_flow_one_per_month")]

    def __str__(self):
        return f"{self.day} issued {self.issue_month:%Y-%m}: +{self.issued} -{self.redeemed} redeemed"


class BreakageEstimate(models.Model):
    """The ultimate redemption rate projected as of one local date, per issue month and overall
    (``issue_month`` empty): the estimate's history."""

    program = models.ForeignKey("programs.Program", on_delete=models.CASCADE, related_name="+")
    as_of = models.DateField()
    issue_month = models.DateField(null=True, blank=True)
    issued = models.BigIntegerField()
    reversed = models.BigIntegerField()
    redeemed = models.BigIntegerField()
    expired = models.BigIntegerField()
    ultimate_redeemed = models.BigIntegerField()
    ultimate_rate = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["program", "as_of", "issue_month"], nulls_distinct=False,
                                               name="breakage_estimate_one_per_day")]

    def __str__(self):
        return f"{self.as_of} {self.issue_month or 'overall'}: {self.ultimate_rate}"

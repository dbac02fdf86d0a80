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


# --- behaviour: whom the program keeps, how often they come back, what they spend ---------------------------------


class BehaviourMemberMonth(models.Model):
    """One member's purchases in one local month: the working rows the monthly behaviour figures are counted
    from (distinct members over windows that no daily total can give). Never read by a page."""

    program = models.ForeignKey("programs.Program", on_delete=models.CASCADE, related_name="+")
    member_id = models.UUIDField()
    month = models.DateField(help_text="The first day of the local month.")
    cohort = models.DateField(help_text="The first day of the local month the member enrolled in.")
    purchases = models.PositiveIntegerField()
    sales = models.DecimalField(max_digits=16, decimal_places=2)
    last_day = models.DateField(help_text="The local day of the member's last purchase in the month.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["program", "member_id", "month"],
                                               name="behaviour_member_month_once")]
        indexes = [models.Index(fields=["program", "month"], include=["member_id", "last_day"],
                                name="behaviour_member_month_idx")]

    def __str__(self):
        return f"{self.member_id} {self.month:%Y-%m}: {self.purchases}"


class BehaviourMonth(models.Model):
    """The program's members in one local month: how many were active at its end (or today, for this month),
    bought in it, came back, lapsed."""

    program = models.ForeignKey("programs.Program", on_delete=models.CASCADE, related_name="+")
    month = models.DateField()
    as_of = models.DateField(help_text="The month's last day, or the day of the rollup for the current month.")
    active_30 = models.PositiveIntegerField(default=0)
    active_90 = models.PositiveIntegerField(default=0)
    active_90_before = models.PositiveIntegerField(default=0, help_text="Active (90 days) a month before as_of.")
    retained_90 = models.PositiveIntegerField(default=0, help_text="Of active_90_before, still active at as_of.")
    purchasers = models.PositiveIntegerField(default=0)
    repeat_purchasers = models.PositiveIntegerField(default=0, help_text="Had bought before, or twice this month.")
    purchases = models.PositiveIntegerField(default=0)
    sales = models.DecimalField(max_digits=16, decimal_places=2, default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["program", "month"], name="behaviour_month_once")]

    def __str__(self):
        return f"{self.month:%Y-%m}: {self.active_90} active"


class BehaviourCohort(models.Model):
    """The members who enrolled in one local month (``cohort``) and bought in a later one (``month``)."""

    program = models.ForeignKey("programs.Program", on_delete=models.CASCADE, related_name="+")
    cohort = models.DateField()
    month = models.DateField()
    purchasers = models.PositiveIntegerField()
    purchases = models.PositiveIntegerField()
    sales = models.DecimalField(max_digits=16, decimal_places=2)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["program", "cohort", "month"], name="behaviour_cohort_once")]

    def __str__(self):
        return f"cohort {self.cohort:%Y-%m} in {self.month:%Y-%m}: {self.purchasers}"


class BehaviourDailyMix(models.Model):
    """Members' purchases on one local day by the member's tier when rolled up and the gap since their
    previous purchase (``gap`` 0: their first purchase; then the buckets of ``analytics.behaviour.GAPS``)."""

    program = models.ForeignKey("programs.Program", on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    tier = models.ForeignKey("tiers.Tier", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    gap = models.PositiveSmallIntegerField()
    purchases = models.PositiveIntegerField()
    sales = models.DecimalField(max_digits=16, decimal_places=2)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["program", "day", "tier", "gap"], nulls_distinct=False,
                                               name="behaviour_daily_mix_once")]

    def __str__(self):
        return f"{self.day} tier {self.tier_id} gap {self.gap}: {self.purchases}"


class BehaviourTierMonth(models.Model):
    """Members moving into and out of a tier in one local month (``tier`` None: no tier)."""

    program = models.ForeignKey("programs.Program", on_delete=models.CASCADE, related_name="+")
    month = models.DateField()
    tier = models.ForeignKey("tiers.Tier", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    entered = models.PositiveIntegerField(default=0)
    left = models.PositiveIntegerField(default=0)
    upgrades = models.PositiveIntegerField(default=0, help_text="Entered from a lower tier.")
    downgrades = models.PositiveIntegerField(default=0, help_text="Entered from a higher tier.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["program", "month", "tier"], nulls_distinct=False,
                                               name="behaviour_tier_month_once")]

    def __str__(self):
        return f"{self.month:%Y-%m} tier {self.tier_id}: +{self.entered} −{self.left}"


class BehaviourDailyReward(models.Model):
    """Redemptions of one reward issued on one local day (those cancelled since counted apart)."""

    program = models.ForeignKey("programs.Program", on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    reward = models.ForeignKey("rewards.Reward", on_delete=models.CASCADE, related_name="+")
    redemptions = models.PositiveIntegerField()
    cancelled = models.PositiveIntegerField()
    points = models.BigIntegerField(help_text="Points spent, cancelled redemptions left out.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["program", "day", "reward"], name="behaviour_reward_once")]

    def __str__(self):
        return f"{self.day} reward {self.reward_id}: {self.redemptions}"
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

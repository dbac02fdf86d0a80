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
class MemberHealth(models.Model):
    """One member's standing, as of the last rollup that touched them (they bought, returned, claimed a receipt,
    redeemed, answered a survey or joined on one of its days): what they did, their usual gap between purchases,
    the parts of their health score that do not move with the calendar, and the days from which the calendar
    alone takes them into each band. Written only by ``analytics.health``.

    Dates are local days of the program. "Today" is never stored: a member's band today is read from the
    ``*_from`` dates (an indexed range read), and the recency part is worked out for the rows shown.
    """

    member = models.OneToOneField("members.Member", on_delete=models.CASCADE, primary_key=True, related_name="+")
    program = models.ForeignKey("programs.Program", on_delete=models.CASCADE, related_name="+")
    enrolled_on = models.DateField()
    purchases = models.PositiveIntegerField(default=0)
    first_purchase_on = models.DateField(null=True, blank=True)
    last_purchase_on = models.DateField(null=True, blank=True)
    # Days from joining to the first purchase, then between the first four purchases: the program's usual gaps
    # for members with 0–3 purchases are the 90th percentiles of these columns.
    gap_after_0 = models.PositiveIntegerField(null=True, blank=True)
    gap_after_1 = models.PositiveIntegerField(null=True, blank=True)
    gap_after_2 = models.PositiveIntegerField(null=True, blank=True)
    gap_after_3 = models.PositiveIntegerField(null=True, blank=True)
    own_gap = models.PositiveIntegerField(null=True, blank=True, help_text="90th percentile of their own gaps "
                                                                           "(four purchases or more).")
    spend = models.DecimalField(max_digits=14, decimal_places=2, default=0, help_text="Net of returns, ever.")
    redemptions = models.PositiveIntegerField(default=0)
    last_redemption_on = models.DateField(null=True, blank=True)
    answers = models.PositiveIntegerField(default=0, help_text="Survey answers of any kind.")
    last_nps = models.SmallIntegerField(null=True, blank=True)

    # scored from the above and the program's HealthNorms
    usual_gap = models.PositiveIntegerField(default=1)
    anchor_on = models.DateField(help_text="The last purchase, or the day they joined.")
    frequency_points = models.PositiveSmallIntegerField(default=0)
    money_points = models.PositiveSmallIntegerField(default=0)
    engagement_points = models.PositiveSmallIntegerField(default=0)
    nps_points = models.PositiveSmallIntegerField(default=0)
    lagging_from = models.DateField(help_text="The first day the days since the anchor exceed the usual gap.")
    # The first day of each band (score under 70, under 50, under 30 or three usual gaps gone): the score only
    # falls with the calendar, so watch_from <= at_risk_from <= lost_from, and the band of any day is a comparison.
    watch_from = models.DateField()
    at_risk_from = models.DateField()
    lost_from = models.DateField()

    class Meta:
        indexes = [
            models.Index(fields=["program", "lagging_from"], condition=models.Q(purchases__gte=2),
                         name="health_lagging_idx"),
            models.Index(fields=["program", "enrolled_on"], condition=models.Q(purchases__lte=1),
                         name="health_never_returned_idx"),
            models.Index(fields=["program", "watch_from"], name="health_watch_idx"),
            models.Index(fields=["program", "at_risk_from"], name="health_at_risk_idx"),
            models.Index(fields=["program", "lost_from"], name="health_lost_idx"),
        ]

    def __str__(self):
        return f"health of {self.member_id}"


class HealthNorms(models.Model):
    """A program's yardsticks for the health score, refreshed by every rollup from the ``MemberHealth`` rows: the
    usual gap (90th percentile, in days) for members with 0, 1, 2 and 3 purchases, how many members each was
    measured on, and the purchase count and net spend that earn full frequency and money points (the 80th
    percentiles among members who bought)."""

    program = models.OneToOneField("programs.Program", on_delete=models.CASCADE, primary_key=True,
                                   related_name="+")
    gap_0 = models.PositiveIntegerField()
    gap_1 = models.PositiveIntegerField()
    gap_2 = models.PositiveIntegerField()
    gap_3 = models.PositiveIntegerField()
    measured_0 = models.PositiveIntegerField(default=0)
    measured_1 = models.PositiveIntegerField(default=0)
    measured_2 = models.PositiveIntegerField(default=0)
    measured_3 = models.PositiveIntegerField(default=0)
    purchases_scale = models.PositiveIntegerField()
    spend_scale = models.DecimalField(max_digits=14, decimal_places=2)
    members = models.PositiveIntegerField(default=0)
    # Members by score on the last rolled-up day, in ten bins (0–9 … 90–100): a histogram needs every member's
    # recency, which the page cannot afford to work out for a million rows.
    distribution_on = models.DateField(null=True, blank=True)
    distribution = models.JSONField(default=list, blank=True)

    def __str__(self):
        return f"health norms of {self.program_id}"

    def gap_for(self, purchases: int) -> int:
        return getattr(self, f"gap_{min(purchases, 3)}")


class HealthDay(models.Model):
    """How many of a program's members enter the watch, at-risk and lost bands, start to lag and join the
    never-returned list on a local day, from the dates in ``MemberHealth``: the count on any day is the sum of
    the days up to it, so counting a band or a list reads this small table, not a million members. Replaced
    whole by every health rollup."""

    program = models.ForeignKey("programs.Program", on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    watch = models.PositiveIntegerField(default=0)
    at_risk = models.PositiveIntegerField(default=0)
    lost = models.PositiveIntegerField(default=0)
    lagging = models.PositiveIntegerField(default=0)
    never_returned = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["program", "day"], name="health_day_one_per_day")]

    def __str__(self):
        return f"{self.program_id} {self.day}"
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

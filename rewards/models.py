import uuid

from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import F, Q


class RewardCategory(models.Model):
    program = models.ForeignKey("programs.Program", on_delete=models.CASCADE, related_name="reward_categories")
    slug = models.SlugField(max_length=50)
    name = models.CharField(max_length=80)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "name"]
        verbose_name_plural = "reward categories"
        constraints = [models.UniqueConstraint(fields=["program", "slug"], name="reward_category_slug_unique")]

    def __str__(self):
        return self.name


class Reward(models.Model):
    class Type(models.TextChoices):
        PRODUCT_VOUCHER = "product_voucher", "Voucher for a product"
        FREE_PRODUCT = "free_product", "Free product"
        PERCENT_DISCOUNT = "percent_discount", "Percentage discount"
        FIXED_DISCOUNT = "fixed_discount", "Fixed discount"
        EXPERIENCE = "experience", "Experience"
        DONATION = "donation", "Donation to a cause"
        PAY_WITH_POINTS = "pay_with_points", "Pay with points"

    class Period(models.TextChoices):
        DAY = "day", "per day"
        WEEK = "week", "per week"
        MONTH = "month", "per month"
        YEAR = "year", "per year"
        EVER = "ever", "in total"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    program = models.ForeignKey("programs.Program", on_delete=models.PROTECT, related_name="rewards")
    code = models.CharField(
        max_length=32,
        validators=[RegexValidator(r"^[A-Z0-9][A-Z0-9_-]*$", "Upper-case letters, digits, - and _.")],
        help_text="What tills send, e.g. FREE-COFFEE; unique in the program.",
    )
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True, default="")
    image = models.ImageField(upload_to="rewards/", blank=True)
    type = models.CharField(max_length=20, choices=Type.choices, default=Type.PRODUCT_VOUCHER)
    categories = models.ManyToManyField(RewardCategory, blank=True, related_name="rewards")
    points_cost = models.PositiveIntegerField(
        default=0, help_text="Points per redemption (for pay with points: unused; see the points range)."
    )
    discount_value = models.DecimalField(
        max_digits=10, decimal_places=2, null=True, blank=True,
        help_text="Percent (0–100) or money amount, for discount rewards.",
    )
    # Pay with points: the member chooses how many points, within bounds, in steps.
    points_min = models.PositiveIntegerField(null=True, blank=True)
    points_max = models.PositiveIntegerField(null=True, blank=True)
    points_step = models.PositiveIntegerField(null=True, blank=True, validators=[MinValueValidator(1)])
    money_per_point = models.DecimalField(max_digits=8, decimal_places=4, null=True, blank=True,
                                          help_text="Currency value of one point, e.g. 0.01.")
    is_active = models.BooleanField(default=True)
    available_from = models.DateTimeField(null=True, blank=True)
    available_until = models.DateTimeField(null=True, blank=True)
    stock_remaining = models.PositiveIntegerField(null=True, blank=True, help_text="Empty means unlimited.")
    restock_on = models.DateField(
        null=True, blank=True, help_text="When more are expected, as members read it while it is out of stock.")
    limit_per_member = models.PositiveIntegerField(null=True, blank=True)
    limit_period = models.CharField(max_length=8, choices=Period.choices, default=Period.EVER)
    min_tier = models.ForeignKey("tiers.Tier", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    voucher_valid_days = models.PositiveIntegerField(null=True, blank=True, help_text="Empty means no expiry.")
    refund_on_expiry = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["points_cost", "name"]
        constraints = [
            models.UniqueConstraint(fields=["program", "code"], name="reward_code_unique_in_program"),
            models.CheckConstraint(condition=Q(stock_remaining__gte=0) | Q(stock_remaining__isnull=True),
                                   name="reward_stock_not_negative"),
            models.CheckConstraint(
                condition=Q(available_until__isnull=True) | Q(available_from__isnull=True)
                | Q(available_until__gt=F("available_from")),
                name="reward_window_ordered",
            ),
        ]

    def __str__(self):
        return f"{self.code} ({self.name})"

    @property
    def is_pay_with_points(self) -> bool:
        return self.type == self.Type.PAY_WITH_POINTS

    @property
    def is_donation(self) -> bool:
        return self.type == self.Type.DONATION


class Redemption(models.Model):
    """A reward taken for points; its voucher is what the till sees."""

    class Status(models.TextChoices):
        ISSUED = "issued", "Issued"
        USED = "used", "Used"
        CANCELLED = "cancelled", "Cancelled"
        EXPIRED = "expired", "Expired"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    program = models.ForeignKey("programs.Program", on_delete=models.PROTECT, related_name="+")
    reward = models.ForeignKey(Reward, on_delete=models.PROTECT, related_name="redemptions")
    member = models.ForeignKey("members.Member", on_delete=models.PROTECT, related_name="redemptions")
    store = models.ForeignKey("programs.Store", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    points_spent = models.PositiveIntegerField()
    discount_amount = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    voucher_code = models.CharField(max_length=16)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ISSUED)
    issued_at = models.DateTimeField()
    expires_at = models.DateTimeField(null=True, blank=True)
    used_at = models.DateTimeField(null=True, blank=True)
    used_store = models.ForeignKey("programs.Store", null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    spend_transaction = models.ForeignKey("ledger.LedgerTransaction", on_delete=models.PROTECT, related_name="+")
    refund_transaction = models.ForeignKey("ledger.LedgerTransaction", null=True, blank=True,
                                           on_delete=models.PROTECT, related_name="+")
    actor = models.CharField(max_length=100)

    class Meta:
        ordering = ["-issued_at"]
        constraints = [
            models.UniqueConstraint(fields=["program", "voucher_code"], name="voucher_code_unique_in_program"),
        ]
        indexes = [
            models.Index(fields=["member", "reward", "issued_at"], name="redemption_limit_idx"),
            models.Index(fields=["expires_at"], condition=Q(status="issued"), name="voucher_expiry_due_idx"),
            # The analytics rollups count a program's redemptions day by day and find the members who redeemed.
            models.Index(fields=["program", "issued_at"], name="redemption_program_issued_idx"),
        ]

    def __str__(self):
        return f"voucher {self.voucher_code} ({self.get_status_display().lower()})"


class RedemptionStatusChange(models.Model):
    redemption = models.ForeignKey(Redemption, on_delete=models.CASCADE, related_name="history")
    from_status = models.CharField(max_length=10, blank=True, default="")
    to_status = models.CharField(max_length=10)
    actor = models.CharField(max_length=100)
    reason = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self):
        return f"{self.from_status or '∅'} → {self.to_status}"


class Cause(models.Model):
    """Something members may give points to (a charity, a local project), managed by the program's staff."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    program = models.ForeignKey("programs.Program", on_delete=models.PROTECT, related_name="causes")
    code = models.CharField(
        max_length=32,
        validators=[RegexValidator(r"^[A-Z0-9][A-Z0-9_-]*$", "Upper-case letters, digits, - and _.")],
        help_text="Its short name in addresses, e.g. TREES; unique in the program.",
    )
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True, default="")
    image = models.ImageField(upload_to="causes/", blank=True)
    active = models.BooleanField(default=True, help_text="Members see and give to active causes only.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["program", "code"], name="cause_code_unique_in_program")]

    def __str__(self):
        return f"{self.code} ({self.name})"


class Donation(models.Model):
    """Points a member gave to a cause: spent through the ledger (kind ``redeem``, source ``donation``), so the
    liability report counts them as redeemed."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    program = models.ForeignKey("programs.Program", on_delete=models.PROTECT, related_name="+")
    cause = models.ForeignKey(Cause, on_delete=models.PROTECT, related_name="donations")
    member = models.ForeignKey("members.Member", on_delete=models.PROTECT, related_name="donations")
    points = models.PositiveIntegerField()
    idempotency_key = models.CharField(max_length=100, help_text="The caller's key: one donation per key and member.")
    spend_transaction = models.ForeignKey("ledger.LedgerTransaction", on_delete=models.PROTECT, related_name="+")
    actor = models.CharField(max_length=100)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["member", "idempotency_key"], name="donation_key_unique_per_member"),
            models.CheckConstraint(condition=Q(points__gt=0), name="donation_points_positive"),
        ]
        indexes = [models.Index(fields=["cause", "member"], name="donation_cause_member_idx")]

    def __str__(self):
        return f"{self.points} points to {self.cause_id}"

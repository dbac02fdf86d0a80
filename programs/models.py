import hashlib
import uuid
import zoneinfo
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not an IANA time zone such as Europe/Berlin.")


class Program(models.Model):
    """A loyalty program: its currency and the policies every earn follows."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    slug = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=120)
    currency = models.CharField(
        max_length=3, validators=[RegexValidator(r"^[A-Z]{3}$", "Use an ISO 4217 code such as EUR.")]
    )
    points_per_unit = models.DecimalField(
        max_digits=9, decimal_places=4, default=1, validators=[MinValueValidator(0)],
        help_text="Base earn rate: points per 1.00 of purchase total.",
    )
    pending_days = models.PositiveIntegerField(
        default=0, help_text="Points stay pending this many days (the return window); 0 releases at once."
    )
    expiry_days = models.PositiveIntegerField(
        null=True, blank=True, default=365,
        help_text="Earned points expire this many days after the purchase; empty means never.",
    )
    claim_window_days = models.PositiveIntegerField(
        default=30, help_text="How long a guest purchase can be claimed by a member."
    )
    redemption_undo_minutes = models.PositiveIntegerField(
        default=15, help_text="For how long a member may undo a redemption in the portal while the voucher is unused.",
    )
    transfer_daily_limit = models.PositiveIntegerField(
        null=True, blank=True, default=10000,
        help_text="Most points a member may transfer to other members per day; empty means no limit, 0 turns "
                  "transfers off.",
    )
    time_zone = models.CharField(
        max_length=64, default="UTC", validators=[validate_time_zone],
        help_text="IANA zone (e.g. Europe/Berlin) in which rule dates, times of day and birthdays are read.",
    )
    default_phone_region = models.CharField(
        max_length=2, blank=True, default="",
        help_text="ISO country code used to read phone numbers given without +country prefix.",
    )
    value_per_point = models.DecimalField(
        max_digits=12, decimal_places=6, default=Decimal("0.01"), validators=[MinValueValidator(0)],
        help_text="What one point is worth in the program's currency: the liability report's rate.",
    )
    accent_color = models.CharField(
        max_length=7, default="#4a3fe0",
        validators=[RegexValidator(r"^#[0-9a-fA-F]{6}$", "A colour such as #4a3fe0.")],
        help_text="The brand colour of the member portal's buttons and card.",
    )
    logo = models.ImageField(upload_to="programs/logos/", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(points_per_unit__gte=0), name="program_rate_not_negative"),
        ]

    def __str__(self):
        return self.name

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        """The program's time zone: its local dates are the dates of every report, rollup and statement."""
        return zoneinfo.ZoneInfo(self.time_zone or "UTC")


class Store(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="stores")
    code = models.CharField(
        max_length=32, validators=[RegexValidator(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", "Letters, digits, - _ .")]
    )
    name = models.CharField(max_length=120)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["program", "code"]
        constraints = [models.UniqueConstraint(fields=["program", "code"], name="store_code_unique_in_program")]

    def __str__(self):
        return f"{self.code} ({self.name})"


def hash_api_key(raw_key: str) -> str:
    # Keys are long random strings, so a fast unsalted digest is safe and lets the
    # key be found by an indexed equality lookup instead of a scan of slow hashes.
    return hashlib.sha256(raw_key.encode()).hexdigest()


class StoreApiKey(models.Model):
    """A POS credential. Only a digest is kept; the key itself is shown once, at creation."""

    store = models.ForeignKey(Store, on_delete=models.PROTECT, related_name="api_keys")
    name = models.CharField(max_length=80)
    prefix = models.CharField(max_length=12, help_text="First characters of the key, to recognise it.")
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "POS API key"

    def __str__(self):
        return f"{self.prefix}… ({self.name})"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

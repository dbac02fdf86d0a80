"""Webhooks for integrators: a program's endpoints, and one delivery row per event and endpoint.

Deliveries are a work queue: a worker claims a row with a compare-and-set ``UPDATE`` that sets a
lease (``claimed_until``), posts the signed payload, and records the outcome. A worker that dies
leaves the lease to lapse; the row is claimed again by the next sweep.
"""

import secrets
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from .addresses import AddressRefused, target_resolve

EVENT_TYPES = [
    ("member.enrolled", "Member enrolled"),
    ("points.earned", "Points earned"),
    ("points.expired", "Points expired"),
    ("tier.changed", "Tier changed"),
    ("reward.redeemed", "Reward redeemed"),
    ("voucher.used", "Voucher used"),
]
EVENT_TYPE_NAMES = frozenset(name for name, _ in EVENT_TYPES)
# Sent to one endpoint when staff ask (a "Send test" button), whatever it subscribes to; never published.
TEST_EVENT = "webhook.test"
DELIVERY_TYPES = [*EVENT_TYPES, (TEST_EVENT, "Test event")]


def secret_generate() -> str:
    return f"whsec_{secrets.token_urlsafe(32)}"


def validate_events(value) -> None:
    if not isinstance(value, list) or not value:
        raise ValidationError("Subscribe to at least one event.")
    unknown = sorted(set(value) - EVENT_TYPE_NAMES)
    if unknown:
        raise ValidationError(f"Unknown event types: {', '.join(unknown)}.")


def validate_public_url(value) -> None:
    """Refuse, as the endpoint is saved, a URL whose host is not a public internet address (deliveries
    check again: the host's DNS may change after it was saved)."""
    parts = urlsplit(str(value))
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return  # not a URL: URLValidator says so
    try:
        target_resolve(str(value))
    except AddressRefused as refused:
        message = str(refused)
        raise ValidationError(message[:1].upper() + message[1:] + ".", code="address_refused") from refused


class WebhookEndpoint(models.Model):
    """Where a program's events are posted, signed with ``secret``."""

    program = models.ForeignKey("programs.Program", on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.URLField(max_length=500, validators=[URLValidator(schemes=["http", "https"]),
                                                                 validate_public_url])
    description = models.CharField(max_length=200, blank=True, default="")
    secret = models.CharField(max_length=100, default=secret_generate,
                              help_text="Shared with the receiver, who checks X-Loyalty-Signature with it.")
    events = models.JSONField(default=list, validators=[validate_events],
                              help_text="Event types this endpoint receives.")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["program", "url"]

    def __str__(self):
        return self.url

    def wants(self, event_type: str) -> bool:
        return self.active and event_type in self.events


class WebhookDelivery(models.Model):
    """One event for one endpoint. A replay is a new delivery of the same event (``replay_of``)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    program = models.ForeignKey("programs.Program", on_delete=models.CASCADE, related_name="+")
    event_id = models.UUIDField(help_text="The event's id; the same in every delivery and replay of it.")
    event_type = models.CharField(max_length=40, choices=DELIVERY_TYPES)
    payload = models.JSONField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    claimed_until = models.DateTimeField(null=True, blank=True)
    claim_token = models.UUIDField(null=True, blank=True)
    response_code = models.PositiveIntegerField(null=True, blank=True)
    response_body = models.TextField(blank=True, default="", help_text="The start of the last response.")
    last_error = models.TextField(blank=True, default="")
    replay_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="replays")
    replayed_by = models.CharField(max_length=100, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "webhook deliveries"
        permissions = [("replay_webhookdelivery", "Can replay webhook deliveries")]
        constraints = [
            # An event is queued once per endpoint however often it is published; replays are extra rows.
            models.UniqueConstraint(fields=["endpoint", "event_id"], condition=Q(replay_of__isnull=True),
                                    name="webhook_delivery_once_per_endpoint"),
            models.CheckConstraint(condition=Q(status__in=["pending", "succeeded", "failed"]),
                                   name="webhook_delivery_status_valid"),
        ]
        indexes = [
            # The workers' queue: only pending rows are in it.
            models.Index(fields=["next_attempt_at"], condition=Q(status="pending"), name="webhook_delivery_due_idx"),
            models.Index(fields=["endpoint", "-created_at"], name="webhook_delivery_log_idx"),
        ]

    def __str__(self):
        return f"{self.event_type} to {self.endpoint} ({self.status})"


class WebhookAttempt(models.Model):
    """One HTTP request of a delivery: the log staff read."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    attempted_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField(default=0)
    response_code = models.PositiveIntegerField(null=True, blank=True)
    response_body = models.TextField(blank=True, default="")
    error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["attempted_at", "id"]

    def __str__(self):
        return f"{self.response_code or self.error[:40]}"

    @property
    def ok(self) -> bool:
        return self.response_code is not None and 200 <= self.response_code < 300

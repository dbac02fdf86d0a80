import uuid

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q


class Purchase(models.Model):
    """A till receipt. With a member it earned points; without one it is a guest purchase to claim."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    program = models.ForeignKey("programs.Program", on_delete=models.PROTECT, related_name="+")
    store = models.ForeignKey("programs.Store", on_delete=models.PROTECT, related_name="purchases")
    external_id = models.CharField(max_length=64)
    member = models.ForeignKey("members.Member", null=True, blank=True, on_delete=models.PROTECT,
                               related_name="purchases")
    currency = models.CharField(max_length=3)
    total = models.DecimalField(max_digits=12, decimal_places=2)
    returned_total = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    occurred_at = models.DateTimeField()
    lines = models.JSONField(default=list, blank=True, encoder=DjangoJSONEncoder)
    points_awarded = models.BigIntegerField(default=0)
    points_reversed = models.BigIntegerField(default=0)
    breakdown = models.JSONField(default=list, blank=True)
    earn_transaction = models.ForeignKey("ledger.LedgerTransaction", null=True, blank=True,
                                         on_delete=models.PROTECT, related_name="+")
    claimable_until = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    actor = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["store", "external_id"], name="purchase_external_id_unique_per_store"),
            models.CheckConstraint(condition=Q(total__gt=0), name="purchase_total_positive"),
            models.CheckConstraint(condition=Q(returned_total__gte=0) & Q(returned_total__lte=models.F("total")),
                                   name="purchase_returned_within_total"),
        ]
        indexes = [
            models.Index(fields=["member", "-occurred_at"], name="purchase_member_recent_idx"),
            models.Index(fields=["program", "occurred_at"], name="purchase_program_time_idx"),
        ]

    def __str__(self):
        return f"{self.store_id}/{self.external_id} {self.total} {self.currency}"


class Return(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    program = models.ForeignKey("programs.Program", on_delete=models.PROTECT, related_name="+")
    store = models.ForeignKey("programs.Store", on_delete=models.PROTECT, related_name="returns")
    external_id = models.CharField(max_length=64)
    purchase = models.ForeignKey(Purchase, on_delete=models.PROTECT, related_name="returns")
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    points_reversed = models.BigIntegerField(default=0)
    reverse_transaction = models.ForeignKey("ledger.LedgerTransaction", null=True, blank=True,
                                            on_delete=models.PROTECT, related_name="+")
    actor = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["store", "external_id"], name="return_external_id_unique_per_store"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="return_amount_positive"),
        ]

    def __str__(self):
        return f"return {self.external_id} of {self.purchase_id}"

import uuid

from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q

from .definitions import DefinitionError
from .rules import rule_definition_read


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
            # analytics' health rollup: the members who claimed a receipt on the days it rolls up
            models.Index(fields=["program", "claimed_at"], condition=Q(claimed_at__isnull=False),
                         name="purchase_claimed_idx"),
        ]

    def __str__(self):
        return f"receipt {self.external_id} ({self.total} {self.currency})"


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
        # analytics' health rollup: the members whose purchases were returned on the days it rolls up
        indexes = [models.Index(fields=["program", "created_at"], name="return_program_time_idx")]

    def __str__(self):
        return f"return {self.external_id} ({self.amount})"


class EarningRule(models.Model):
    """A staff-configured way to earn: conditions (when) + an effect (what), with priority, stacking and caps.

    ``conditions`` is a list of ``{"kind": ..., ...}`` objects that must all match; ``effect`` is one
    ``{"kind": ..., ...}`` object (see ``earning/conditions.py`` and ``earning/effects.py`` for the kinds).
    A definition that does not read is refused by ``clean()`` and by ``save()``: a bad rule cannot be saved.
    """

    class AppliesTo(models.TextChoices):
        PURCHASE = "purchase", "Purchases"
        EVENT = "event", "Events (non-purchase activity)"
        SIGNUP = "signup", "Signup bonus"
        REFERRAL = "referral", "Referral bonus (to both members, on the referee's first qualifying purchase)"
        BIRTHDAY = "birthday", "Birthday bonus (granted once a year by the daily task)"

    class Stacking(models.TextChoices):
        STACK = "stack", "Stacks with every other rule"
        BEST_OF = "best_of", "Best of its group: only the highest-earning rule of the group counts"

    class CapPeriod(models.TextChoices):
        DAY = "day", "Day"
        MONTH = "month", "Month"
        YEAR = "year", "Year"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    program = models.ForeignKey("programs.Program", on_delete=models.PROTECT, related_name="earning_rules")
    code = models.SlugField(max_length=50, help_text="Unique in the program; the name shown in breakdowns.")
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True, default="")
    active = models.BooleanField(default=True)
    priority = models.PositiveIntegerField(
        default=100, help_text="Lower runs first: breakdown order, and the winner of a best-of tie.")
    group = models.SlugField(max_length=50, blank=True, default="",
                             help_text="Rules marked best-of in the same group compete; blank stacks.")
    stacking = models.CharField(max_length=8, choices=Stacking.choices, default=Stacking.STACK)
    applies_to = models.CharField(max_length=8, choices=AppliesTo.choices, default=AppliesTo.PURCHASE)
    conditions = models.JSONField(default=list, blank=True, encoder=DjangoJSONEncoder,
                                  help_text='A list, all must match, e.g. [{"kind": "category", '
                                            '"categories": ["coffee"]}, {"kind": "day_of_week", "days": ["mon"]}].')
    effect = models.JSONField(default=dict, encoder=DjangoJSONEncoder,
                              help_text='e.g. {"kind": "multiplier", "factor": "2"}, {"kind": "fixed_bonus", '
                                        '"points": 50} or {"kind": "per_unit", "points": 100}.')
    cap_per_purchase = models.PositiveIntegerField(
        null=True, blank=True, help_text="At most this many points from this rule per purchase or event.")
    cap_per_member = models.PositiveIntegerField(
        null=True, blank=True, help_text="At most this many points from this rule per member per cap period.")
    cap_period = models.CharField(max_length=8, choices=CapPeriod.choices, blank=True, default="")
    valid_from = models.DateTimeField(null=True, blank=True)
    valid_until = models.DateTimeField(null=True, blank=True, help_text="Excluded.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["program", "priority", "code"]
        constraints = [
            models.UniqueConstraint(fields=["program", "code"], name="earning_rule_code_unique_in_program"),
            models.CheckConstraint(condition=~Q(code="base"), name="earning_rule_code_not_base"),
            models.CheckConstraint(condition=Q(stacking__in=["stack", "best_of"]), name="earning_rule_stacking_valid"),
            models.CheckConstraint(condition=Q(applies_to__in=["purchase", "event", "signup", "referral", "birthday"]),
                                   name="earning_rule_applies_to_valid"),
            models.CheckConstraint(condition=Q(cap_per_member__isnull=True, cap_period="")
                                   | Q(cap_per_member__isnull=False, cap_period__in=["day", "month", "year"]),
                                   name="earning_rule_member_cap_has_period"),
            models.CheckConstraint(condition=~Q(stacking="best_of") | ~Q(group=""),
                                   name="earning_rule_best_of_has_group"),
            models.CheckConstraint(condition=Q(valid_from__isnull=True) | Q(valid_until__isnull=True)
                                   | Q(valid_until__gt=models.F("valid_from")),
                                   name="earning_rule_valid_window_ordered"),
        ]
        indexes = [models.Index(fields=["program", "applies_to", "active"], name="earning_rule_lookup_idx")]

    def __str__(self):
        return f"{self.code} ({self.get_applies_to_display()})"

    def save(self, *args, **kwargs):
        # Validation, not logic: whatever path writes a rule (admin, service, shell), a bad one never lands.
        self.clean()
        super().save(*args, **kwargs)

    @property
    def is_best_of(self) -> bool:
        return self.stacking == self.Stacking.BEST_OF

    @property
    def definition(self):
        """The parsed conditions and effect (read once per instance)."""
        cached = self.__dict__.get("_definition")
        key = (repr(self.conditions), repr(self.effect), self.applies_to)
        if cached is None or cached[0] != key:
            cached = (key, rule_definition_read(conditions=self.conditions, effect=self.effect,
                                                applies_to=self.applies_to))
            self.__dict__["_definition"] = cached
        return cached[1]

    def clean(self):
        errors: dict[str, list[str]] = {}
        if self.code == "base":
            errors.setdefault("code", []).append('"base" names the base rule; choose another code.')
        if self.is_best_of and not self.group:
            errors.setdefault("group", []).append("A best-of rule needs a group to compete in.")
        if (self.cap_per_member is None) != (not self.cap_period):
            field = "cap_period" if self.cap_per_member is not None else "cap_per_member"
            errors.setdefault(field, []).append("A cap per member needs a cap period, and a period needs a cap.")
        if self.cap_per_purchase is not None and self.applies_to not in (self.AppliesTo.PURCHASE,
                                                                         self.AppliesTo.EVENT):
            errors.setdefault("cap_per_purchase", []).append("Only purchase and event rules earn per purchase.")
        if self.valid_from and self.valid_until and self.valid_until <= self.valid_from:
            errors.setdefault("valid_until", []).append("Must be after valid from.")
        if self.applies_to in self.AppliesTo.values:
            try:
                self.definition  # noqa: B018 - reading it is the validation
            except DefinitionError as error:
                for problem in error.errors:
                    top = problem["field"].split(".", 1)[0]
                    errors.setdefault(top, []).append(f"{problem['field']}: {problem['message']}")
        if errors:
            raise ValidationError(errors)


class RuleAward(models.Model):
    """Points one rule gave one member from one source: what caps per member per period count."""

    program = models.ForeignKey("programs.Program", on_delete=models.PROTECT, related_name="+")
    rule = models.ForeignKey(EarningRule, on_delete=models.PROTECT, related_name="awards")
    member = models.ForeignKey("members.Member", on_delete=models.PROTECT, related_name="rule_awards")
    points = models.PositiveIntegerField()
    occurred_at = models.DateTimeField()
    source_type = models.CharField(max_length=16)
    source_id = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["rule", "member", "source_type", "source_id"],
                                    name="rule_award_once_per_source"),
        ]
        # A capped rule's period total is read on every purchase it could pay: the points ride in the index,
        # so the sum is read from it alone (no table page per award).
        indexes = [models.Index(fields=["rule", "member", "occurred_at"], include=["points"],
                                name="rule_award_cap_sum_idx")]

    def __str__(self):
        return f"{self.rule_id} → {self.member_id}: {self.points}"


class Event(models.Model):
    """Non-purchase activity posted by a POS or an integration (a night stayed, a review written)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    program = models.ForeignKey("programs.Program", on_delete=models.PROTECT, related_name="+")
    store = models.ForeignKey("programs.Store", on_delete=models.PROTECT, related_name="events")
    external_id = models.CharField(max_length=64)
    member = models.ForeignKey("members.Member", on_delete=models.PROTECT, related_name="events")
    type = models.CharField(max_length=64)
    quantity = models.PositiveIntegerField(default=1)
    attributes = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    occurred_at = models.DateTimeField()
    points_awarded = models.BigIntegerField(default=0)
    breakdown = models.JSONField(default=list, blank=True)
    earn_transaction = models.ForeignKey("ledger.LedgerTransaction", null=True, blank=True,
                                         on_delete=models.PROTECT, related_name="+")
    actor = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["store", "external_id"], name="event_external_id_unique_per_store"),
            models.CheckConstraint(condition=Q(quantity__gte=1), name="event_quantity_positive"),
        ]
        indexes = [models.Index(fields=["member", "-occurred_at"], name="event_member_recent_idx")]

    def __str__(self):
        return f"{self.type} ×{self.quantity} ({self.external_id})"

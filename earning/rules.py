"""What a purchase, an event or a bonus earns. Each contributing rule is one line of the breakdown.

The base rule: ``floor(total × points per unit × tier multiplier)``, rounded
down once, after every factor is applied. Configured rules (``EarningRule``) add
their own lines after it, in priority order; each rule's points are rounded down
once, then capped.

Apart from reading the member's tier, nothing here touches the database: the
services fetch the rules and what capped rules already awarded, and pass them in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from functools import cached_property
from zoneinfo import ZoneInfo

from tiers.selectors import member_tier_get

from .conditions import CONDITIONS, Condition
from .definitions import DefinitionError, Reader, kind_of
from .effects import EFFECTS, Effect, floor_points

__all__ = ["floor_points"]

BASE_RULE = "base"
MAX_CONDITIONS = 20


@dataclass(frozen=True)
class Earning:
    rule: str
    points: int
    rule_id: object = field(default=None, compare=False)  # the EarningRule, None for the base rule

    def as_dict(self) -> dict:
        return {"rule": self.rule, "points": self.points}


def tier_multiplier(*, member) -> Decimal:
    if member is None:
        return Decimal(1)
    tier = member_tier_get(member=member)
    return Decimal(tier.multiplier) if tier is not None else Decimal(1)


def member_tier_code(*, member) -> str | None:
    """The member's tier code for the ``tier`` condition; None without a tier."""
    if member is None:
        return None
    tier = member_tier_get(member=member)
    return getattr(tier, "code", None) if tier is not None else None


def program_timezone(program) -> ZoneInfo:
    """Rules read dates and times of day in the program's zone (UTC unless the program names one)."""
    return program.zone


@dataclass(frozen=True)
class Line:
    sku: str
    category: str
    quantity: int
    unit_price: Decimal

    @property
    def amount(self) -> Decimal:
        return self.quantity * self.unit_price


@dataclass(frozen=True)
class EarningContext:
    """Everything a condition or an effect may look at. ``amount`` and ``quantity`` are what an effect
    works on: the whole purchase (or event), or only the lines the rule's line conditions chose."""

    program: object
    member: object
    occurred_at: datetime
    store: object = None
    tier_code: str | None = None
    tier_multiplier: Decimal = Decimal(1)
    lines: tuple[Line, ...] = ()
    total: Decimal | None = None
    event_type: str | None = None
    event_quantity: int = 0
    event_attributes: dict = field(default_factory=dict)
    is_first_purchase: bool = False
    amount: Decimal = Decimal(0)
    quantity: int = 0

    @cached_property
    def local_time(self) -> datetime:
        return self.occurred_at.astimezone(program_timezone(self.program))

    def narrowed(self, line_conditions: tuple[Condition, ...]) -> EarningContext:
        if not line_conditions:
            return self
        lines = tuple(line for line in self.lines if all(c.line_matches(line) for c in line_conditions))
        amount = sum((line.amount for line in lines), Decimal(0))
        return replace(self, lines=lines, amount=min(amount, self.total or Decimal(0)),
                       quantity=sum(line.quantity for line in lines))


def purchase_context(*, program, member, store, total: Decimal, lines: Iterable[dict], occurred_at: datetime,
                     is_first_purchase: bool = False) -> EarningContext:
    parsed = tuple(Line(sku=line["sku"], category=line.get("category") or "", quantity=line["quantity"],
                        unit_price=Decimal(line["unit_price"])) for line in lines)
    return EarningContext(
        program=program, member=member, store=store, occurred_at=occurred_at, tier_code=member_tier_code(member=member),
        tier_multiplier=tier_multiplier(member=member), lines=parsed, total=total, is_first_purchase=is_first_purchase,
        amount=total, quantity=sum(line.quantity for line in parsed),
    )


def event_context(*, program, member, store, event_type: str, quantity: int, attributes: dict,
                  occurred_at: datetime) -> EarningContext:
    return EarningContext(
        program=program, member=member, store=store, occurred_at=occurred_at, tier_code=member_tier_code(member=member),
        tier_multiplier=tier_multiplier(member=member), event_type=event_type, event_quantity=quantity,
        event_attributes=attributes, quantity=quantity,
    )


def member_context(*, program, member, occurred_at: datetime, store=None) -> EarningContext:
    """For bonuses that come without a purchase or an event (signup, birthday)."""
    return EarningContext(program=program, member=member, store=store, occurred_at=occurred_at,
                          tier_code=member_tier_code(member=member), tier_multiplier=tier_multiplier(member=member))


# --- rule definitions ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RuleDefinition:
    conditions: tuple[Condition, ...]
    effect: Effect

    @cached_property
    def line_conditions(self) -> tuple[Condition, ...]:
        return tuple(c for c in self.conditions if c.line_level)

    def matches(self, context: EarningContext) -> bool:
        return all(condition.matches(context) for condition in self.conditions)


def rule_definition_read(*, conditions, effect, applies_to: str) -> RuleDefinition:
    """Read a rule's stored conditions and effect; raises ``DefinitionError`` naming every problem."""
    errors: list[dict] = []
    parsed: list[Condition] = []
    if not isinstance(conditions, list):
        errors.append({"field": "conditions", "message": "Must be a list of conditions (may be empty)."})
        conditions = []
    elif len(conditions) > MAX_CONDITIONS:
        errors.append({"field": "conditions", "message": f"At most {MAX_CONDITIONS} conditions."})
        conditions = []
    for index, data in enumerate(conditions):
        path = f"conditions.{index}"
        cls = kind_of(data, path, CONDITIONS, errors)
        if cls is None:
            continue
        if applies_to not in cls.rule_kinds:
            errors.append({"field": f"{path}.kind",
                           "message": f"A {cls.kind} condition does not apply to {applies_to} rules."})
            continue
        parsed.append(cls.read(Reader(data, path, errors)))
    kinds = [c.kind for c in parsed]
    for kind in sorted({k for k in kinds if kinds.count(k) > 1}):
        errors.append({"field": "conditions", "message": f"Give the {kind} condition once (list its values)."})

    read_effect = None
    cls = kind_of(effect, "effect", EFFECTS, errors)
    if cls is not None:
        if applies_to not in cls.rule_kinds:
            errors.append({"field": "effect.kind",
                           "message": f"A {cls.kind} effect does not apply to {applies_to} rules."})
        else:
            read_effect = cls.read(Reader(effect, "effect", errors))
    if errors:
        raise DefinitionError(errors)
    return RuleDefinition(tuple(parsed), read_effect)


# --- evaluation ------------------------------------------------------------------------------------


@dataclass
class RuleTrace:
    """What ``rules_evaluate`` did with one rule: for explaining a purchase's points afterwards."""

    rule: object
    matched: bool
    computed: int = 0  # the effect's points, before any cap
    capped_per_purchase: bool = False
    awarded_before: int | None = None  # the rule's awards in its cap period, when it has a cap per member
    points: int = 0  # after the caps
    beaten_by: object = None  # the best-of rule of its group that counted instead


def rules_evaluate(*, rules, context: EarningContext, awarded: Callable[[object], int],
                   trace: list[RuleTrace] | None = None) -> list[Earning]:
    """The configured rules' earnings, in the order given (priority order).

    Each matching rule earns its effect's points (rounded down once), capped per purchase and by what
    is left of its cap per member for the period (``awarded(rule)`` answers what it already gave
    there). Among rules marked ``best_of`` in one group only the highest earner counts (the first
    one on a tie); every other rule stacks. Rules that earn nothing are left out.

    ``trace``, a list, receives a ``RuleTrace`` of every rule, in order: how it came to its points.
    """
    candidates: list[tuple[object, int]] = []
    traces: dict[object, RuleTrace] = {}
    for rule in rules:
        definition = rule.definition
        if not definition.matches(context):
            if trace is not None:
                trace.append(RuleTrace(rule=rule, matched=False))
            continue
        computed = points = definition.effect.points(context.narrowed(definition.line_conditions))
        if rule.cap_per_purchase is not None:
            points = min(points, rule.cap_per_purchase)
        before = None
        if rule.cap_per_member is not None and points > 0:
            before = awarded(rule)
            points = min(points, max(0, rule.cap_per_member - before))
        candidates.append((rule, points))
        if trace is not None:
            traces[rule.pk] = RuleTrace(rule=rule, matched=True, computed=computed, awarded_before=before,
                                        capped_per_purchase=rule.cap_per_purchase is not None
                                        and computed > rule.cap_per_purchase, points=points)
            trace.append(traces[rule.pk])

    best: dict[str, tuple[object, int]] = {}
    for rule, points in candidates:
        if rule.is_best_of and (rule.group not in best or points > best[rule.group][1]):
            best[rule.group] = (rule, points)
    if trace is not None:
        for rule, _ in candidates:
            if rule.is_best_of and best[rule.group][0] is not rule:
                traces[rule.pk].beaten_by = best[rule.group][0]
    return [Earning(rule.code, points, rule.pk) for rule, points in candidates
            if points > 0 and (not rule.is_best_of or best[rule.group][0] is rule)]


def base_earning(context: EarningContext) -> Earning:
    base = floor_points(context.total * context.program.points_per_unit * context.tier_multiplier)
    return Earning(BASE_RULE, max(base, 0))

"""Why a recorded purchase earned what it did: the rule engine run again over it, with a trace, in words.

The breakdown the till received is stored with the purchase and stays the truth. To show how it came
about, ``purchase_explain`` runs ``rules.base_earning`` and ``rules.rules_evaluate`` again over the
purchase as it was — its lines, total, time and store, the member's tier and whether it was their first
purchase as they were then, what capped rules had given before it — and keeps each rule's trace: which
conditions held on which values, what the effect computed, how caps and best-of groups cut it. Where
today's configuration no longer gives what was recorded (a rule edited since, a new earn rate), the
explanation says so instead of pretending. Nothing here writes.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal

from tiers.selectors import member_tier_at

from .conditions import (
    BirthdayCondition,
    CategoryCondition,
    Condition,
    DateWindowCondition,
    DayOfWeekCondition,
    EnrolmentAnniversaryCondition,
    FirstPurchaseCondition,
    MinimumSpendCondition,
    SkuCondition,
    StoreCondition,
    TierCondition,
    TimeOfDayCondition,
)
from .definitions import DefinitionError
from .effects import FixedBonusEffect, MultiplierEffect, PerUnitEffect
from .models import EarningRule, Purchase, RuleAward
from .rules import BASE_RULE, EarningContext, Line, RuleTrace, base_earning, purchase_context, rules_evaluate
from .selectors import member_purchased_before, rule_points_awarded_before

WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True)
class ConditionCheck:
    """One condition of a rule against the purchase: what it asks for, what the purchase had."""

    wanted: str
    seen: str
    met: bool


@dataclass
class RuleExplanation:
    code: str
    name: str
    rule: EarningRule | None  # None for the base rule
    recorded: int | None  # the points the stored breakdown gives it (None: not in the breakdown)
    recomputed: int = 0  # what running the rule again gives
    conditions: list[ConditionCheck] = field(default_factory=list)
    effect: str = ""  # the effect's arithmetic, in words
    lines: tuple[Line, ...] = ()  # the lines its line conditions chose (all lines: the rule has none)
    notes: list[str] = field(default_factory=list)  # caps, best-of, changes since the purchase
    trace: RuleTrace | None = None

    @property
    def fired(self) -> bool:
        return bool(self.recorded)

    @property
    def agrees(self) -> bool:
        return (self.recorded or 0) == self.recomputed


@dataclass
class PurchaseExplanation:
    purchase: Purchase
    local_time: datetime
    tier: object  # the member's tier when the purchase was made (None: no tier)
    first_purchase: bool
    base: RuleExplanation
    fired: list[RuleExplanation]  # the configured rules that paid, in breakdown order
    not_fired: list[RuleExplanation]  # the purchase rules in force then that paid nothing, and why
    recorded_total: int
    recomputed_total: int

    @property
    def agrees(self) -> bool:
        return self.recorded_total == self.recomputed_total and self.base.agrees and all(r.agrees for r in self.fired)


# --- conditions and effects in words --------------------------------------------------------------


def _money(amount, currency: str) -> str:
    return f"{Decimal(amount):,.2f} {currency}"


def _listed(values) -> str:
    values = sorted(str(v) for v in values)
    return values[0] if len(values) == 1 else ", ".join(values[:-1]) + " or " + values[-1]


def _lines_seen(lines) -> str:
    return ", ".join(f"{line.sku} ({line.category or 'no category'}) ×{line.quantity}" for line in lines)


def _condition_check(condition: Condition, context: EarningContext) -> ConditionCheck:
    local = context.local_time
    met = condition.matches(context)
    currency = context.program.currency
    if isinstance(condition, SkuCondition | CategoryCondition):
        chosen = [line for line in context.lines if condition.line_matches(line)]
        what = "SKU" if isinstance(condition, SkuCondition) else "category"
        values = condition.skus if isinstance(condition, SkuCondition) else condition.categories
        seen = _lines_seen(chosen) if chosen else f"no such line ({_lines_seen(context.lines) or 'no lines'})"
        return ConditionCheck(f"a line with {what} {_listed(values)}", seen, met)
    if isinstance(condition, StoreCondition):
        store = context.store.code if context.store is not None else "no store"
        return ConditionCheck(f"at store {_listed(condition.stores)}", f"at {store}", met)
    if isinstance(condition, DateWindowCondition):
        start = f"from {condition.start:%-d %b %Y}" if condition.start else ""
        end = f"until {condition.end:%-d %b %Y}" if condition.end else ""
        return ConditionCheck(f"dated {' '.join(filter(None, (start, end)))}", f"{local:%-d %b %Y}", met)
    if isinstance(condition, TimeOfDayCondition):
        return ConditionCheck(f"between {condition.start:%H:%M} and {condition.end:%H:%M}", f"at {local:%H:%M}", met)
    if isinstance(condition, DayOfWeekCondition):
        days = [WEEKDAY_NAMES[day] for day in sorted(condition.days)]
        return ConditionCheck(f"on {', '.join(days)}", f"on a {WEEKDAY_NAMES[local.weekday()]}", met)
    if isinstance(condition, MinimumSpendCondition):
        return ConditionCheck(f"a total of at least {_money(condition.amount, currency)}",
                              f"a total of {_money(context.total or 0, currency)}", met)
    if isinstance(condition, TierCondition):
        return ConditionCheck(f"a member of tier {_listed(condition.tiers)}",
                              f"tier {context.tier_code}" if context.tier_code else "no tier", met)
    if isinstance(condition, FirstPurchaseCondition):
        return ConditionCheck("the member's first purchase",
                              "their first purchase" if context.is_first_purchase else "they had bought before", met)
    if isinstance(condition, BirthdayCondition):
        born = getattr(context.member, "birth_date", None)
        wanted = "on the member's birthday" if condition.within == "day" else "in the member's birthday month"
        return ConditionCheck(wanted, f"born on {born:%-d %B}" if born else "no birth date given", met)
    if isinstance(condition, EnrolmentAnniversaryCondition):
        enrolled = getattr(context.member, "enrolled_at", None)
        wanted = "on an anniversary of enrolment" if condition.within == "day" else "in the month of enrolment"
        return ConditionCheck(wanted, f"enrolled on {enrolled:%-d %B %Y}" if enrolled else "no enrolment date", met)
    return ConditionCheck(condition.kind.replace("_", " "), "", met)  # event conditions: no purchase has them


def _rate(context: EarningContext) -> str:
    program = context.program
    return f"{Decimal(program.points_per_unit).normalize():f} per {program.currency}"


def _effect_text(rule: EarningRule, context: EarningContext, trace: RuleTrace | None) -> str:
    effect = rule.definition.effect
    narrowed = context.narrowed(rule.definition.line_conditions)
    computed = trace.computed if trace is not None and trace.matched else effect.points(narrowed)
    tier = Decimal(context.tier_multiplier).normalize()
    if isinstance(effect, MultiplierEffect):
        factor = effect.factor.normalize()
        return (f"×{factor:f} on {_money(narrowed.amount, context.program.currency)} of spend: "
                f"{narrowed.amount:.2f} × {_rate(context)} × tier ×{tier:f} × ({factor:f} − 1), rounded down: "
                f"{computed:,}")
    if isinstance(effect, PerUnitEffect):
        return f"{effect.per_unit:,} for each of {narrowed.quantity:,} units: {computed:,}"
    if isinstance(effect, FixedBonusEffect):
        return f"a fixed bonus of {effect.bonus:,}"
    return f"{computed:,}"


def _notes(rule: EarningRule, trace: RuleTrace | None, purchase: Purchase, cap_period: str) -> list[str]:
    notes = []
    if trace is not None and trace.matched:
        if trace.capped_per_purchase:
            notes.append(f"Capped at {rule.cap_per_purchase:,} per purchase (the effect gave {trace.computed:,}).")
        if trace.awarded_before is not None:
            left = max(0, rule.cap_per_member - trace.awarded_before)
            notes.append(f"Cap of {rule.cap_per_member:,} per member per {cap_period}: {trace.awarded_before:,} "
                         f"given before this purchase in that {cap_period}, {left:,} left.")
        if trace.beaten_by is not None:
            notes.append(f"Best of group “{rule.group}”: {trace.beaten_by.name} ({trace.beaten_by.code}) earned more "
                         "and counted instead.")
        elif trace.points == 0 and not trace.awarded_before:
            notes.append("Its conditions held, but its effect came to 0.")
    if rule.updated_at and rule.updated_at > purchase.created_at:
        notes.append(f"Changed on {rule.updated_at:%-d %b %Y} after this purchase: the conditions shown are "
                     "today's.")
    return notes


def _rule_explanation(rule: EarningRule, *, context: EarningContext, trace: RuleTrace | None, recorded: int | None,
                      purchase: Purchase) -> RuleExplanation:
    explained = RuleExplanation(code=rule.code, name=rule.name, rule=rule, recorded=recorded, trace=trace,
                                recomputed=trace.points if trace is not None and trace.beaten_by is None else 0)
    try:
        definition = rule.definition
    except DefinitionError:  # saved rules always read; a hand-edited row is shown, not explained
        explained.notes.append("Its definition no longer reads; it cannot be explained.")
        return explained
    explained.conditions = [_condition_check(c, context) for c in definition.conditions]
    explained.lines = context.narrowed(definition.line_conditions).lines
    if trace is None or trace.matched:  # the effect of a rule whose conditions failed explains nothing
        explained.effect = _effect_text(rule, context, trace)
    explained.notes = _notes(rule, trace, purchase, rule.get_cap_period_display().lower())
    if trace is None:
        in_force = rule.active and (rule.valid_from is None or rule.valid_from <= purchase.occurred_at) and (
            rule.valid_until is None or rule.valid_until > purchase.occurred_at)
        if not in_force:
            explained.notes.insert(0, "Not in force for this purchase's time today (switched off or out of its "
                                      "dates); it was when the purchase was made.")
    return explained


# --- the explanation --------------------------------------------------------------------------------


def _context_then(purchase: Purchase) -> tuple[EarningContext, object, bool]:
    """The evaluation context of ``purchase`` as it was made: its tier and first-purchase status then."""
    member = purchase.member
    tier = member_tier_at(member=member, at=purchase.created_at)
    first = not member_purchased_before(member=member, before=purchase.created_at)
    context = purchase_context(program=purchase.program, member=member, store=purchase.store, total=purchase.total,
                               lines=purchase.lines or [], occurred_at=purchase.occurred_at, is_first_purchase=first)
    context = replace(context, tier_code=getattr(tier, "code", None),
                      tier_multiplier=Decimal(tier.multiplier) if tier is not None else Decimal(1))
    return context, tier, first


def purchase_explain(*, purchase: Purchase) -> PurchaseExplanation:
    """How ``purchase`` (with its ``member``, ``program`` and ``store``) came to its breakdown, rule by rule.

    A handful of queries whatever the purchase: the tier history, earlier purchases, the program's purchase
    rules, this purchase's awards, and one sum per rule capped per member.
    """
    context, tier, first = _context_then(purchase)
    recorded = {line["rule"]: int(line["points"]) for line in purchase.breakdown or []}
    rules = list(EarningRule.objects.filter(program_id=purchase.program_id,
                                            applies_to=EarningRule.AppliesTo.PURCHASE).order_by("priority", "code"))
    awarded_ids = set(RuleAward.objects.filter(source_type="purchase", source_id=str(purchase.pk))
                      .values_list("rule_id", flat=True))
    in_force = [rule for rule in rules if rule.active
                and (rule.valid_from is None or rule.valid_from <= purchase.occurred_at)
                and (rule.valid_until is None or rule.valid_until > purchase.occurred_at)]
    traces: list[RuleTrace] = []
    rules_evaluate(rules=in_force, context=context, trace=traces, awarded=lambda rule: rule_points_awarded_before(
        program=purchase.program, rule=rule, member=purchase.member, at=purchase.occurred_at,
        before=purchase.created_at, exclude_source=str(purchase.pk)))
    by_rule = {trace.rule.pk: trace for trace in traces}

    base_points = base_earning(context).points
    program = purchase.program
    base = RuleExplanation(
        code=BASE_RULE, name="Base rate", rule=None, recorded=recorded.get(BASE_RULE, 0), recomputed=base_points,
        lines=context.lines,
        effect=(f"{_money(purchase.total, program.currency)} × {_rate(context)} × tier "
                f"×{Decimal(context.tier_multiplier).normalize():f}, rounded down: {base_points:,}"))
    if not base.agrees:
        base.notes.append("Today's earn rate or the tier's multiplier gives another figure: the program's settings "
                          "changed since this purchase.")

    explained = {rule.pk: _rule_explanation(rule, context=context, trace=by_rule.get(rule.pk),
                                            recorded=recorded.get(rule.code), purchase=purchase)
                 for rule in rules if rule.pk in by_rule or rule.code in recorded or rule.pk in awarded_ids}
    order = {code: index for index, code in enumerate(recorded)}
    fired = sorted((e for e in explained.values() if e.fired), key=lambda e: order.get(e.code, len(order)))
    not_fired = [e for e in explained.values() if not e.fired]
    return PurchaseExplanation(
        purchase=purchase, local_time=context.local_time, tier=tier, first_purchase=first, base=base, fired=fired,
        not_fired=not_fired, recorded_total=purchase.points_awarded,
        recomputed_total=base_points + sum(e.recomputed for e in explained.values()))

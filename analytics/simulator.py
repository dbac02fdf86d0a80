"""The earn-rate simulator: the last 12 months of real purchases and redemptions replayed with a changed earn rate,
rule, tier thresholds or reward costs, beside what happened. Nothing is written but the run's own record.

A replay walks the program's members in blocks of ids (the primary key's order, so no cursor stays open while it
runs) and earns each member's purchases again, in the order they were earned, through the rule engine's own
functions (``purchase_context``, ``base_earning``, ``rules_evaluate``) twice: once with today's configuration (the
*replay*) and once with the changes (the *simulation*). With no change both equal what was actually awarded,
unless the configuration changed during the year; the difference between the two is the change's effect.

What it assumes, as the page and the staff guide say:

* Each purchase earns at the tier the member held when it was earned (their tier history). When the tiers could
  move (a new threshold, or a change to earning where tiers count points), it earns at the tier the simulation
  says they held: their qualification in the window at that moment, as it happened plus what the simulation's
  purchases so far added, reaches a higher tier of the new ladder sooner (tiers upgrade at once); an upgrade of
  the year that it no longer reaches did not happen (not below the tier held when the 12 months began). A staff
  lock keeps the tier. With nothing changed this is the tier history itself.
* A return takes back points in the same proportion as it did (the return service's rounding).
* Liability at the end is today's, plus the change's extra points net of returns, less the extra points the
  rewards would have cost. Points issued but never spent are counted as owed (nothing extra expires).
* Members redeem the same rewards as they did, whatever they cost.
* Tiers at the end: a member whose qualification does not change keeps their tier; one who would reach a higher
  tier moves up to it (tiers upgrade at once); one who would reach a lower tier than they do now moves down to it
  (they would not have reached their tier). A staff lock keeps the tier.
"""

from __future__ import annotations

import copy
import logging
import time
from bisect import bisect_left
from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from itertools import accumulate, pairwise
from types import SimpleNamespace

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from earning.definitions import DefinitionError
from earning.rules import base_earning, floor_points, purchase_context, rule_definition_read, rules_evaluate
from earning.selectors import (
    cap_period_bounds,
    purchase_rules_for_replay,
    purchases_for_replay,
    rule_awards_for_replay,
)
from ledger.selectors import points_outstanding
from members.selectors import member_block, member_count
from programs.selectors import store_codes
from rewards.selectors import redemptions_by_reward, rewards_with_fixed_cost
from tiers.qualification import NO_RANK, Ladder, Window, add_months
from tiers.selectors import qualifying_for_members, tier_changes_for_members, tier_policy_ladder, tier_standings

from .models import SimulationMover, SimulationRun
from .months import month_add, month_of
from .services import day_start, local_today, program_zone

logger = logging.getLogger(__name__)

BLOCK = 2000  # members per block: a few thousand purchases, one query of each kind
MONTHS = 12
HEARTBEAT_LOST = timedelta(minutes=10)  # a block of members takes seconds: a run this quiet has lost its worker
CENT = Decimal("0.01")
MAX_POINTS_PER_UNIT = Decimal(1000)
MAX_COST = 10_000_000
EFFECT_VALUE = {"multiplier": "factor", "fixed_bonus": "points", "per_unit": "points"}
NOTHING_CHANGED = "Change at least one setting: the earn rate, a rule, a tier threshold or a reward's cost."


# --- what can change -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Changes:
    """What a simulation changes; ``None`` or empty leaves a setting as it is."""

    points_per_unit: Decimal | None = None
    rule_id: str | None = None
    rule_active: bool | None = None  # switched on or off; None leaves it
    rule_value: Decimal | None = None  # the effect's new factor (multiplier) or points (fixed bonus, per unit)
    thresholds: dict[str, Decimal] = field(default_factory=dict)  # tier code → threshold
    reward_costs: dict[str, int] = field(default_factory=dict)  # reward id → points

    def as_json(self) -> dict:
        return {"points_per_unit": None if self.points_per_unit is None else str(self.points_per_unit),
                "rule_id": self.rule_id, "rule_active": self.rule_active,
                "rule_value": None if self.rule_value is None else str(self.rule_value),
                "thresholds": {code: str(value) for code, value in self.thresholds.items()},
                "reward_costs": dict(self.reward_costs)}

    @classmethod
    def of_json(cls, data: dict) -> Changes:
        def decimal(value):
            return None if value is None else Decimal(value)

        return cls(points_per_unit=decimal(data.get("points_per_unit")), rule_id=data.get("rule_id"),
                   rule_active=data.get("rule_active"), rule_value=decimal(data.get("rule_value")),
                   thresholds={code: Decimal(value) for code, value in (data.get("thresholds") or {}).items()},
                   reward_costs={key: int(value) for key, value in (data.get("reward_costs") or {}).items()})

    @property
    def empty(self) -> bool:
        return (self.points_per_unit is None and self.rule_id is None and not self.thresholds
                and not self.reward_costs)


def rule_effect_changed(rule, value: Decimal) -> dict:
    """The rule's effect with its factor or points replaced by ``value``; ``DefinitionError`` when the rule engine
    would refuse it (a factor of 1 or less, points out of range, a fraction of a point)."""
    kind = rule.effect.get("kind")
    name = EFFECT_VALUE.get(kind)
    if name is None:
        raise DefinitionError([{"field": "effect", "message": f"A {kind} effect has no value to change."}])
    effect = {"kind": kind, name: str(value) if kind == "multiplier" else _whole(value)}
    rule_definition_read(conditions=rule.conditions, effect=effect, applies_to=rule.applies_to)
    return effect


def _whole(value: Decimal):
    if value != value.to_integral_value():
        raise DefinitionError([{"field": "effect.points", "message": "Give whole points."}])
    return int(value)


def ladder_problems(tiers, thresholds: dict[str, Decimal]) -> dict[str, str]:
    """``{tier code: message}`` where the new thresholds would put the ladder out of order: as the tier settings
    require, a higher tier needs more than the one below it."""
    problems: dict[str, str] = {}
    ordered = sorted(tiers, key=lambda tier: tier.rank)
    for below, above in pairwise(ordered):
        low = thresholds.get(below.code, below.threshold)
        high = thresholds.get(above.code, above.threshold)
        if high <= low:
            code = above.code if above.code in thresholds else below.code
            problems.setdefault(code, f"{above.name} must need more than {below.name} ({_shown(low)} vs "
                                      f"{_shown(high)}).")
    return problems


def _plain(value: Decimal) -> str:
    return format(Decimal(value).normalize(), "f")


def _shown(value: Decimal) -> str:
    return format(Decimal(value).normalize(), ",f")


def replay_range(program, now: datetime | None = None) -> tuple[date, date]:
    """The 12 calendar months replayed: from the first day of the month 11 months ago to today (local days)."""
    today = local_today(program, now)
    first = today.replace(day=1)
    index = first.year * 12 + first.month - 1 - (MONTHS - 1)
    return date(index // 12, index % 12 + 1, 1), today


# --- starting and running --------------------------------------------------------------------------------------


@transaction.atomic
def simulation_request(*, program, changes: Changes, user=None, described: list[str] | None = None,
                       now: datetime | None = None) -> SimulationRun:
    """Record a simulation and queue its replay (run at once, in this request, when there is no broker).
    ``described``: the changes in words, as the run list shows them."""
    from .tasks import simulation_run  # the task module imports this one

    now = now or timezone.now()
    first, last = replay_range(program, now)
    run = SimulationRun.objects.create(
        program=program, requested_by=user, requested_by_name=getattr(user, "username", "") or "",
        created_at=now, changes={**changes.as_json(), "described": list(described or [])}, first_day=first,
        last_day=last)
    transaction.on_commit(lambda: simulation_run.delay(run.pk))
    return run


def simulation_execute(*, run: SimulationRun) -> SimulationRun:
    """Replay the run's year and store its figures. A run another worker is replaying is left alone (a task
    delivered twice); one whose worker stopped reporting (it died: the task comes back, ``acks_late``) starts
    again. Not one transaction: the progress is seen while it runs, and nothing here needs undoing but the
    run's own movers, which a failed or restarted run deletes."""
    now = timezone.now()
    waiting = Q(status=SimulationRun.Status.QUEUED) | Q(status=SimulationRun.Status.RUNNING,
                                                        heartbeat_at__lt=now - HEARTBEAT_LOST)
    claimed = SimulationRun.objects.filter(waiting, pk=run.pk).update(
        status=SimulationRun.Status.RUNNING, started_at=now, heartbeat_at=now, progress=0)
    if not claimed:
        return run
    SimulationMover.objects.filter(run=run).delete()
    run.refresh_from_db()
    started = time.monotonic()
    try:
        figures = Replay(run).run()
    except Exception as error:
        logger.exception("Simulation %s failed", run.pk)
        SimulationMover.objects.filter(run=run).delete()
        SimulationRun.objects.filter(pk=run.pk).update(status=SimulationRun.Status.FAILED, error=str(error)[:2000],
                                                       finished_at=timezone.now())
        raise
    figures["seconds"] = round(time.monotonic() - started, 2)
    SimulationRun.objects.filter(pk=run.pk).update(status=SimulationRun.Status.DONE, progress=100, figures=figures,
                                                   finished_at=timezone.now())
    run.refresh_from_db()
    return run


# --- the replay ------------------------------------------------------------------------------------------------


@dataclass
class Totals:
    """Points a purchase earned, and the part its returns took back: as it happened, replayed, simulated."""

    actual: int = 0
    replayed: int = 0
    simulated: int = 0
    actual_reversed: int = 0
    replayed_reversed: int = 0
    simulated_reversed: int = 0

    def add(self, other: Totals) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


def kept_after_returns(points: int, total: Decimal, returned: Decimal) -> int:
    """The points a purchase keeps once ``returned`` of its ``total`` came back (the return service's rounding)."""
    if not returned:
        return points
    return floor_points(Decimal(points) * (total - returned) / total)


def tier_after(*, rank: int, locked: bool, reached: int, simulated_reached: int) -> int:
    """Where a member would stand at the end (see the module's last assumption)."""
    if locked or simulated_reached == reached:
        return rank
    if simulated_reached > reached:
        return max(rank, simulated_reached)
    return min(rank, simulated_reached)


@dataclass(frozen=True)
class _Rule:
    """A purchase rule as the rule engine reads it, read once for the whole replay (its definition parsed once,
    not checked against its stored JSON on every purchase)."""

    pk: object
    code: str
    definition: object
    cap_per_purchase: int | None
    cap_per_member: int | None
    cap_period: str
    is_best_of: bool
    group: str
    valid_from: datetime | None
    valid_until: datetime | None

    @classmethod
    def of(cls, rule) -> _Rule:
        return cls(pk=rule.pk, code=rule.code, definition=rule.definition, cap_per_purchase=rule.cap_per_purchase,
                   cap_per_member=rule.cap_per_member, cap_period=rule.cap_period, is_best_of=rule.is_best_of,
                   group=rule.group, valid_from=rule.valid_from, valid_until=rule.valid_until)

    def valid_at(self, at: datetime) -> bool:
        return (self.valid_from is None or self.valid_from <= at) and (self.valid_until is None
                                                                       or self.valid_until > at)


class _Variant:
    """One configuration to earn with: the program (its earn rate) and its purchase rules, switched on."""

    def __init__(self, program, rules):
        self.program, self.rules = program, [_Rule.of(rule) for rule in rules if rule.active]


class Replay:
    """One run's replay: the program's members block by block, each member's purchases earned again both ways,
    their tier at the end decided both ways; then the figures."""

    def __init__(self, run: SimulationRun, now: datetime | None = None):
        self.record = run
        self.program = program = run.program
        self.changes = Changes.of_json(run.changes)
        self.zone = program_zone(program)
        self.now = now or run.started_at or timezone.now()
        self.start_at = day_start(program, run.first_day)
        self.end_at = min(day_start(program, run.last_day + timedelta(days=1)), self.now)

        rules = purchase_rules_for_replay(program=program)
        self.replayed = _Variant(program, rules)
        self.simulated = _Variant(self._changed_program(), [self._changed_rule(rule) for rule in rules])
        # Only tiers or rewards changed: the simulation earns what the replay earns, once is enough.
        self.same_earning = self.changes.points_per_unit is None and self.changes.rule_id is None
        self.capped_rule_ids = {rule.pk for rule in rules if rule.cap_per_member is not None}
        self.stores = {pk: SimpleNamespace(pk=pk, code=code) for pk, code in store_codes(program_id=program.pk).items()}

        self.policy, self.ladder = tier_policy_ladder(program_id=program.pk)
        self.new_ladder = Ladder(tiers=tuple(self._changed_tier(tier) for tier in self.ladder.tiers),
                                 scale=self.ladder.scale)
        self.tiers = {tier.pk: tier for tier in self.ladder.tiers}
        self.window = Window.of(self.policy, self.now)
        self.points_metric = self.policy.metric == self.policy.Metric.POINTS
        # Whether a member's tier during the year can differ in the simulation; then every purchase is earned both
        # ways, each at its own tier.
        self.tiers_move = bool(self.changes.thresholds) or (self.points_metric and not self.same_earning)
        if self.tiers_move:
            self.same_earning = False

        self.months: dict[date, Totals] = defaultdict(Totals)
        self.purchases = 0
        self.members_with_purchases = 0
        self.actual_tiers: Counter = Counter()
        self.simulated_tiers: Counter = Counter()
        self.moves: Counter = Counter()

    # -- the changed configuration -----------------------------------------------------------------------------
    def _changed_program(self):
        program = copy.copy(self.program)  # never saved: the simulation's earn rate lives only here
        if self.changes.points_per_unit is not None:
            program.points_per_unit = self.changes.points_per_unit
        return program

    def _changed_rule(self, rule):
        if str(rule.pk) != self.changes.rule_id:
            return rule
        changed = copy.copy(rule)  # never saved
        if self.changes.rule_active is not None:
            changed.active = self.changes.rule_active
        if self.changes.rule_value is not None:
            changed.effect = rule_effect_changed(rule, self.changes.rule_value)
        return changed

    def _changed_tier(self, tier):
        if tier.code not in self.changes.thresholds:
            return tier
        changed = copy.copy(tier)  # never saved
        changed.threshold = self.changes.thresholds[tier.code]
        return changed

    # -- the walk ------------------------------------------------------------------------------------------------
    def run(self) -> dict:
        total_members = member_count(program_id=self.program.pk) or 1
        done, after = 0, None
        while block := member_block(program_id=self.program.pk, after=after, limit=BLOCK):
            self._block(block)
            done += len(block)
            after = block[-1][0]
            SimulationRun.objects.filter(pk=self.record.pk).update(progress=min(99, done * 100 // total_members),
                                                                   heartbeat_at=timezone.now())
        return self._figures()

    def _block(self, block: list[tuple]) -> None:
        first, last = block[0][0], block[-1][0]
        purchases: dict = defaultdict(list)
        for row in purchases_for_replay(program_id=self.program.pk, first_member=first, last_member=last,
                                        start_at=self.start_at, end_at=self.end_at):
            purchases[row[1]].append(row)
        changes: dict = defaultdict(list)
        for member_id, from_tier, to_tier, at in tier_changes_for_members(program_id=self.program.pk,
                                                                          first_member=first, last_member=last):
            changes[member_id].append((at, from_tier, to_tier))
        standings = {row[0]: row[1:] for row in tier_standings(
            program_id=self.program.pk, first_member=first, last_member=last, metric=self.policy.metric,
            since=self.window.start, previous_start=self.window.previous_start, now=self.now)}
        qualifying: dict = defaultdict(list)
        if self.tiers_move and purchases:
            for member_id, occurred_at, units in qualifying_for_members(
                    program_id=self.program.pk, first_member=first, last_member=last, metric=self.policy.metric,
                    since=Window.of(self.policy, self.start_at).start, until=self.end_at):
                qualifying[member_id].append((occurred_at, units))
        awards: dict = defaultdict(list)
        if self.capped_rule_ids and purchases:
            # A cap per member counts its period back to a year before the replay's first day at most.
            for rule_id, member_id, at, points in rule_awards_for_replay(
                    rule_ids=self.capped_rule_ids, first_member=first, last_member=last,
                    since=add_months(self.start_at, -12), until=self.start_at):
                awards[(member_id, rule_id)].append((at, points))

        movers = []
        for member_id, birth_date, enrolled_at in block:
            member = SimpleNamespace(pk=member_id, birth_date=birth_date, enrolled_at=enrolled_at)
            standing = standings.get(member_id)
            delta = 0
            if purchases.get(member_id):
                delta = self._member(member, purchases[member_id], changes.get(member_id, []), standing, awards,
                                     qualifying.get(member_id, []))
            mover = self._tier_end(member_id, standing, delta)
            if mover is not None:
                movers.append(mover)
        SimulationMover.objects.bulk_create(movers, batch_size=BLOCK)

    def _tier_at(self, changes: list[tuple], standing, at: datetime):
        """The tier the member held just before ``at`` (``tiers.selectors.member_tier_at``, from the block's rows)."""
        before = [change for change in changes if change[0] < at]
        if before:
            tier_id = before[-1][2]
        elif changes:
            tier_id = changes[0][1]
        elif standing is not None:
            tier_id = standing[0]
        else:
            return self.ladder.base
        return self.tiers.get(tier_id)

    def _member(self, member, purchases: list[tuple], changes: list[tuple], standing, awards: dict,
                qualifying: list[tuple]) -> int:
        """Earn the member's purchases again both ways; answers the simulation's extra qualifying points in the
        tier window (net of returns; 0 unless tiers count points). ``qualifying``: the member's qualifying
        activity as it happened (``[(occurred at, units)]``, oldest first), read when the tiers could move."""
        self.members_with_purchases += 1
        variants = (self.replayed,) if self.same_earning else (self.replayed, self.simulated)
        given = {variant: defaultdict(list) for variant in variants}
        delta = 0
        moving = self.tiers_move and not (standing is not None and standing[1])  # a staff lock holds the tier
        if moving:
            times = [at for at, _ in qualifying]
            running = list(accumulate((units for _, units in qualifying), initial=0))
            start_rank = self.ladder.rank_of(getattr(self._tier_at(changes, standing, self.start_at), "pk", None))
            added, added_total = deque(), 0  # (occurred at, units) the simulation's purchases added so far
        for (_, _, store_id, total, returned, lines, occurred_at, decided_at, awarded, reversed_, first) in purchases:
            tier = self._tier_at(changes, standing, decided_at)
            simulated_tier = tier
            if moving:
                since = Window.of(self.policy, occurred_at).start
                value = running[bisect_left(times, occurred_at)] - running[bisect_left(times, since)]
                while added and added[0][0] < since:
                    added_total -= added.popleft()[1]
                simulated_tier = self._simulated_tier(tier, start_rank, value, value + added_total)
            # The rule engine's own context, with the member and the tier they held then in place of a read of
            # today's tier; the simulation's differs by its program (its earn rate) and the tier it says they held.
            context = replace(
                purchase_context(program=self.program, member=None, store=self.stores.get(store_id), total=total,
                                 lines=lines, occurred_at=occurred_at, is_first_purchase=first),
                member=member, tier_code=getattr(tier, "code", None),
                tier_multiplier=Decimal(tier.multiplier) if tier is not None else Decimal(1))
            earned = []
            for variant in variants:
                if variant is self.simulated:
                    if variant.program is not self.program:
                        context = replace(context, program=variant.program)
                    if simulated_tier is not tier:
                        context = replace(context, tier_code=getattr(simulated_tier, "code", None),
                                          tier_multiplier=Decimal(simulated_tier.multiplier)
                                          if simulated_tier is not None else Decimal(1))
                earned.append(self._earn(variant, context, member, occurred_at, awards, given[variant]))
            replayed = earned[0]
            simulated = earned[-1]
            replayed_reversed = replayed - kept_after_returns(replayed, total, returned)
            simulated_reversed = (replayed_reversed if simulated == replayed
                                  else simulated - kept_after_returns(simulated, total, returned))
            if moving and self.points_metric and simulated != replayed:
                added.append((occurred_at, (simulated - simulated_reversed) - (replayed - replayed_reversed)))
                added_total += added[-1][1]
            month = self.months[occurred_at.astimezone(self.zone).date().replace(day=1)]
            month.actual += awarded
            month.replayed += replayed
            month.simulated += simulated
            month.actual_reversed += reversed_
            month.replayed_reversed += replayed_reversed
            month.simulated_reversed += simulated_reversed
            self.purchases += 1
            if self.points_metric and occurred_at >= self.window.start:
                delta += (simulated - simulated_reversed) - (replayed - replayed_reversed)
        return delta

    def _simulated_tier(self, tier, start_rank: int, value: int, simulated_value: int):
        """The tier the simulation says the member held, from the one they held (``tier``, reached with ``value``
        units in the window) and ``simulated_value`` on the new ladder; ``tier`` itself when nothing differs."""
        held = self.ladder.rank_of(getattr(tier, "pk", None))
        reached = self.ladder.earned_rank(value)
        simulated = self.new_ladder.earned_rank(simulated_value)
        if simulated > reached and simulated > held:  # reached sooner
            rank = simulated
        elif simulated < reached and reached >= held > start_rank:  # this year's upgrade would not have happened
            rank = max(simulated, start_rank)
        else:
            return tier
        return self.ladder.tier_at(rank) if rank != held else tier

    def _earn(self, variant: _Variant, context, member, occurred_at, awards, given) -> int:
        """What ``variant`` earns for the purchase; remembers what its capped rules gave."""
        points = base_earning(context).points
        rules = [rule for rule in variant.rules if rule.valid_at(occurred_at)]
        if not rules:
            return points

        def awarded(rule):
            start, end = cap_period_bounds(program=self.program, period=rule.cap_period, at=occurred_at)
            return sum(points for at, points in [*awards.get((member.pk, rule.pk), ()), *given[rule.pk]]
                       if start <= at < end)

        earnings = rules_evaluate(rules=rules, context=context, awarded=awarded)
        points += sum(e.points for e in earnings)
        if points > 0:  # as the earning service records awards: only for a purchase that earned
            for earning in earnings:
                given[earning.rule_id].append((occurred_at, earning.points))
        return points

    def _tier_end(self, member_id, standing, delta: int) -> SimulationMover | None:
        if standing is None:
            tier_id, locked, units, previous = getattr(self.ladder.base, "pk", None), False, 0, None
        else:
            tier_id, locked, units, previous = standing
        rank = self.ladder.rank_of(tier_id)
        reached = self._reached(self.ladder, units, previous)
        simulated_reached = self._reached(self.new_ladder, units + delta, previous)
        new_rank = tier_after(rank=rank, locked=locked, reached=reached, simulated_reached=simulated_reached)
        old_code = self._code(self.ladder, rank)
        new_code = self._code(self.new_ladder, new_rank)
        self.actual_tiers[old_code] += 1
        self.simulated_tiers[new_code] += 1
        if old_code == new_code:
            return None
        self.moves[(old_code, new_code)] += 1
        return SimulationMover(run=self.record, member_id=member_id, from_tier=old_code, to_tier=new_code, units=units,
                               simulated_units=units + delta)

    @staticmethod
    def _reached(ladder: Ladder, units: int, previous: int | None) -> int:
        reached = ladder.earned_rank(units)
        return reached if previous is None else max(reached, ladder.earned_rank(previous))

    @staticmethod
    def _code(ladder: Ladder, rank: int) -> str:
        return "" if rank == NO_RANK else getattr(ladder.tier_at(rank), "code", "")

    # -- the figures ---------------------------------------------------------------------------------------------
    def _figures(self) -> dict:
        program, totals = self.program, Totals()
        for month in self.months.values():
            totals.add(month)
        value = program.value_per_point
        rewards = self._rewards()
        redeemed = sum(row["points"] for row in rewards)
        redeemed_simulated = sum(row["simulated_points"] for row in rewards)
        outstanding = points_outstanding(program=program)
        net = {name: getattr(totals, name) - getattr(totals, f"{name}_reversed")
               for name in ("actual", "replayed", "simulated")}
        simulated_liability = outstanding + net["simulated"] - net["replayed"] - (redeemed_simulated - redeemed)
        names = {tier.code: tier.name for tier in self.ladder.tiers}
        months, month = [], month_of(self.record.first_day)
        while month <= self.record.last_day:
            row = self.months.get(month, Totals())
            months.append({"month": month.isoformat()[:7], "actual": row.actual, "replayed": row.replayed,
                           "simulated": row.simulated})
            month = month_add(month, 1)
        tiers = [{"code": tier.code, "name": tier.name, "threshold": _plain(tier.threshold),
                  "new_threshold": _plain(new.threshold), "actual": self.actual_tiers.get(tier.code, 0),
                  "simulated": self.simulated_tiers.get(tier.code, 0)}
                 for tier, new in zip(self.ladder.tiers, self.new_ladder.tiers, strict=True)]
        if self.actual_tiers.get("") or self.simulated_tiers.get(""):
            tiers.insert(0, {"code": "", "name": "No tier", "threshold": "", "new_threshold": "",
                             "actual": self.actual_tiers.get("", 0), "simulated": self.simulated_tiers.get("", 0)})
        return {
            "purchases": self.purchases, "members": sum(self.actual_tiers.values()),
            "members_with_purchases": self.members_with_purchases,
            "issued": {"actual": totals.actual, "replayed": totals.replayed, "simulated": totals.simulated},
            "reversed": {"actual": totals.actual_reversed, "replayed": totals.replayed_reversed,
                         "simulated": totals.simulated_reversed},
            "net": net,
            "redeemed": {"actual": redeemed, "simulated": redeemed_simulated},
            "liability": {"actual": outstanding, "simulated": simulated_liability,
                          "value_per_point": _plain(value), "actual_value": str(_money(outstanding, value)),
                          "simulated_value": str(_money(simulated_liability, value))},
            "months": months, "tiers": tiers, "metric": self.policy.metric,
            "moves": [{"from": old, "from_name": names.get(old, "No tier"), "to": new,
                       "to_name": names.get(new, "No tier"), "members": count}
                      for (old, new), count in sorted(self.moves.items(), key=lambda item: (-item[1], item[0]))],
            "rewards": rewards,
        }

    def _rewards(self) -> list[dict]:
        rewards = {str(reward.pk): reward for reward in rewards_with_fixed_cost(program=self.program)}
        rows = []
        for reward_id, count, points in redemptions_by_reward(program_id=self.program.pk, start_at=self.start_at,
                                                              end_at=self.end_at):
            reward = rewards.get(str(reward_id))
            new_cost = self.changes.reward_costs.get(str(reward_id))
            rows.append({"id": str(reward_id), "name": reward.name if reward else "Pay with points",
                         "code": reward.code if reward else "", "redemptions": count, "points": points or 0,
                         "cost": reward.points_cost if reward else None, "new_cost": new_cost,
                         "simulated_points": count * new_cost if new_cost is not None else points or 0})
        rows.sort(key=lambda row: (-row["points"], row["name"]))
        return rows


def _money(points: int, value: Decimal) -> Decimal:
    return (Decimal(points) * value).quantize(CENT, rounding=ROUND_HALF_UP)

"""Reads of the rollups: the analytics pages ask here, never the ledger."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from django.db import DEFAULT_DB_ALIAS
from django.db.models import Sum

from earning.selectors import purchase_rules_for_replay
from members.selectors import member_labels
from rewards.selectors import rewards_with_fixed_cost
from tiers.selectors import tier_policy_ladder

from .models import DailyLedger, RollupRun, SimulationMover, SimulationRun

# The roll-forward's movements, from the ledger's kinds, signed as a statement reads them: each a
# non-negative count except ``adjusted`` (signed) and ``transfers`` (always 0 for a whole program).
MOVEMENTS = {
    "earned": (("earn", "bonus"), 1),
    "reversed": (("return",), -1),
    "redeemed": (("redeem",), -1),
    "refunded": (("refund",), 1),
    "expired": (("expire",), -1),
    "adjusted": (("adjust",), 1),
    "transfers": (("transfer_in", "transfer_out"), 1),
}


@dataclass(frozen=True)
class RollForward:
    first: date
    last: date
    opening: int
    earned: int
    reversed: int
    redeemed: int
    refunded: int
    expired: int
    adjusted: int
    transfers: int
    closing: int

    @property
    def balances(self) -> bool:
        """opening + earned − reversed − redeemed + refunded − expired ± adjusted (+ transfers) = closing."""
        return (self.opening + self.earned - self.reversed - self.redeemed + self.refunded - self.expired
                + self.adjusted + self.transfers) == self.closing


def points_roll_forward(*, program, first: date, last: date) -> RollForward:
    """The program's points from the opening of ``first`` to the close of ``last``, from the rollups."""
    rows = DailyLedger.objects.filter(program=program, day__lte=last)
    opening = rows.filter(day__lt=first).aggregate(total=Sum("points"))["total"] or 0
    by_kind = dict(rows.filter(day__gte=first).order_by().values("kind").annotate(total=Sum("points"))
                   .values_list("kind", "total"))
    moved = {name: sign * sum(by_kind.get(kind, 0) for kind in kinds) for name, (kinds, sign) in MOVEMENTS.items()}
    return RollForward(first=first, last=last, opening=opening, closing=opening + sum(by_kind.values()), **moved)


def points_roll_forward_days(*, program, first: date, last: date) -> list[RollForward]:
    """The roll-forward of each local day from ``first`` to ``last``, oldest first, each opening with the one
    before's closing (days without entries included): two reads of the rollups, whatever the range."""
    opening = (DailyLedger.objects.filter(program=program, day__lt=first).aggregate(total=Sum("points"))["total"]
               or 0)
    booked: dict[date, dict[str, int]] = {}
    for day, kind, points in DailyLedger.objects.filter(program=program, day__range=(first, last)).values_list(
            "day", "kind", "points"):
        booked.setdefault(day, {})[kind] = points
    days, day = [], first
    while day <= last:
        by_kind = booked.get(day, {})
        moved = {name: sign * sum(by_kind.get(kind, 0) for kind in kinds) for name, (kinds, sign) in MOVEMENTS.items()}
        days.append(RollForward(first=day, last=day, opening=opening, closing=opening + sum(by_kind.values()),
                                **moved))
        opening, day = days[-1].closing, day + timedelta(days=1)
    return days


def rollup_latest(*, program) -> RollupRun | None:
    return RollupRun.objects.filter(program=program).order_by("-finished_at").first()


# --- the earn-rate simulator's runs ---
# Read from the primary even on a page that reads the replica: a run just started, or its progress, must show
# at once, however far the replica lags (a few rows, by index).

def simulation_runs_recent(*, program, limit: int = 8) -> list:
    """The program's latest simulations, newest first, without their figures (``simulation_run_latest_idx``)."""
    return list(SimulationRun.objects.using(DEFAULT_DB_ALIAS).filter(program=program).defer("figures")
                .order_by("-created_at", "-id")[:limit])


def simulation_get(*, program, run_id):
    """One of the program's simulations by its number; None for another program's, or for no number at all."""
    try:
        number = int(run_id)
    except (TypeError, ValueError):
        return None
    if not 0 < number < 2**63:
        return None
    return SimulationRun.objects.using(DEFAULT_DB_ALIAS).filter(program=program, pk=number).first()


def simulation_movers(*, run):
    """The members the run would move to another tier, by member id (a lazy queryset for a CSV)."""
    return (SimulationMover.objects.using(DEFAULT_DB_ALIAS).filter(run=run).order_by("member_id")
            .values_list("member_id", "from_tier", "to_tier", "units", "simulated_units"))


@dataclass(frozen=True)
class SimulationSettings:
    """What the simulator's form offers to change: the purchase rules, the tiers and the fixed-cost rewards."""

    rules: list
    tiers: list
    rewards: list
    metric: str


def simulation_settings(*, program) -> SimulationSettings:
    policy, ladder = tier_policy_ladder(program_id=program.pk)
    return SimulationSettings(rules=purchase_rules_for_replay(program=program), tiers=list(ladder.tiers),
                              rewards=rewards_with_fixed_cost(program=program), metric=policy.metric)


def simulation_movers_named(*, run, limit: int | None = None, batch: int = 2000):
    """The members the run would move, by member id, each with their card number and name: ``(member id, card
    number, name, from tier, to tier, units now, simulated units)``. The first ``limit``, or every one, read in
    batches (a keyset on the member id)."""
    movers, after = simulation_movers(run=run), None
    while True:
        page = movers.filter(member_id__gt=after) if after is not None else movers
        chunk = list(page[:limit if limit is not None else batch])
        labels = member_labels(program_id=run.program_id, member_ids=[row[0] for row in chunk])
        for member_id, from_tier, to_tier, units, simulated in chunk:
            card, name = labels.get(member_id, ("", ""))
            yield member_id, card, name, from_tier, to_tier, units, simulated
        if limit is not None or len(chunk) < batch:
            return
        after = chunk[-1][0]

"""The rules of qualification, in one place: windows, the tier ladder, and the recalculation decision.

``decide`` is the per-member statement of what a recalculation does; the
set-based SQL in ``tiers.recalculation`` computes exactly the same thing for a
whole program (a test holds the two equal on random populations).

Units: qualifying values are compared as integers — points, credits, or spend
in cents — so a floating-point sum can never put a member a hair below a
threshold.
"""

from __future__ import annotations

import calendar
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.utils import timezone

from .models import Tier, TierPolicy

NO_RANK = -1  # below every tier (no tier at all)


def add_months(moment: datetime, months: int) -> datetime:
    """``moment`` moved by whole calendar months, the day clamped to the target month's length."""
    index = moment.year * 12 + moment.month - 1 + months
    year, month = divmod(index, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def _year_start(moment: datetime, years_ahead: int = 0) -> datetime:
    local = timezone.localtime(moment)
    return local.replace(year=local.year + years_ahead, month=1, day=1, hour=0, minute=0, second=0, microsecond=0)


@dataclass(frozen=True)
class Window:
    """The qualifying window as of ``now``.

    ``start``: activity with ``occurred_at >= start`` counts now. ``previous_start``
    (calendar years only): the year before, which still keeps a tier at a downgrade.
    ``term_end``: a tier reached or confirmed now holds until then (the end of
    the window: N months on for a rolling window, the end of next year for a
    calendar year).
    """

    now: datetime
    start: datetime
    previous_start: datetime | None
    term_end: datetime
    grace_cutoff: datetime  # a member below their tier since at or before this moment is past grace

    @classmethod
    def of(cls, policy: TierPolicy, now: datetime) -> Window:
        grace_cutoff = now - timedelta(days=policy.grace_days)
        if policy.window == TierPolicy.Window.CALENDAR_YEAR:
            return cls(now=now, start=_year_start(now), previous_start=_year_start(now, -1),
                       term_end=_year_start(now, 2), grace_cutoff=grace_cutoff)
        return cls(now=now, start=add_months(now, -policy.window_months), previous_start=None,
                   term_end=add_months(now, policy.window_months), grace_cutoff=grace_cutoff)


def metric_scale(policy: TierPolicy) -> int:
    return 100 if policy.metric == TierPolicy.Metric.SPEND else 1


def units_to_value(units: int, scale: int) -> Decimal:
    return (Decimal(units) / scale).quantize(Decimal("0.01"))


@dataclass(frozen=True)
class Ladder:
    """A program's tiers in rank order, with thresholds in metric units."""

    tiers: tuple[Tier, ...]
    scale: int

    @classmethod
    def of(cls, program, policy: TierPolicy) -> Ladder:
        return cls(tiers=tuple(Tier.objects.filter(program=program).order_by("rank")), scale=metric_scale(policy))

    def threshold_units(self, tier: Tier) -> int:
        return math.ceil(Decimal(tier.threshold) * self.scale)

    @property
    def base(self) -> Tier | None:
        """Where a member with no status row stands: the lowest tier whose threshold is 0."""
        return next((t for t in self.tiers if t.threshold == 0), None)

    def rank_of(self, tier_id: int | None) -> int:
        return next((t.rank for t in self.tiers if t.pk == tier_id), NO_RANK)

    def tier_at(self, rank: int) -> Tier | None:
        return next((t for t in self.tiers if t.rank == rank), None)

    def earned_rank(self, units: int | None) -> int:
        """The highest tier the units reach (a threshold of 0 is reached by anyone, returns or not)."""
        units = units or 0
        for tier in reversed(self.tiers):
            threshold = self.threshold_units(tier)
            if threshold == 0 or units >= threshold:
                return tier.rank
        return NO_RANK

    def rank_below(self, rank: int) -> int:
        lower = [t.rank for t in self.tiers if t.rank < rank]
        return max(lower) if lower else NO_RANK

    def next_above(self, rank: int) -> Tier | None:
        return next((t for t in self.tiers if t.rank > rank), None)


@dataclass(frozen=True)
class Standing:
    rank: int
    achieved_at: datetime
    valid_until: datetime | None
    below_since: datetime | None
    locked_until: datetime | None


@dataclass(frozen=True)
class Decision:
    rank: int
    achieved_at: datetime
    valid_until: datetime | None
    below_since: datetime | None
    cause: str | None  # None: the tier stays

    @property
    def changed(self) -> bool:
        return self.cause is not None


def decide(*, ladder: Ladder, policy: TierPolicy, window: Window, standing: Standing,
           units: int, previous_units: int | None) -> Decision:
    """What a recalculation does to one member.

    * A lock (``locked_until`` in the future) freezes the tier.
    * Reaching a higher tier raises the member to it at once.
    * A member who still reaches their tier (in a calendar year: this year or
      last) keeps it; with ``end_of_window`` reaching it this window renews it
      to the end of the new window.
    * Below it: ``never`` keeps it; ``end_of_window`` drops to what they reach
      once the tier's window has ended; ``stepwise`` drops one tier when they
      have been below for the grace period, and the grace starts again.
    """
    now, current = window.now, standing.rank
    if standing.locked_until is not None and standing.locked_until > now:
        return Decision(current, standing.achieved_at, standing.valid_until, None, None)
    reached = ladder.earned_rank(units)
    keeps = reached if previous_units is None else max(reached, ladder.earned_rank(previous_units))
    downgrade = policy.downgrade

    if reached > current:
        new = reached
    elif keeps >= current or downgrade == TierPolicy.Downgrade.NEVER:
        new = current
    elif downgrade == TierPolicy.Downgrade.END_OF_WINDOW:
        window_over = standing.valid_until is None or standing.valid_until <= now
        new = keeps if window_over else current
    else:
        past_grace = (standing.below_since or now) <= window.grace_cutoff
        new = ladder.rank_below(current) if past_grace else current

    if new != current:
        cause = "recalc" if new > current else "downgrade"
        below = now if downgrade == TierPolicy.Downgrade.STEPWISE and new > keeps else None
        return Decision(new, now, window.term_end, below, cause)

    valid_until = standing.valid_until
    if downgrade == TierPolicy.Downgrade.END_OF_WINDOW and reached >= current:
        valid_until = window.term_end if valid_until is None or valid_until < window.term_end else valid_until
    below = None
    if keeps < current and downgrade == TierPolicy.Downgrade.STEPWISE:
        below = standing.below_since or now
    return Decision(current, standing.achieved_at, valid_until, below, None)

"""Reads of the rollups: the analytics pages ask here, never the ledger."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from django.db.models import Sum

from .models import DailyLedger, RollupRun

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

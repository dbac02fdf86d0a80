"""What a purchase earns. Each contributing rule is one line of the breakdown.

The base rule: ``floor(total × points per unit × tier multiplier)``, rounded
down once, after every factor is applied.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_FLOOR, Decimal


@dataclass(frozen=True)
class Earning:
    rule: str
    points: int

    def as_dict(self) -> dict:
        return {"rule": self.rule, "points": self.points}


def floor_points(value: Decimal) -> int:
    return int(value.to_integral_value(rounding=ROUND_FLOOR))


def tier_multiplier(*, member) -> Decimal:
    tier = getattr(member, "current_tier", None) if member is not None else None
    return Decimal(tier.multiplier) if tier is not None else Decimal(1)


def purchase_earnings(*, program, member, total: Decimal, lines: list[dict], occurred_at: datetime) -> list[Earning]:
    if member is None:
        return []
    base = floor_points(total * program.points_per_unit * tier_multiplier(member=member))
    return [Earning("base", base)] if base > 0 else [Earning("base", 0)]

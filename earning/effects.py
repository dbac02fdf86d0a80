"""Effects of an earning rule: what it earns when its conditions match (oscar's "benefits").

A rule's ``effect`` is one object with a ``kind``. Each effect sees the evaluation context
narrowed to the lines its rule's conditions chose, and answers whole points, rounded down
once after every factor.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from typing import TYPE_CHECKING, ClassVar

from .conditions import ALL_KINDS, EVENT, PURCHASE
from .definitions import Reader

if TYPE_CHECKING:
    from .rules import EarningContext

MAX_POINTS = 1_000_000


def floor_points(value: Decimal) -> int:
    return int(value.to_integral_value(rounding=ROUND_FLOOR))


class Effect:
    kind: ClassVar[str]
    rule_kinds: ClassVar[frozenset[str]] = ALL_KINDS
    help: ClassVar[str] = ""

    @classmethod
    def read(cls, reader: Reader) -> Effect:
        raise NotImplementedError

    def points(self, context: EarningContext) -> int:
        raise NotImplementedError


@dataclass(frozen=True)
class MultiplierEffect(Effect):
    """``×factor`` on the matching spend: the base already earned ×1, so this earns the extra ``factor − 1``."""

    kind = "multiplier"
    rule_kinds = frozenset({PURCHASE})
    help = ('{"kind": "multiplier", "factor": "2"}: the matching lines earn factor × the base rate '
            "(the rule adds the part above the base)")
    factor: Decimal = Decimal(1)

    @classmethod
    def read(cls, reader):
        factor = reader.decimal("factor", minimum=Decimal(1), maximum=Decimal(100), exclusive_minimum=True)
        reader.done()
        return cls(factor or Decimal(1))

    def points(self, context):
        return floor_points(context.amount * context.program.points_per_unit * context.tier_multiplier
                            * (self.factor - 1))


@dataclass(frozen=True)
class FixedBonusEffect(Effect):
    kind = "fixed_bonus"
    help = '{"kind": "fixed_bonus", "points": 50}: a fixed number of points'
    bonus: int = 0

    @classmethod
    def read(cls, reader):
        bonus = reader.integer("points", minimum=1, maximum=MAX_POINTS)
        reader.done()
        return cls(bonus or 0)

    def points(self, context):
        return self.bonus


@dataclass(frozen=True)
class PerUnitEffect(Effect):
    kind = "per_unit"
    rule_kinds = frozenset({PURCHASE, EVENT})
    help = ('{"kind": "per_unit", "points": 100}: points for each unit, i.e. the quantity of the matching '
            "lines, or the event's quantity (e.g. per night)")
    per_unit: int = 0

    @classmethod
    def read(cls, reader):
        per_unit = reader.integer("points", minimum=1, maximum=MAX_POINTS)
        reader.done()
        return cls(per_unit or 0)

    def points(self, context):
        return self.per_unit * context.quantity


EFFECTS: dict[str, type[Effect]] = {cls.kind: cls for cls in (MultiplierEffect, FixedBonusEffect, PerUnitEffect)}

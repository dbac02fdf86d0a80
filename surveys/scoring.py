"""Survey scores, as pure functions of answer counts (no database): NPS with its margin of error, CSAT, CES.

Figures are rounded to one decimal, halves away from zero (``ROUND_HALF_UP`` on the exact value), so the
staff pages, the export and a hand calculation agree. Every function answers ``None`` for no answers.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, localcontext
from fractions import Fraction

ONE_DECIMAL = Decimal("0.1")
Z_95 = Decimal("1.96")  # the two-sided 95 % normal quantile, as MeasuringU rounds it


def nps_category(score: int) -> str:
    """``promoter`` (9–10), ``passive`` (7–8) or ``detractor`` (0–6)."""
    if score >= 9:
        return "promoter"
    if score >= 7:
        return "passive"
    return "detractor"


def _rounded(value: Fraction) -> Decimal:
    """An exact fraction to one decimal, halves away from zero."""
    with localcontext() as context:
        context.prec = 50
        return (Decimal(value.numerator) / Decimal(value.denominator)).quantize(ONE_DECIMAL, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class NpsCounts:
    promoters: int = 0
    passives: int = 0
    detractors: int = 0

    @classmethod
    def of_scores(cls, scores: Iterable[int]) -> NpsCounts:
        counts = {"promoter": 0, "passive": 0, "detractor": 0}
        for score in scores:
            counts[nps_category(score)] += 1
        return cls(counts["promoter"], counts["passive"], counts["detractor"])

    @property
    def responses(self) -> int:
        return self.promoters + self.passives + self.detractors


def nps(counts: NpsCounts) -> Decimal | None:
    """Net Promoter Score: % promoters − % detractors, from −100 to 100, one decimal.

    ``NPS = 100 × (promoters − detractors) / n``."""
    n = counts.responses
    if n == 0:
        return None
    return _rounded(Fraction(100 * (counts.promoters - counts.detractors), n))


def _adjusted(counts: NpsCounts) -> tuple[Fraction, Fraction]:
    """The adjusted-Wald NPS (as a share, −1 to 1) and its variance."""
    adjusted_n = counts.responses + 3
    promoters = Fraction(4 * counts.promoters + 3, 4 * adjusted_n)
    detractors = Fraction(4 * counts.detractors + 3, 4 * adjusted_n)
    net = promoters - detractors
    return net, (promoters + detractors - net * net) / adjusted_n


def nps_margin_of_error(counts: NpsCounts) -> Decimal | None:
    """Half-width of the 95 % confidence interval of the NPS, in NPS points, one decimal: adjusted-Wald.

    The adjusted-Wald interval for the NPS (Sauro and Lewis, MeasuringU, "Confidence intervals for Net
    Promoter Scores") adds ¾ to the promoters and ¾ to the detractors, and 3 to n:

        n' = n + 3
        p' = (promoters + 0.75) / n'          (adjusted share of promoters)
        d' = (detractors + 0.75) / n'         (adjusted share of detractors)
        NPS' = p' − d'
        Var = (p' + d' − NPS'²) / n'
        margin of error = 100 × 1.96 × √Var

    The interval is ``100 × NPS' ± margin``; the margin is what we show beside the plain NPS. It never
    reaches 0, even for a handful of answers that all agree, which is the point of the adjustment.
    """
    if counts.responses == 0:
        return None
    variance = _adjusted(counts)[1]
    with localcontext() as context:
        context.prec = 50
        root = (Decimal(variance.numerator) / Decimal(variance.denominator)).sqrt()
        return (100 * Z_95 * root).quantize(ONE_DECIMAL, rounding=ROUND_HALF_UP)


def csat(scores_by_value: dict[int, int]) -> Decimal | None:
    """Customer satisfaction on a 1–5 scale: % of answers that are 4 or 5, one decimal."""
    n = sum(scores_by_value.values())
    if n == 0:
        return None
    satisfied = sum(count for score, count in scores_by_value.items() if score >= 4)
    return _rounded(Fraction(100 * satisfied, n))


def ces_mean(scores_by_value: dict[int, int]) -> Decimal | None:
    """Customer effort on a 1–7 scale (7 = easiest): the mean score, one decimal."""
    n = sum(scores_by_value.values())
    if n == 0:
        return None
    return _rounded(Fraction(sum(score * count for score, count in scores_by_value.items()), n))


def ces_easy_share(scores_by_value: dict[int, int]) -> Decimal | None:
    """Customer effort on a 1–7 scale: % of answers that are 5, 6 or 7 (found it easy), one decimal."""
    n = sum(scores_by_value.values())
    if n == 0:
        return None
    easy = sum(count for score, count in scores_by_value.items() if score >= 5)
    return _rounded(Fraction(100 * easy, n))


@dataclass(frozen=True)
class NpsChange:
    change: Decimal  # later − earlier, in NPS points, one decimal
    significant: bool  # at 95 %


def nps_change(earlier: NpsCounts, later: NpsCounts) -> NpsChange | None:
    """Whether the NPS moved between two independent samples (two periods), at 95 %.

    The difference of the two plain scores, and a z-test on the adjusted-Wald estimates (Sauro, MeasuringU,
    "comparing two Net Promoter Scores"): ``z = (NPS'₂ − NPS'₁) / √(Var₁ + Var₂)``, significant when
    ``|z| ≥ 1.96``. None when either period has no answers."""
    if earlier.responses == 0 or later.responses == 0:
        return None
    net_1, var_1 = _adjusted(earlier)
    net_2, var_2 = _adjusted(later)
    difference = net_2 - net_1
    # |z| ≥ 1.96  ⇔  difference² ≥ 1.96² (Var₁ + Var₂): exact, no square root
    significant = difference * difference >= Fraction(196, 100) ** 2 * (var_1 + var_2)
    return NpsChange(change=nps(later) - nps(earlier), significant=significant)

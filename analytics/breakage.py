"""Breakage: the part of the points the program issues that will never be redeemed, and the revenue they defer.

The ledger's lots carry each point's issue month (``PointsLot.earned_at``) to its end, redeemed, expired or
taken back by a return; ``breakage_rollup`` keeps how each issue month's points moved per local day
(``BreakageFlow``), replacing exactly the days it is given. Summed by the month they moved in, those flows are a
development triangle: issue month × months since issue.

The ultimate redemption rate of each issue month is projected from that triangle the way an actuary reserves
claims. The chain ladder's age-to-age factors of the older issue months' cumulative redemptions, with a tail
factor beyond the oldest age (the oldest months' open points end as their resolved ones did), say how far along
a month of each age is; Bornhuetter–Ferguson then adds to what a month has redeemed the part still to come at
its age of the rate the mature months show. (The chain ladder alone multiplies a young month's few redemptions
by large factors and reads breakage far too high.) With nothing redeemed anywhere yet, no breakage is assumed.
Breakage is what is left, ``1 − ultimate redemption rate`` of the points not taken back. The flows of a day never
change once the day is over, so the estimate as of any date can be recomputed; the rollup still records it for
the days it rolls up (``BreakageEstimate``), so the history of the estimate reads as it was shown.

Deferred revenue follows IFRS 15 / ASC 606: the consideration allocated to the points is their standalone
selling price, taken as the program's value per point; it is recognised as points are redeemed, in proportion to
the points expected to be redeemed, so that expected breakage is recognised with the redemption pattern; points
that expire beyond the estimate are recognised when they expire (nothing deferred ever exceeds what the open
points are worth).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from django.db.models import F, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone

from ledger.selectors import last_entry_at, lot_flows_daily, points_outstanding

from .models import BreakageEstimate, BreakageFlow
from .months import month_end, month_of, months_apart

BATCH = 5000
CENT = Decimal("0.01")
RATE = Decimal("0.000001")
FLOWS = ("issued", "redeemed", "expired", "reversed")


# --- the rollup ----------------------------------------------------------------------------------------


def breakage_rollup(*, program, first: date, last: date, zone) -> int:
    """Replace the program's breakage flows of the local days ``first`` to ``last``, and record the estimate as
    of each month end in the range and as of its last day (up to today). Returns the rows written."""
    start_at = datetime.combine(first, time.min, tzinfo=zone)
    end_at = datetime.combine(last + timedelta(days=1), time.min, tzinfo=zone)
    rows = [BreakageFlow(program=program, day=day, issue_month=issue_month, issued=issued, redeemed=redeemed,
                         expired=expired, reversed=reversed_)
            for day, issue_month, issued, redeemed, expired, reversed_ in
            lot_flows_daily(program_id=program.pk, start_at=start_at, end_at=end_at, zone=zone)]
    BreakageFlow.objects.filter(program=program, day__range=(first, last)).delete()
    BreakageFlow.objects.bulk_create(rows, batch_size=BATCH)
    through = min(last, timezone.now().astimezone(zone).date())
    days = [end for end in _month_ends(first, through) if end < through] + [through] if through >= first else []
    return len(rows) + estimates_record(program=program, days=days)


def _month_ends(first: date, last: date) -> list[date]:
    ends, end = [], month_end(first)
    while end <= last:
        ends.append(end)
        end = month_end(end + timedelta(days=1))
    return ends


def estimates_record(*, program, days: list[date]) -> int:
    """The estimate as of each of ``days`` (overall and per issue month), replacing what was recorded for them."""
    if not days:
        return 0
    cells = flow_cells(program=program, through=max(days))
    rows = []
    for day in days:
        book = Book.of(cells, through=day)
        for estimate in [*book.estimates, book.overall]:
            rows.append(BreakageEstimate(
                program=program, as_of=day, issue_month=estimate.month, issued=estimate.issued,
                reversed=estimate.reversed, redeemed=estimate.redeemed, expired=estimate.expired,
                ultimate_redeemed=estimate.ultimate_redeemed, ultimate_rate=estimate.rate))
    BreakageEstimate.objects.filter(program=program, as_of__in=days).delete()
    BreakageEstimate.objects.bulk_create(rows, batch_size=BATCH)
    return len(rows)


# --- the triangle --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Flow:
    issued: int = 0
    redeemed: int = 0
    expired: int = 0
    reversed: int = 0

    def __add__(self, other: Flow) -> Flow:
        return Flow(*(getattr(self, name) + getattr(other, name) for name in FLOWS))


Cells = dict[tuple[date, date], Flow]  # (issue month, month the points moved in) → what moved


def flow_cells(*, program, through: date) -> Cells:
    """The flows of every issue month by the month they moved in, up to the close of ``through``: one grouped
    read of the small flows table."""
    rows = (BreakageFlow.objects.filter(program=program, day__lte=through).annotate(moved=TruncMonth("day"))
            .order_by().values("issue_month", "moved")
            .annotate(**{name: Sum(name) for name in FLOWS})
            .values_list("issue_month", "moved", *FLOWS))
    return {(issue_month, moved): Flow(*figures) for issue_month, moved, *figures in rows}


@dataclass(frozen=True)
class IssueMonth:
    """One issue month's points as of a date: cumulative by months since issue (0: the issue month itself)."""

    month: date
    cumulative: tuple[Flow, ...]
    complete: int  # how many of those months are over (the month of the date is not, before its last day)

    @property
    def total(self) -> Flow:
        return self.cumulative[-1]

    @property
    def base(self) -> int:
        """The points issued that were not taken back: what can be redeemed or expire."""
        return self.total.issued - self.total.reversed

    @property
    def open(self) -> int:
        return self.base - self.total.redeemed - self.total.expired

    def shares(self, age: int) -> tuple[Fraction, Fraction, Fraction] | None:
        """Cumulative shares redeemed, expired and still open at ``age`` months, of the points not taken back."""
        if self.base <= 0:
            return None
        at = self.cumulative[age]
        still = at.issued - at.reversed - at.redeemed - at.expired
        return Fraction(at.redeemed, self.base), Fraction(at.expired, self.base), Fraction(still, self.base)


def triangle(cells: Cells, *, through: date) -> list[IssueMonth]:
    """The development of each issue month up to ``through``, oldest first (``cells`` up to that date)."""
    last_month = month_of(through)
    moved_by_month: dict[date, dict[int, Flow]] = {}
    for (issue_month, moved), flow in cells.items():
        if moved <= last_month:
            age = max(months_apart(issue_month, moved), 0)  # a lot dated after its booking counts from then
            ages = moved_by_month.setdefault(issue_month, {})
            ages[age] = ages.get(age, Flow()) + flow
    over = through == month_end(through)
    months = []
    for issue_month in sorted(moved_by_month):
        latest = max(months_apart(issue_month, last_month), 0)
        running, cumulative = Flow(), []
        for age in range(latest + 1):
            running = running + moved_by_month[issue_month].get(age, Flow())
            cumulative.append(running)
        months.append(IssueMonth(month=issue_month, cumulative=tuple(cumulative),
                                 complete=latest + 1 if over else latest))
    return months


def chain_ladder(cumulative: list[list[int]], complete: list[int]) -> tuple[list[Fraction], list[Fraction]]:
    """Age-to-age factors and each row's projected ultimate, by the volume-weighted chain ladder.

    ``cumulative[i][k]`` is row i's cumulative amount ``k`` periods after its start (its last figure may be of a
    period not over yet); ``complete[i]`` how many of its periods are over. The factor from age k to k + 1 is
    the sum over the rows with both ages over of their figure at k + 1, divided by the same rows' sum at k
    (1 where there is nothing to learn from); each row's latest figure is carried to the oldest age by the
    factors from its own age on, and a row whose latest period is not over is carried no lower than its last
    period that is (so that the estimate does not drop each time a month begins)."""
    longest = max((len(row) for row in cumulative), default=0)
    factors = []
    for age in range(longest - 1):
        rows = [row for row, done in zip(cumulative, complete, strict=True) if done >= age + 2]
        before = sum(row[age] for row in rows)
        factors.append(Fraction(sum(row[age + 1] for row in rows), before) if before > 0 else Fraction(1))
    def carried(row: list[int], age: int) -> Fraction:
        value = Fraction(row[age])
        for factor in factors[age:]:
            value *= factor
        return value

    ultimates = []
    for row, done in zip(cumulative, complete, strict=True):
        value = carried(row, len(row) - 1) if row else Fraction(0)
        if 0 < done < len(row):  # early in a period its figure says little: no less than from the last one over
            value = max(value, carried(row, done - 1))
        ultimates.append(value)
    return factors, ultimates


@dataclass(frozen=True)
class Estimate:
    """Where an issue month's points (or all of them: ``month`` None) stand, and where they will end."""

    month: date | None
    issued: int
    reversed: int
    redeemed: int
    expired: int
    ultimate_redeemed: int

    @property
    def base(self) -> int:
        return self.issued - self.reversed

    @property
    def open(self) -> int:
        return self.base - self.redeemed - self.expired

    @property
    def rate(self) -> Decimal | None:
        """The ultimate redemption rate, of the points not taken back (None: no such points)."""
        if self.base <= 0:
            return None
        return (Decimal(self.ultimate_redeemed) / Decimal(self.base)).quantize(RATE, rounding=ROUND_HALF_UP)

    @property
    def breakage_rate(self) -> Decimal | None:
        return None if self.rate is None else 1 - self.rate

    @property
    def breakage(self) -> int:
        """The points expected never to be redeemed, expired ones included."""
        return max(self.base - self.ultimate_redeemed, 0)

    @property
    def breakage_open(self) -> int:
        """Of the points still open, those expected never to be redeemed."""
        return max(self.open - max(self.ultimate_redeemed - self.redeemed, 0), 0)

    def recognised_share(self) -> Fraction:
        """The share of the consideration recognised so far: redeemed over expected to be redeemed, or, when
        more has expired than expected, redeemed and expired over all (at most 1)."""
        if self.base <= 0:
            return Fraction(1)
        by_redemption = Fraction(self.redeemed, self.ultimate_redeemed) if self.ultimate_redeemed else Fraction(1)
        return min(Fraction(1), max(by_redemption, Fraction(self.redeemed + self.expired, self.base)))

    def deferred_points(self) -> Fraction:
        return max(self.base, 0) * (1 - self.recognised_share())


def _rounded(value: Fraction) -> int:
    return int((value * 2 + 1) // 2)


def tail_factor(months: list[IssueMonth]) -> Fraction:
    """How much more the oldest issue months will still redeem: the chain ladder has no older months to carry
    them further, though points of theirs are still open. Their open points are taken to end as their resolved
    ones did, redeemed or expired in the same proportion, so the factor is ``base ÷ (redeemed + expired)`` over
    the months of the oldest age (1 once they have nothing open; no breakage at all until something resolved)."""
    if not months:
        return Fraction(1)
    oldest = max(len(month.cumulative) for month in months)
    rows = [month for month in months if len(month.cumulative) == oldest and month.base > 0]
    redeemed = sum(month.total.redeemed for month in rows)
    resolved = sum(month.total.redeemed + month.total.expired for month in rows)
    if redeemed <= 0 or resolved <= 0:
        return Fraction(1)
    return Fraction(sum(month.base for month in rows), resolved)


MATURE = Fraction(1, 2)  # an issue month this far developed teaches the expected rate to the younger ones


def developed_shares(months: list[IssueMonth], factors: list[Fraction], tail: Fraction) -> list[Fraction]:
    """The share of its ultimate redemptions an issue month has made by each age: 1 over the product of the
    age-to-age factors from that age on and the tail. Where the older months redeemed nothing up to an age and
    then did, no factor can say how far along they were: that age and the younger ones count as 0 % developed."""
    shares, to_ultimate = [], tail
    for age in range(len(factors), -1, -1):
        if age < len(factors):
            to_ultimate *= factors[age]
        shares.append(Fraction(1) / to_ultimate if to_ultimate > 0 else Fraction(0))
    shares.reverse()
    for age in range(len(factors)):
        rows = [month.cumulative for month in months if month.complete >= age + 2]
        if sum(row[age].redeemed for row in rows) == 0 and sum(row[age + 1].redeemed for row in rows) > 0:
            shares[:age + 1] = [Fraction(0)] * (age + 1)
    return shares


def project(months: list[IssueMonth]) -> tuple[list[Fraction], list[Estimate]]:
    """Each issue month's ultimate redemptions, by Bornhuetter–Ferguson: what it has redeemed, plus the share of
    its ultimate still to come at its age (``developed_shares``, from the chain ladder's factors and the tail)
    times the expected rate times its points not taken back. The expected rate is the chain ladder's ultimate
    rate of the months at least half developed (of all months that redeemed anything, while none is), so a young
    month with few redemptions so far is not taken to end with few; an old one ends close to its chain ladder.
    With nothing redeemed anywhere yet, no breakage is assumed. Each ultimate is kept within what is possible (no
    less than redeemed, no more than redeemed plus open); a month whose current month has only just begun is
    projected from its last complete month if that says more."""
    factors, ultimates = chain_ladder([[flow.redeemed for flow in month.cumulative] for month in months],
                                      [month.complete for month in months])
    tail = tail_factor(months)
    shares = developed_shares(months, factors, tail)

    def possible(month: IssueMonth, value: Fraction) -> int:
        total = month.total
        return min(max(_rounded(value), total.redeemed), max(month.base - total.expired, total.redeemed))

    chain = [(month, possible(month, ultimate * tail)) for ultimate, month in zip(ultimates, months, strict=True)
             if month.total.redeemed > 0 and month.base > 0]
    mature = [(u, month.base) for month, u in chain if shares[len(month.cumulative) - 1] >= MATURE]
    learned = mature or [(u, month.base) for month, u in chain]
    expected = Fraction(sum(u for u, _ in learned), sum(b for _, b in learned)) if learned else None
    def ferguson(month: IssueMonth, age: int) -> Fraction:
        """Redeemed by ``age``, plus the expected rate's share of the points that is still to come at that age."""
        return month.cumulative[age].redeemed + (1 - shares[age]) * expected * max(month.base, 0)

    estimates = []
    for month in months:
        total = month.total
        if expected is None:
            ultimate = possible(month, Fraction(max(month.base, 0)))
        else:
            value = ferguson(month, len(month.cumulative) - 1)
            if 0 < month.complete < len(month.cumulative):
                value = max(value, ferguson(month, month.complete - 1))
            ultimate = possible(month, value)
        estimates.append(Estimate(month=month.month, issued=total.issued, reversed=total.reversed,
                                  redeemed=total.redeemed, expired=total.expired, ultimate_redeemed=ultimate))
    return [*factors, tail], estimates


@dataclass(frozen=True)
class Book:
    """The breakage book as of the close of one local date: the triangle, the factors, the estimates."""

    through: date
    months: list[IssueMonth]
    factors: list[Fraction]
    estimates: list[Estimate]

    @classmethod
    def of(cls, cells: Cells, *, through: date) -> Book:
        months = triangle(cells, through=through)
        factors, estimates = project(months)
        return cls(through=through, months=months, factors=factors, estimates=estimates)

    @property
    def overall(self) -> Estimate:
        sums = [sum(getattr(e, name) for e in self.estimates)
                for name in ("issued", "reversed", "redeemed", "expired", "ultimate_redeemed")]
        return Estimate(None, *sums)

    def deferred_points(self) -> Fraction:
        return sum((estimate.deferred_points() for estimate in self.estimates), Fraction(0))

    def flow_since(self, earlier: Book | None) -> Flow:
        """What moved after ``earlier``'s date up to this one's."""
        now = Flow(*(getattr(self.overall, name) for name in FLOWS))
        if earlier is None:
            return now
        then = earlier.overall
        return Flow(*(getattr(now, name) - getattr(then, name) for name in FLOWS))


def breakage_book(*, program, through: date) -> Book:
    return Book.of(flow_cells(program=program, through=through), through=through)


def estimate_history(*, program, every_month: bool = False) -> list[BreakageEstimate]:
    """The recorded estimates, oldest first: the overall ones, or (``every_month``) each day's overall estimate
    followed by its issue months'."""
    rows = BreakageEstimate.objects.filter(program=program)
    if not every_month:
        return list(rows.filter(issue_month=None).order_by("as_of"))
    return list(rows.order_by("as_of", F("issue_month").asc(nulls_first=True)))


# --- deferred revenue ----------------------------------------------------------------------------------


def money(points, value_per_point: Decimal) -> Decimal:
    """Points (whole or a fraction) at the value per point, to the cent."""
    if isinstance(points, Fraction):
        value = Decimal(points.numerator) * value_per_point / Decimal(points.denominator)
    else:
        value = Decimal(points) * value_per_point
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class DeferredSpan:
    """Deferred revenue over one span of local dates, in the program's currency."""

    first: date
    last: date
    opening: Decimal
    deferred: Decimal  # on issue
    reversed: Decimal  # the consideration of points taken back with their sale
    on_redemption: Decimal
    breakage: Decimal
    closing: Decimal

    @property
    def recognised(self) -> Decimal:
        return self.on_redemption + self.breakage


def _span(first: date, last: date, opening: Book | None, closing: Book, value: Decimal) -> DeferredSpan:
    moved = closing.flow_since(opening)
    before = money(opening.deferred_points(), value) if opening else Decimal("0.00")
    after = money(closing.deferred_points(), value)
    deferred, reversed_, on_redemption = (money(moved.issued, value), money(moved.reversed, value),
                                          money(moved.redeemed, value))
    # What the proportional pattern recognises beyond the redeemed points' own value: the expected breakage that
    # goes with them, expiries beyond the estimate, and the catch-up when the estimate changes.
    breakage = before + deferred - reversed_ - on_redemption - after
    return DeferredSpan(first=first, last=last, opening=before, deferred=deferred, reversed=reversed_,
                        on_redemption=on_redemption, breakage=breakage, closing=after)


def deferred_revenue(*, program, first: date, last: date) -> tuple[DeferredSpan, list[DeferredSpan]]:
    """Deferred revenue over the range, and month by month within it (the first and last months cut to the
    range). Two grouped reads of the flows table."""
    value = program.value_per_point
    cells = flow_cells(program=program, through=last)
    opening_day = first - timedelta(days=1)
    opening_cells = cells if opening_day == month_end(opening_day) else flow_cells(program=program,
                                                                                    through=opening_day)
    opening = Book.of(opening_cells, through=opening_day) if opening_cells else None
    spans, before, start = [], opening, first
    while start <= last:
        end = min(month_end(start), last)
        book = Book.of(cells, through=end)
        spans.append(_span(start, end, before, book, value))
        before, start = book, end + timedelta(days=1)
    return _span(first, last, opening, before, value), spans


# --- the check against the ledger ----------------------------------------------------------------------


@dataclass(frozen=True)
class LedgerCheck:
    """Today's closing from the rollups beside what the members' accounts hold now, and the ledger's latest
    booking beside the latest rollup."""

    rolled_up: int
    held: int
    last_booked: datetime | None
    rolled_up_at: datetime | None

    @property
    def agrees(self) -> bool:
        return self.rolled_up == self.held

    @property
    def behind(self) -> bool:
        """The ledger has moved since the latest rollup."""
        return self.last_booked is not None and (self.rolled_up_at is None or self.last_booked > self.rolled_up_at)


def ledger_check(*, program, rolled_up: int, rolled_up_at: datetime | None) -> LedgerCheck:
    """Two small reads of the ledger app: the sum of the program's account balances (available, negative while
    a return's debt is open, plus pending) and its latest entry's booking time."""
    return LedgerCheck(rolled_up=rolled_up, held=points_outstanding(program=program),
                       last_booked=last_entry_at(program_id=program.pk), rolled_up_at=rolled_up_at)

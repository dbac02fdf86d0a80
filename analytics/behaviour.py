"""Behaviour: whom the program keeps, how often they come back and what they spend, rolled up and read back.

``rollup_behaviour`` runs after the daily facts (``analytics.services.FURTHER_ROLLUPS``) and replaces, for the
days it is given: the purchase mix by tier and gap and the redemptions of those days; each purchasing member's
months around the days; and the monthly figures counted from those (active members, repeat buyers, cohorts,
tier movements). Everything a page reads is a few rows per day or month; ``behaviour_report`` reads them.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from django.db import connection
from django.db.models import Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone

from earning.selectors import member_months, purchase_mix_daily
from programs.selectors import store_names
from rewards.selectors import redemptions_daily, reward_names
from tiers.selectors import tier_base_id, tier_flows_monthly, tier_list

from .models import (
    BehaviourCohort,
    BehaviourDailyMix,
    BehaviourDailyReward,
    BehaviourMonth,
    BehaviourTierMonth,
    DailyTrade,
)
from .months import month_add, month_end, month_of, months_between

BATCH = 5000
# The gap since a member's previous purchase, in local days: bucket 0 is a first purchase; a gap below the
# first edge falls in bucket 1, and so on (``width_bucket``).
GAP_EDGES = (8, 15, 31, 61, 91, 181, 366)
GAPS = {0: "First purchase", 1: "Up to 7 days", 2: "8–14 days", 3: "15–30 days", 4: "31–60 days",
        5: "61–90 days", 6: "91–180 days", 7: "181–365 days", 8: "Over a year"}
# Figures of the lifetime projection: a member active at the end of a month either buys within the next 90
# days or has lapsed; below this churn the projection would run for decades, so the lifetime stops there.
LONGEST_LIFETIME_MONTHS = 120
CENT = Decimal("0.01")


# --- months ---------------------------------------------------------------------------------------------------

def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, datetime.min.time(), tzinfo=zone)


# --- the rollup -----------------------------------------------------------------------------------------------

def rollup_behaviour(*, program, first: date, last: date, zone: ZoneInfo) -> int:
    """Replace the behaviour rows of the program's local days ``first`` to ``last`` and of the months they touch
    (the active-member counts of the 90 days after them too); the rows written."""
    start_at, end_at = _midnight(first, zone), _midnight(last + timedelta(days=1), zone)
    first_month, last_month = month_of(first), month_of(last)
    today = timezone.now().astimezone(zone).date()
    rows = _rollup_days(program=program, first=first, last=last, start_at=start_at, end_at=end_at, zone=zone)
    rows += _rollup_member_months(program=program, first=first, last=last, zone=zone)
    # A purchase keeps its member active at every month end for 90 days after it.
    rows += _rollup_months(program=program, months=months_between(
        first_month, max(last_month, min(month_of(last + timedelta(days=90)), month_of(today)))), today=today)
    rows += _rollup_cohorts(program=program, first_month=first_month, last_month=last_month)
    rows += _rollup_tiers(program=program, first_month=first_month, last_month=last_month, zone=zone)
    return rows


def _rollup_days(*, program, first, last, start_at, end_at, zone) -> int:
    mix = [BehaviourDailyMix(program=program, day=day, tier_id=tier_id, gap=gap, purchases=purchases, sales=sales)
           for day, tier_id, gap, purchases, sales in purchase_mix_daily(
               program_id=program.pk, start_at=start_at, end_at=end_at, zone=zone,
               base_tier_id=tier_base_id(program_id=program.pk), gap_edges=GAP_EDGES)]
    rewards = [BehaviourDailyReward(program=program, day=day, reward_id=reward_id, redemptions=redemptions,
                                    cancelled=cancelled, points=points)
               for day, reward_id, redemptions, cancelled, points in redemptions_daily(
                   program_id=program.pk, start_at=start_at, end_at=end_at, zone=zone)]
    BehaviourDailyMix.objects.filter(program=program, day__range=(first, last)).delete()
    BehaviourDailyReward.objects.filter(program=program, day__range=(first, last)).delete()
    BehaviourDailyMix.objects.bulk_create(mix, batch_size=BATCH)
    BehaviourDailyReward.objects.bulk_create(rewards, batch_size=BATCH)
    return len(mix) + len(rewards)


def _rollup_member_months(*, program, first, last, zone) -> int:
    """Each member who purchased in the days, their whole month, written over what was there, a month at a time
    (a rebuild holds one month of members in memory, not years). A member who did not purchase in a month's days
    keeps the row they had: purchases are never taken back, so it has not changed."""
    rows = 0
    for month in months_between(first, last):
        found = member_months(
            program_id=program.pk, start_at=_midnight(max(first, month), zone),
            end_at=_midnight(min(last, month_end(month)) + timedelta(days=1), zone),
            months_start_at=_midnight(month, zone), months_end_at=_midnight(month_add(month, 1), zone), zone=zone)
        if found:
            # One statement a month from arrays, not model instances: a rebuild writes millions of these rows.
            columns = [list(column) for column in zip(*found, strict=True)]
            with connection.cursor() as cursor:
                cursor.execute("""
                    INSERT INTO analytics_behaviourmembermonth
                        (program_id, member_id, month, cohort, purchases, sales, last_day)
                    SELECT %s, * FROM unnest(%s::uuid[], %s::date[], %s::date[], %s::int[], %s::numeric[],
                                             %s::date[])
                    ON CONFLICT (program_id, member_id, month) DO UPDATE
                       SET cohort = excluded.cohort, purchases = excluded.purchases, sales = excluded.sales,
                           last_day = excluded.last_day""",
                               [program.pk, *columns])
        rows += len(found)
    return rows


_MONTH_SQL = """
    INSERT INTO analytics_behaviourmonth
        (program_id, month, as_of, active_30, active_90, active_90_before, retained_90, purchasers,
         repeat_purchasers, purchases, sales)
    SELECT %(program)s, %(month)s, %(as_of)s,
           count(*) FILTER (WHERE active_30), count(*) FILTER (WHERE active_90),
           count(*) FILTER (WHERE active_before), count(*) FILTER (WHERE active_90 AND active_before),
           count(*) FILTER (WHERE bought > 0), count(*) FILTER (WHERE again),
           coalesce(sum(bought), 0), coalesce(sum(spent), 0)
      FROM (
        SELECT m.member_id,
               -- a month's last purchase day stands for the month: every day of a month before as_of's is earlier
               bool_or(m.last_day BETWEEN %(as_of)s - 29 AND %(as_of)s) AS active_30,
               bool_or(m.last_day BETWEEN %(as_of)s - 89 AND %(as_of)s) AS active_90,
               bool_or(m.last_day BETWEEN %(before)s - 89 AND %(before)s) AS active_before,
               sum(m.purchases) FILTER (WHERE m.month = %(month)s) AS bought,
               sum(m.sales) FILTER (WHERE m.month = %(month)s) AS spent,
               bool_or(m.month = %(month)s AND (m.purchases > 1 OR EXISTS (
                   SELECT 1 FROM analytics_behaviourmembermonth e
                    WHERE e.program_id = m.program_id AND e.member_id = m.member_id AND e.month < m.month))) AS again
          FROM analytics_behaviourmembermonth m
         WHERE m.program_id = %(program)s AND m.month BETWEEN %(since)s AND %(month)s
         GROUP BY m.member_id
      ) members"""


def _rollup_months(*, program, months: list[date], today: date) -> int:
    BehaviourMonth.objects.filter(program=program, month__in=months).delete()
    with connection.cursor() as cursor:
        for month in months:
            as_of, before = min(month_end(month), today), month - timedelta(days=1)
            cursor.execute(_MONTH_SQL, {"program": program.pk, "month": month, "as_of": as_of, "before": before,
                                        "since": month_of(before - timedelta(days=89))})
    return len(months)


def _rollup_cohorts(*, program, first_month, last_month) -> int:
    BehaviourCohort.objects.filter(program=program, month__range=(first_month, last_month)).delete()
    with connection.cursor() as cursor:
        cursor.execute("""
            INSERT INTO analytics_behaviourcohort (program_id, cohort, month, purchasers, purchases, sales)
            SELECT program_id, cohort, month, count(*), sum(purchases), sum(sales)
              FROM analytics_behaviourmembermonth
             WHERE program_id = %s AND month BETWEEN %s AND %s
             GROUP BY program_id, cohort, month""", [program.pk, first_month, last_month])
        return cursor.rowcount


def _rollup_tiers(*, program, first_month, last_month, zone) -> int:
    flows = [BehaviourTierMonth(program=program, month=month, tier_id=tier_id, entered=entered, left=left,
                                upgrades=upgrades, downgrades=downgrades)
             for month, tier_id, entered, left, upgrades, downgrades in tier_flows_monthly(
                 program_id=program.pk, start_at=_midnight(first_month, zone),
                 end_at=_midnight(month_add(last_month, 1), zone), zone=zone)]
    BehaviourTierMonth.objects.filter(program=program, month__range=(first_month, last_month)).delete()
    BehaviourTierMonth.objects.bulk_create(flows, batch_size=BATCH)
    return len(flows)


# --- reads ----------------------------------------------------------------------------------------------------

def _share(part, whole) -> Decimal | None:
    """``part`` of ``whole`` in per cent, one decimal; None when there is no whole."""
    if not whole:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def _ratio(part, whole, places: str = "0.01") -> Decimal | None:
    if not whole:
        return None
    return (Decimal(part) / Decimal(whole)).quantize(Decimal(places), rounding=ROUND_HALF_UP)


@dataclass
class MonthFigures:
    month: date
    as_of: date | None = None
    active_30: int = 0
    active_90: int = 0
    active_90_before: int = 0
    retained_90: int = 0
    enrolments: int = 0
    purchasers: int = 0
    repeat_purchasers: int = 0
    member_purchases: int = 0
    member_sales: Decimal = Decimal(0)
    purchases: int = 0
    sales: Decimal = Decimal(0)

    @property
    def repeat_rate(self) -> Decimal | None:
        return _share(self.repeat_purchasers, self.purchasers)

    @property
    def frequency(self) -> Decimal | None:
        """Purchases per member who purchased in the month."""
        return _ratio(self.member_purchases, self.purchasers)

    @property
    def churn(self) -> Decimal | None:
        """Of the members active (90 days) at the end of the month before, the share no longer active."""
        return _share(self.active_90_before - self.retained_90, self.active_90_before)

    @property
    def guest_purchases(self) -> int:
        return self.purchases - self.member_purchases

    @property
    def guest_sales(self) -> Decimal:
        return self.sales - self.member_sales

    @property
    def member_order_value(self) -> Decimal | None:
        return _ratio(self.member_sales, self.member_purchases)

    @property
    def guest_order_value(self) -> Decimal | None:
        return _ratio(self.guest_sales, self.guest_purchases)

    @property
    def member_share(self) -> Decimal | None:
        """Members' share of the month's purchases."""
        return _share(self.member_purchases, self.purchases)


@dataclass
class Row:
    """One line of a breakdown (a tier, a gap, a reward, a store)."""

    label: str
    purchases: int = 0
    sales: Decimal = Decimal(0)
    member_purchases: int = 0
    member_sales: Decimal = Decimal(0)
    enrolments: int = 0
    share: Decimal | None = None
    redemptions: int = 0
    cancelled: int = 0
    points: int = 0

    @property
    def order_value(self) -> Decimal | None:
        return _ratio(self.sales, self.purchases)

    @property
    def member_share(self) -> Decimal | None:
        return _share(self.member_purchases, self.purchases)


@dataclass
class Cohort:
    month: date
    members: int
    cells: list[Decimal | None]
    purchasers: list[int]
    sales: Decimal
    purchasers_ever: int = 0

    @property
    def value_per_member(self) -> Decimal | None:
        return _ratio(self.sales, self.members)

    @property
    def shaded(self) -> list[tuple[Decimal | None, int | None]]:
        """Each cell with its shade, 0 (nobody) to 10 (everyone) in steps of a tenth; None for the future."""
        return [(cell, None if cell is None else math.ceil(cell / 10)) for cell in self.cells]


@dataclass
class TierMonth:
    month: date
    members: list[int]
    upgrades: int
    downgrades: int


@dataclass
class Projection:
    """The simple lifetime value: a month's sales per active member × the months a member stays on average."""

    monthly_value: Decimal | None
    churn: Decimal | None
    lifetime_months: Decimal | None
    value: Decimal | None
    capped: bool = False


@dataclass
class BehaviourReport:
    first: date
    last: date
    months: list[MonthFigures]
    latest: MonthFigures | None
    order_value: list[Row]
    gaps: list[Row]
    first_purchases: int
    cohorts: list[Cohort]
    cohort_columns: list[int]
    tier_names: list[str]
    tier_months: list[TierMonth]
    rewards: list[Row]
    stores: list[Row]
    projection: Projection
    currency: str = ""
    totals: MonthFigures = field(default_factory=lambda: MonthFigures(month=date.min))

    @property
    def has_purchases(self) -> bool:
        return self.totals.purchases > 0


def behaviour_report(*, program, first: date, last: date) -> BehaviourReport:
    """The behaviour figures of the local months ``first`` to ``last`` (first days of months, both included)."""
    months = months_between(first, last)
    end = month_end(last)
    by_month = {m: MonthFigures(month=m) for m in months}
    for row in BehaviourMonth.objects.filter(program=program, month__range=(first, last)):
        figures = by_month[row.month]
        for name in ("as_of", "active_30", "active_90", "active_90_before", "retained_90", "purchasers",
                     "repeat_purchasers"):
            setattr(figures, name, getattr(row, name))
        figures.member_purchases, figures.member_sales = row.purchases, row.sales

    trade = (DailyTrade.objects.filter(program=program, day__range=(first, end)).annotate(month=TruncMonth("day"))
             .order_by().values("month", "store_id")
             .annotate(p=Sum("purchases"), mp=Sum("member_purchases"), s=Sum("sales"), ms=Sum("member_sales"),
                       e=Sum("enrolments")))
    by_store: dict = defaultdict(lambda: Row(label=""))
    for month, store_id, purchases, member_purchases, sales, member_sales, enrolments in trade.values_list(
            "month", "store_id", "p", "mp", "s", "ms", "e"):
        figures = by_month[month]
        figures.purchases += purchases
        figures.sales += sales
        figures.enrolments += enrolments
        store = by_store[store_id]
        store.purchases += purchases
        store.member_purchases += member_purchases
        store.sales += sales
        store.member_sales += member_sales
        store.enrolments += enrolments
    names = store_names(program_id=program.pk, store_ids=[s for s in by_store if s is not None])
    stores = sorted(by_store.items(), key=lambda item: (-item[1].sales, names.get(item[0], "")))
    for store_id, row in stores:
        row.label = names.get(store_id, "Unknown store") if store_id is not None else "Portal and imports"
    total_sales = sum((row.sales for _, row in stores), Decimal(0))
    for _, row in stores:
        row.share = _share(row.sales, total_sales)

    totals = MonthFigures(month=first)
    for figures in by_month.values():
        for name in ("enrolments", "purchasers", "repeat_purchasers", "member_purchases", "purchases"):
            setattr(totals, name, getattr(totals, name) + getattr(figures, name))
        totals.member_sales += figures.member_sales
        totals.sales += figures.sales

    report = BehaviourReport(
        first=first, last=last, months=list(by_month.values()),
        latest=_latest(program=program), order_value=[], gaps=[], first_purchases=0, cohorts=[],
        cohort_columns=[], tier_names=[], tier_months=[], rewards=[], stores=[row for _, row in stores],
        projection=_projection(list(by_month.values())), currency=program.currency, totals=totals)
    _fill_mix(report, program=program, end=end)
    _fill_cohorts(report, program=program)
    _fill_tiers(report, program=program)
    _fill_rewards(report, program=program, end=end)
    return report


def _latest(*, program) -> MonthFigures | None:
    row = BehaviourMonth.objects.filter(program=program).order_by("-month").first()
    if row is None:
        return None
    return MonthFigures(month=row.month, as_of=row.as_of, active_30=row.active_30, active_90=row.active_90)


def _projection(months: list[MonthFigures]) -> Projection:
    """Sales per active member per month and the monthly churn, each over the months that have them."""
    counted = [m for m in months if m.active_90]
    value = _ratio(sum((m.member_sales for m in counted), Decimal(0)), sum(m.active_90 for m in counted))
    based = [m for m in months if m.active_90_before]
    churn = _share(sum(m.active_90_before - m.retained_90 for m in based), sum(m.active_90_before for m in based))
    if value is None or churn is None:
        return Projection(monthly_value=value, churn=churn, lifetime_months=None, value=None)
    lifetime = Decimal(LONGEST_LIFETIME_MONTHS) if not churn else min(
        Decimal(100) / churn, Decimal(LONGEST_LIFETIME_MONTHS))
    lifetime = lifetime.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return Projection(monthly_value=value, churn=churn, lifetime_months=lifetime,
                      value=(value * lifetime).quantize(CENT, rounding=ROUND_HALF_UP),
                      capped=lifetime >= LONGEST_LIFETIME_MONTHS)


def _fill_mix(report: BehaviourReport, *, program, end: date) -> None:
    tiers = list(tier_list(program=program).order_by("rank"))
    names = {tier.pk: tier.name for tier in tiers}
    by_tier: dict = {}
    by_gap = {gap: Row(label=label) for gap, label in GAPS.items() if gap}
    for tier_id, gap, purchases, sales in (
            BehaviourDailyMix.objects.filter(program=program, day__range=(report.first, end)).order_by()
            .values("tier_id", "gap").annotate(p=Sum("purchases"), s=Sum("sales")).values_list(
                "tier_id", "gap", "p", "s")):
        row = by_tier.setdefault(tier_id, Row(label=names.get(tier_id, "No tier")))
        row.purchases += purchases
        row.sales += sales
        if gap:
            by_gap[gap].purchases += purchases
        else:
            report.first_purchases += purchases
    order = {tier.pk: index for index, tier in enumerate(tiers)}
    report.order_value = [by_tier[key] for key in sorted(by_tier, key=lambda k: order.get(k, -1))]
    again = sum(row.purchases for row in by_gap.values())
    for row in by_gap.values():
        row.share = _share(row.purchases, again)
    report.gaps = list(by_gap.values())


def _fill_cohorts(report: BehaviourReport, *, program) -> None:
    """Cohorts enrolled in the range, followed to today: share of each who purchased in each month since."""
    sizes = {figures.month: figures.enrolments for figures in report.months}
    activity: dict = defaultdict(dict)
    sales: dict = defaultdict(Decimal)
    for cohort, month, purchasers, cohort_sales in BehaviourCohort.objects.filter(
            program=program, cohort__range=(report.first, report.last)).values_list(
            "cohort", "month", "purchasers", "sales"):
        since = (month.year - cohort.year) * 12 + month.month - cohort.month
        if since >= 0:
            activity[cohort][since] = purchasers
        sales[cohort] += cohort_sales
    latest = report.latest.month if report.latest else report.last
    width = max(0, (latest.year - report.first.year) * 12 + latest.month - report.first.month) + 1
    report.cohort_columns = list(range(min(width, 13)))
    for month in months_between(report.first, report.last):
        size = sizes.get(month, 0)
        if not size and month not in activity:
            continue
        reached = (latest.year - month.year) * 12 + latest.month - month.month
        purchasers = [activity[month].get(k, 0) for k in report.cohort_columns]
        cells = [_share(p, size) if k <= reached else None
                 for k, p in zip(report.cohort_columns, purchasers, strict=True)]
        report.cohorts.append(Cohort(month=month, members=size, cells=cells, purchasers=purchasers,
                                     sales=sales.get(month, Decimal(0))))


def _fill_tiers(report: BehaviourReport, *, program) -> None:
    """Members per tier at each month end: the flows of every month so far added up; the tier members start in
    (the base tier, or none) holds the enrolled members not counted elsewhere."""
    tiers = list(tier_list(program=program).order_by("rank"))
    base = tier_base_id(program_id=program.pk)
    if not tiers:
        return
    keys = [None] + [tier.pk for tier in tiers]
    report.tier_names = ["No tier" if key is None else next(t.name for t in tiers if t.pk == key) for key in keys]
    flows: dict = defaultdict(lambda: defaultdict(int))
    moves: dict = defaultdict(lambda: [0, 0])
    for month, tier_id, entered, left, upgrades, downgrades in BehaviourTierMonth.objects.filter(
            program=program, month__lte=report.last).values_list(
            "month", "tier_id", "entered", "left", "upgrades", "downgrades"):
        flows[month][tier_id] += entered - left
        moves[month][0] += upgrades
        moves[month][1] += downgrades
    enrolled_before = DailyTrade.objects.filter(program=program, day__lt=report.first).aggregate(
        n=Sum("enrolments"))["n"] or 0
    enrolled_by_month = {figures.month: figures.enrolments for figures in report.months}
    held: dict = defaultdict(int)
    for month in sorted(m for m in flows if m < report.first):
        for tier_id, net in flows[month].items():
            held[tier_id] += net
    enrolled = enrolled_before
    for month in months_between(report.first, report.last):
        for tier_id, net in flows.get(month, {}).items():
            held[tier_id] += net
        enrolled += enrolled_by_month.get(month, 0)
        counts = {key: held.get(key, 0) for key in keys if key != base}
        counts[base] = enrolled - sum(counts.values())
        report.tier_months.append(TierMonth(month=month, members=[counts[key] for key in keys],
                                            upgrades=moves[month][0], downgrades=moves[month][1]))
    # "No tier" is shown only when someone is there.
    if base is not None and not any(tm.members[0] for tm in report.tier_months):
        report.tier_names = report.tier_names[1:]
        for tm in report.tier_months:
            tm.members = tm.members[1:]


def _fill_rewards(report: BehaviourReport, *, program, end: date) -> None:
    rows = list(BehaviourDailyReward.objects.filter(program=program, day__range=(report.first, end)).order_by()
                .values("reward_id").annotate(r=Sum("redemptions"), c=Sum("cancelled"), p=Sum("points"))
                .values_list("reward_id", "r", "c", "p"))
    names = reward_names(program_id=program.pk, reward_ids=[row[0] for row in rows])
    total = sum(row[1] - row[2] for row in rows)
    report.rewards = sorted(
        (Row(label=names.get(reward_id, "Unknown reward"), redemptions=r, cancelled=c, points=p,
             share=_share(r - c, total)) for reward_id, r, c, p in rows),
        key=lambda row: (-(row.redemptions - row.cancelled), row.label))

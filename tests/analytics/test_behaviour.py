"""Behaviour rollups: on a small program whose every figure is worked out by hand below, the monthly activity,
repeat buyers, gaps, order value by tier, cohorts, tiers, rewards and stores come out as computed; rolling up
again, or day by day, writes the same rows.

The story, in Berlin (every moment is 11:00 local time, so the local day is the UTC day):
- Dan enrols 2 Jan at Kreuzberg and buys once, 3 Jan, for 40 € (Kreuzberg); then never again.
- Anna enrols 5 Jan at Mitte; buys 10 Jan (100 €), 20 Jan (50 €) at Mitte and 2 Mar (200 €) at Kreuzberg;
  redeems a coffee (100 points) 3 Mar and a mug (200 points) 4 Mar.
- Ben enrols 15 Jan at Mitte; buys 10 Feb for 600 € (600 points: up from Bronze to Silver); redeems a coffee
  12 Feb and cancels it.
- Cara enrols 3 Feb at Kreuzberg and never buys.
- Guests buy 10 Jan at Mitte (30 €) and 5 Mar at Kreuzberg (20 €).
The figures are read on 15 April.
"""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine

from analytics.behaviour import behaviour_report, rollup_behaviour
from analytics.models import (
    BehaviourCohort,
    BehaviourDailyMix,
    BehaviourDailyReward,
    BehaviourMemberMonth,
    BehaviourMonth,
    BehaviourTierMonth,
)
from analytics.services import program_zone, rollup_days
from earning.services import purchase_record
from rewards.services import redemption_cancel, reward_create, reward_redeem
from tests.factories import MemberFactory, ProgramFactory, StoreFactory
from tests.tiers.conftest import ladder_define

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 4, 15, 10, 0, tzinfo=UTC)
JAN, FEB, MAR, APR = date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 1), date(2026, 4, 1)
TABLES = (BehaviourMemberMonth, BehaviourMonth, BehaviourCohort, BehaviourDailyMix, BehaviourTierMonth,
          BehaviourDailyReward)


def at(day: str) -> datetime:
    return datetime.fromisoformat(f"{day}T10:00:00+00:00")


def buy(store, external_id, total, day, member=None):
    with time_machine.travel(at(day), tick=False):
        return purchase_record(store=store, actor="test", external_id=external_id, currency="EUR",
                               total=Decimal(total), lines=[],
                               member_reference={"id": str(member.pk)} if member else None)


def enrol(program, store, name, day):
    with time_machine.travel(at(day), tick=False):
        return MemberFactory(program=program, store=store, first_name=name)


def redeem(member, reward, day):
    with time_machine.travel(at(day), tick=False):
        return reward_redeem(member=member, reward=reward, actor="test")


def tell(program) -> dict:
    """The story above, in ``program`` (in Berlin's time zone)."""
    mitte = StoreFactory(program=program, code="MITTE", name="Mitte")
    kreuzberg = StoreFactory(program=program, code="KREUZBERG", name="Kreuzberg")
    tiers = ladder_define(program)
    coffee = reward_create(program=program, code="coffee", name="Coffee", points_cost=100)
    mug = reward_create(program=program, code="mug", name="Mug", points_cost=200)
    dan = enrol(program, kreuzberg, "Dan", "2026-01-02")
    buy(kreuzberg, "K-1", "40.00", "2026-01-03", dan)
    anna = enrol(program, mitte, "Anna", "2026-01-05")
    buy(mitte, "M-1", "100.00", "2026-01-10", anna)
    buy(mitte, "M-2", "30.00", "2026-01-10")
    ben = enrol(program, mitte, "Ben", "2026-01-15")
    buy(mitte, "M-3", "50.00", "2026-01-20", anna)
    enrol(program, kreuzberg, "Cara", "2026-02-03")
    buy(mitte, "M-4", "600.00", "2026-02-10", ben)
    cancelled = redeem(ben, coffee, "2026-02-12")
    with time_machine.travel(at("2026-02-12"), tick=False):
        redemption_cancel(redemption=cancelled, actor="test")
    buy(kreuzberg, "K-2", "200.00", "2026-03-02", anna)
    redeem(anna, coffee, "2026-03-03")
    redeem(anna, mug, "2026-03-04")
    buy(kreuzberg, "K-3", "20.00", "2026-03-05")
    return {"program": program, "tiers": tiers, "members": (anna, ben, dan)}


@pytest.fixture
def story(db):
    return tell(ProgramFactory(slug="berlin", name="Berlin", time_zone="Europe/Berlin", expiry_days=None))


def rebuild(program):
    with time_machine.travel(NOW, tick=False):
        return rollup_days(program=program, first=date(2026, 1, 1), last=date(2026, 4, 15), trigger="rebuild")


def snapshot(program) -> dict:
    return {model.__name__: sorted(tuple(str(v) for k, v in sorted(row.items()) if k != "id")
                                   for row in model.objects.filter(program=program).values())
            for model in TABLES}


def test_each_month_counts_active_members_buyers_and_repeat_buyers_as_worked_out(story):
    rebuild(story["program"])
    rows = {row.month: (row.as_of, row.active_30, row.active_90, row.active_90_before, row.retained_90,
                        row.purchasers, row.repeat_purchasers, row.purchases, row.sales)
            for row in BehaviourMonth.objects.filter(program=story["program"])}
    assert rows == {
        # Anna and Dan bought; Anna twice, so she is a repeat buyer.
        JAN: (date(2026, 1, 31), 2, 2, 0, 0, 2, 1, 3, Decimal("190.00")),
        # Only Ben bought (his first); all three buyers so far are within 90 days; Anna and Dan were, and still are.
        FEB: (date(2026, 2, 28), 1, 3, 2, 2, 1, 0, 1, Decimal("600.00")),
        # Anna again (she had bought before): a repeat buyer.
        MAR: (date(2026, 3, 31), 1, 3, 3, 3, 1, 1, 1, Decimal("200.00")),
        # Today: nobody within 30 days; Dan's last purchase (3 Jan) is more than 90 days ago: he has lapsed.
        APR: (date(2026, 4, 15), 0, 2, 3, 2, 0, 0, 0, Decimal("0.00")),
    }


def test_the_report_gives_the_hand_computed_figures(story):
    rebuild(story["program"])
    with time_machine.travel(NOW, tick=False):
        report = behaviour_report(program=story["program"], first=JAN, last=APR)
    months = {m.month: m for m in report.months}
    assert [months[m].enrolments for m in (JAN, FEB, MAR, APR)] == [3, 1, 0, 0]
    assert [months[m].repeat_rate for m in (JAN, FEB, MAR)] == [Decimal("50.0"), Decimal("0.0"), Decimal("100.0")]
    assert months[APR].repeat_rate is None
    assert [months[m].frequency for m in (JAN, FEB, MAR)] == [Decimal("1.50"), Decimal("1.00"), Decimal("1.00")]
    assert (report.latest.active_30, report.latest.active_90, report.latest.as_of) == (0, 2, date(2026, 4, 15))

    # Members against guests: January had 4 purchases for 220 €, 3 by members for 190 €.
    assert (months[JAN].purchases, months[JAN].member_purchases, months[JAN].sales, months[JAN].member_sales) == \
        (4, 3, Decimal("220.00"), Decimal("190.00"))
    assert (months[JAN].member_order_value, months[JAN].guest_order_value, months[JAN].member_share) == \
        (Decimal("63.33"), Decimal("30.00"), Decimal("75.0"))

    # Order value by the tier held when rolled up: Anna and Dan are Bronze, Ben Silver.
    assert [(r.label, r.purchases, r.sales, r.order_value) for r in report.order_value] == [
        ("Bronze", 4, Decimal("390.00"), Decimal("97.50")), ("Silver", 1, Decimal("600.00"), Decimal("600.00"))]

    # Three first purchases; Anna's second came 10 days after her first, her third 41 days after her second.
    assert report.first_purchases == 3
    assert [(r.label, r.purchases, r.share) for r in report.gaps if r.purchases] == [
        ("8–14 days", 1, Decimal("50.0")), ("31–60 days", 1, Decimal("50.0"))]

    # The January cohort (Dan, Anna, Ben): 2 of 3 bought in January, Ben in February, Anna in March.
    january, february = report.cohorts
    assert report.cohort_columns == [0, 1, 2, 3]
    assert (january.month, january.members, january.cells) == (
        JAN, 3, [Decimal("66.7"), Decimal("33.3"), Decimal("33.3"), Decimal("0.0")])
    assert (january.sales, january.value_per_member) == (Decimal("990.00"), Decimal("330.00"))
    assert (february.month, february.members, february.cells) == (
        FEB, 1, [Decimal("0.0"), Decimal("0.0"), Decimal("0.0"), None])

    # 990 € of members' sales over 2 + 3 + 3 + 2 active members: 99 € a month; 1 lapsed of 2 + 3 + 3: 12.5 %.
    projection = report.projection
    assert (projection.monthly_value, projection.churn, projection.lifetime_months, projection.value) == (
        Decimal("99.00"), Decimal("12.5"), Decimal("8.0"), Decimal("792.00"))

    # Everyone starts in Bronze; Ben moved up in February.
    assert report.tier_names == ["Bronze", "Silver", "Gold"]
    assert [(t.month, t.members, t.upgrades, t.downgrades) for t in report.tier_months] == [
        (JAN, [3, 0, 0], 0, 0), (FEB, [3, 1, 0], 1, 0), (MAR, [3, 1, 0], 0, 0), (APR, [3, 1, 0], 0, 0)]

    # The coffee was taken twice (once given back), the mug once.
    assert [(r.label, r.redemptions, r.cancelled, r.points, r.share) for r in report.rewards] == [
        ("Coffee", 2, 1, 100, Decimal("50.0")), ("Mug", 1, 0, 200, Decimal("50.0"))]

    assert [(r.label, r.purchases, r.member_purchases, r.sales, r.enrolments, r.share) for r in report.stores] == [
        ("Mitte", 4, 3, Decimal("780.00"), 2, Decimal("75.0")),
        ("Kreuzberg", 3, 2, Decimal("260.00"), 2, Decimal("25.0"))]


def test_rolling_up_again_writes_the_same_rows(story):
    rebuild(story["program"])
    before = snapshot(story["program"])
    rebuild(story["program"])
    assert snapshot(story["program"]) == before


def test_rolling_up_night_by_night_gives_what_a_rebuild_gives(story):
    program = story["program"]
    rebuild(program)
    rebuilt = snapshot(program)
    for model in TABLES:
        model.objects.filter(program=program).delete()
    day = date(2026, 1, 1)
    while day <= date(2026, 4, 15):
        with time_machine.travel(datetime.combine(day, datetime.min.time(), tzinfo=program_zone(program))
                                 + timedelta(hours=23), tick=False):
            rollup_days(program=program, first=day, last=day, check=False)
        day += timedelta(days=1)
    # Apart from the clock: each month's "as of" and counts are those of its end, as a rebuild has them.
    assert snapshot(program) == rebuilt


def test_a_range_without_purchases_writes_empty_months(db):
    program = ProgramFactory(time_zone="UTC")
    with time_machine.travel(NOW, tick=False):
        rows = rollup_behaviour(program=program, first=date(2026, 4, 1), last=date(2026, 4, 15),
                                zone=program_zone(program))
        report = behaviour_report(program=program, first=APR, last=APR)
    assert rows == 1 and not report.has_purchases and report.cohorts == [] and report.gaps[0].share is None

"""Breakage: each issue month's points followed through the ledger's lots to redemption, expiry or a return,
a development triangle that always adds up to what the lots still hold, the chain ladder on a triangle worked by
hand, the estimate recorded once per day, and deferred revenue recognised with the redemptions."""

import itertools
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics.breakage import (
    Book,
    Estimate,
    Flow,
    breakage_book,
    chain_ladder,
    deferred_revenue,
    flow_cells,
)
from analytics.models import BreakageEstimate, BreakageFlow
from analytics.services import rollup_days, rollup_rebuild, rollup_recent
from ledger.selectors import lots_held_by_issue_month, transaction_lot_ids
from ledger.services import (
    lots_expire_due,
    points_earn,
    points_refund,
    points_reverse_return,
    points_spend,
    points_transfer,
)
from tests.factories import MemberFactory, ProgramFactory
from tests.staff.test_reports import BASE, STEP, _apply

pytestmark = pytest.mark.django_db

_keys = itertools.count()


def at(month: int, day: int, hour: int = 12) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


def do(moment: datetime, service, **kwargs):
    with time_machine.travel(moment, tick=False):
        return service(idempotency_key=f"breakage-{next(_keys)}", actor="test", source_type="test", **kwargs)


def earn(moment, member, points, expires=None):
    return do(moment, points_earn, member=member, points=points, expires_at=expires)


def spend(moment, member, points):
    return do(moment, points_spend, member=member, points=points)


def give_back(moment, member, purchase, points):
    return do(moment, points_reverse_return, member=member, points=points,
              from_lots=transaction_lot_ids(transaction_id=purchase.pk))


def four_months(program):
    """Four months of a small program (UTC, a point worth one cent), worked by hand below.

    January's 1,500 points: 300 redeemed in February and 200 taken back by a return; in March 100 sent by Bo
    to Ada (still January's points), 150 redeemed and refunded, 120 redeemed; in April Bo's last 400 expire.
    March's 400: 100 taken back in April. April's 130: 50 redeemed, and 50 repay the debt a return left."""
    ada, bo = MemberFactory(program=program), MemberFactory(program=program)
    ada_january = earn(at(1, 10), ada, 1000, expires=at(7, 1, 0))
    earn(at(1, 10), bo, 500, expires=at(4, 1, 0))
    spend(at(2, 5), ada, 300)
    give_back(at(2, 20), ada, ada_january, 200)
    ada_march = earn(at(3, 3), ada, 400)
    with time_machine.travel(at(3, 3), tick=False):
        points_transfer(sender=bo, recipient=ada, points=100, idempotency_key="breakage-transfer", actor="test")
    refunded = spend(at(3, 15), ada, 150)
    with time_machine.travel(at(3, 20), tick=False):
        points_refund(spend=refunded, idempotency_key="breakage-refund", actor="test", source_type="test")
    spend(at(3, 25), ada, 120)
    with time_machine.travel(at(4, 2), tick=False):
        lots_expire_due()
    bo_april = earn(at(4, 5), bo, 50)
    spend(at(4, 6), bo, 50)
    give_back(at(4, 7), bo, bo_april, 50)  # already spent: a debt of 50
    give_back(at(4, 10), ada, ada_march, 100)
    earn(at(4, 12), bo, 80)  # repays the debt first
    with time_machine.travel(at(4, 30, 23), tick=False):
        rollup_rebuild(program=program)
    return program


@pytest.fixture
def book(db):
    return four_months(ProgramFactory(slug="breakage", time_zone="UTC", value_per_point=Decimal("0.01")))


def test_each_issue_months_points_are_followed_to_where_they_went(book):
    flows = {(f.day, f.issue_month): (f.issued, f.redeemed, f.expired, f.reversed)
             for f in BreakageFlow.objects.filter(program=book)}
    jan, mar, apr = date(2026, 1, 1), date(2026, 3, 1), date(2026, 4, 1)
    assert flows == {
        (date(2026, 1, 10), jan): (1500, 0, 0, 0),
        (date(2026, 2, 5), jan): (0, 300, 0, 0),
        (date(2026, 2, 20), jan): (0, 0, 0, 200),
        (date(2026, 3, 3), mar): (400, 0, 0, 0),  # the transfer moves January's points: not a flow
        (date(2026, 3, 15), jan): (0, 150, 0, 0),
        (date(2026, 3, 20), jan): (0, -150, 0, 0),  # the refund
        (date(2026, 3, 25), jan): (0, 120, 0, 0),
        (date(2026, 4, 2), jan): (0, 0, 400, 0),
        (date(2026, 4, 5), apr): (50, 0, 0, 0),
        (date(2026, 4, 6), apr): (0, 50, 0, 0),
        (date(2026, 4, 10), mar): (0, 0, 0, 100),
        (date(2026, 4, 12), apr): (80, 0, 0, 50),  # 50 of the new lot pay the debt
    }


def test_the_triangle_holds_cumulative_shares_of_the_points_not_taken_back(book):
    months = breakage_book(program=book, through=date(2026, 4, 30)).months
    january = months[0]
    assert [m.month for m in months] == [date(2026, 1, 1), date(2026, 3, 1), date(2026, 4, 1)]
    assert january.base == 1300 and january.open == 480
    assert [january.shares(age) for age in range(4)] == [
        (Fraction(0), Fraction(0), Fraction(1500, 1300)),
        (Fraction(300, 1300), Fraction(0), Fraction(1000, 1300)),
        (Fraction(420, 1300), Fraction(0), Fraction(880, 1300)),
        (Fraction(420, 1300), Fraction(400, 1300), Fraction(480, 1300)),
    ]
    assert [(m.month, m.complete) for m in months] == [(date(2026, 1, 1), 4), (date(2026, 3, 1), 2),
                                                       (date(2026, 4, 1), 1)]


def test_what_each_issue_month_has_open_is_what_its_lots_hold(book):
    months = breakage_book(program=book, through=date(2026, 4, 30)).months
    assert {m.month: m.open for m in months if m.open} == lots_held_by_issue_month(
        program_id=book.pk, zone=ZoneInfo("UTC")) == {date(2026, 1, 1): 480, date(2026, 3, 1): 300,
                                                       date(2026, 4, 1): 30}


def test_the_chain_ladder_on_a_triangle_worked_by_hand():
    # Three issue months; the youngest's second month is not over yet.
    factors, ultimates = chain_ladder([[100, 150, 165], [200, 280], [50, 60]], complete=[3, 2, 1])
    # 0→1 from the two older rows: (150 + 280) / (100 + 200); 1→2 from the oldest: 165 / 150.
    assert factors == [Fraction(430, 300), Fraction(165, 150)]
    # The youngest's second month is not over: carried from its first month (50 × 430/300 × 165/150), which is
    # more than from its partial second one (60 × 165/150).
    assert ultimates == [Fraction(165), Fraction(280 * 165, 150), Fraction(50 * 430 * 165, 300 * 150)]
    _, later = chain_ladder([[100, 150, 165], [200, 280], [50, 90]], complete=[3, 2, 1])
    assert later[2] == Fraction(90 * 165, 150)  # late in the month the partial figure says more


def test_the_ultimate_rate_is_projected_by_bornhuetter_ferguson_and_capped(book):
    result = breakage_book(program=book, through=date(2026, 4, 30))
    # Age-to-age 0→1 learns nothing (January redeemed nothing in its first month), 1→2 is January's 420 / 300,
    # 2→3 is 1; the tail: January's open points end as its resolved ones did, 1,300 / (420 + 400).
    assert result.factors == [Fraction(1), Fraction(420, 300), Fraction(1), Fraction(1300, 820)]
    # Developed by age: 0 % at age 0 (January went from nothing to 300 after it), 820 / 1,820 at age 1
    # (1 ÷ (1.4 × 1 × 1300/820)), 820 / 1,300 at ages 2 and 3.
    january, march, april = result.estimates
    # January is 63 % developed (mature): its chain ladder, 420 × 1300/820 = 666, gives the expected rate 666 / 1,300.
    assert (january.ultimate_redeemed, january.rate) == (round(420 * 1300 / 820), Decimal("0.512308"))
    assert january.breakage_open == 480 - (666 - 420)
    # March redeemed nothing by age 1, where 1,000 / 1,820 of the ultimate is still to come:
    # 0 + 1000/1820 × 666/1300 × 300 = 84.4.
    assert march.ultimate_redeemed == round(Fraction(1000, 1820) * Fraction(666, 1300) * 300) == 84
    assert march.breakage_open == 300 - 84
    # April: 50 + 100 % to come × 666/1300 × 80 = 91, more than its 80 points: capped.
    assert (april.ultimate_redeemed, april.rate, april.breakage_open) == (80, Decimal("1.000000"), 0)
    overall = result.overall
    assert (overall.base, overall.ultimate_redeemed, overall.rate) == (1680, 830, Decimal("0.494048"))
    capped = Estimate(month=None, issued=100, reversed=0, redeemed=10, expired=80, ultimate_redeemed=20)
    assert capped.open == 10 and capped.breakage_open == 0


def test_a_young_month_with_few_redemptions_is_not_read_as_breakage():
    """Older months redeemed 100 points of 1,000 in their first month, 200 more in each of the next two, and 300
    expired; the youngest redeemed 20 in its first. The chain ladder alone carries those 20 by the factors to
    20 × 3 × 5/3 × 1.25 = 125: 87.5 % breakage. Bornhuetter–Ferguson gives it the mature months' rate for the
    84 % still to come."""
    january, february, march = (date(2026, m, 1) for m in (1, 2, 3))
    cells = {(january, january): Flow(issued=1000, redeemed=100), (january, february): Flow(redeemed=200),
             (january, march): Flow(redeemed=200, expired=300),
             (february, february): Flow(issued=1000, redeemed=100), (february, march): Flow(redeemed=200),
             (march, march): Flow(issued=1000, redeemed=20)}
    book = Book.of(cells, through=date(2026, 3, 31))
    # Factors 0→1: 600 / 200 = 3, 1→2: 500 / 300 = 5/3; the tail: 1,000 / (500 + 300) = 1.25. Developed by age:
    # 16 %, 48 %, 80 %: only January is mature, and its chain ladder, 500 × 1.25 = 625, sets the expected rate.
    assert book.factors == [Fraction(3), Fraction(5, 3), Fraction(5, 4)]
    old, middle, young = book.estimates
    assert old.ultimate_redeemed == 500 + Fraction(1, 5) * 625 == 625
    assert middle.ultimate_redeemed == 300 + Fraction(52, 100) * 625 == 625
    assert young.ultimate_redeemed == 20 + Fraction(84, 100) * 625 == 545
    assert young.breakage_rate == Decimal("0.455000")


def test_without_older_months_no_breakage_is_assumed():
    result = Book.of({(date(2026, 1, 1), date(2026, 1, 1)): Flow(issued=100)}, through=date(2026, 1, 15))
    assert result.estimates[0].ultimate_redeemed == 100 and result.estimates[0].deferred_points() == 100


def test_the_estimate_is_recorded_once_per_day_and_at_each_month_end(book):
    recorded = list(BreakageEstimate.objects.filter(program=book, issue_month=None).order_by("as_of")
                    .values_list("as_of", "ultimate_rate"))
    assert [day for day, _ in recorded] == [date(2026, 1, 31), date(2026, 2, 28), date(2026, 3, 31),
                                            date(2026, 4, 30)]
    # Nothing had expired by the end of March: no breakage could be told apart yet.
    assert [rate for _, rate in recorded] == [Decimal(1), Decimal(1), Decimal(1), Decimal("0.494048")]
    with time_machine.travel(at(4, 30, 23), tick=False):
        rollup_recent(program=book)
        rollup_recent(program=book)
    assert BreakageEstimate.objects.filter(program=book, as_of=date(2026, 4, 30)).count() == 4  # 3 months + all
    assert BreakageEstimate.objects.filter(program=book, issue_month=None).count() == 4


def test_rolling_up_again_writes_the_same_flows(book):
    def flows():
        return sorted(BreakageFlow.objects.filter(program=book).values_list(
            "day", "issue_month", "issued", "redeemed", "expired", "reversed"))
    before = flows()
    with time_machine.travel(at(4, 30, 23), tick=False):
        rollup_days(program=book, first=date(2026, 3, 1), last=date(2026, 4, 30))
        rollup_days(program=book, first=date(2026, 4, 12), last=date(2026, 4, 12))
    assert flows() == before


def test_deferred_revenue_is_recognised_with_the_redemptions(book):
    total, months = deferred_revenue(program=book, first=date(2026, 4, 1), last=date(2026, 4, 30))
    # 31 March: nothing had expired, so every open point was expected to be redeemed: January 1,300 not taken
    # back, 420 redeemed, 880 deferred; March 400 deferred: 12.80.
    assert total.opening == Decimal("12.80")
    assert total.deferred == Decimal("1.30") and total.reversed == Decimal("1.50")
    assert total.on_redemption == Decimal("0.50")
    # 30 April: January 820 of 1,300 redeemed or expired, beyond 420 / 666 by redemption: its 480 open points
    # stay deferred; March 300; April 80 × (1 − 50 / 80) = 30: 810 points.
    assert total.closing == Decimal("8.10")
    assert total.breakage == Decimal("4.00")  # the 400 points that expired beyond the estimate of 31 March
    assert months == [total]


def test_deferred_revenue_month_by_month_chains_each_closing_to_the_next_opening(book):
    total, months = deferred_revenue(program=book, first=date(2026, 1, 15), last=date(2026, 4, 30))
    assert [(m.first, m.last) for m in months] == [
        (date(2026, 1, 15), date(2026, 1, 31)), (date(2026, 2, 1), date(2026, 2, 28)),
        (date(2026, 3, 1), date(2026, 3, 31)), (date(2026, 4, 1), date(2026, 4, 30))]
    assert all(a.closing == b.opening for a, b in itertools.pairwise(months))
    assert total.opening == Decimal("15.00") and total.closing == months[-1].closing == Decimal("8.10")
    assert sum(m.deferred for m in months) == total.deferred == Decimal("5.30")  # March's 400, April's 130
    assert sum(m.on_redemption for m in months) == total.on_redemption == Decimal("4.70")


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(steps=st.lists(STEP, min_size=8, max_size=40))
def test_for_any_ledger_each_issue_months_open_points_are_what_its_lots_hold(db, steps):
    with transaction.atomic():
        with time_machine.travel(BASE, tick=False):
            program = ProgramFactory(time_zone="Pacific/Auckland", expiry_days=None)
            members = [MemberFactory(program=program) for _ in range(3)]
        done = {"earns": [], "spends": []}
        for day, hour, operation, who, points in sorted(steps, key=lambda s: (s[0], s[1])):
            with time_machine.travel(BASE + timedelta(days=day * 3, hours=hour), tick=False):
                member = members[who]
                _apply(operation, member, [m for m in members if m != member], points, done)
        with time_machine.travel(BASE + timedelta(days=70), tick=False):
            run = rollup_rebuild(program=program)
            zone = ZoneInfo(program.time_zone)
            result = Book.of(flow_cells(program=program, through=run.last_day), through=run.last_day)
            assert {m.month: m.open for m in result.months if m.open} == \
                lots_held_by_issue_month(program_id=program.pk, zone=zone)
            assert all(0 <= e.redeemed <= e.ultimate_redeemed <= max(e.base - e.expired, e.redeemed)
                       for e in result.estimates)
        transaction.set_rollback(True)

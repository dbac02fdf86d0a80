"""A spend reads the lots it takes from, not every live lot of the member: however long their history."""

import re

import pytest

from ledger import sql
from ledger.models import PointsLot
from ledger.services import points_earn
from tests.plans import generic_plan

LOTS = 120  # well past what a plan that sorts a batch (an incremental sort: 32 rows at least) would read


@pytest.fixture
def regular(member):
    """A member holding 120 live lots of 10 points."""
    for index in range(LOTS):
        points_earn(member=member, points=10, idempotency_key=f"earn-{index}", source_type="test", actor="test")
    PointsLot.objects.filter(account=member.account).update(released=True)
    return member


def test_a_spend_stops_reading_lots_once_it_has_enough(regular):
    plan = generic_plan(  # sql._needed_params: account, points (the lots' bound), points
        sql._needed(), numbers=[1, 2, 2], types=("bigint", "bigint"), values=(str(int(regular.account.pk)), "15"),
        analyze=True, bitmaps=False)

    scan = r"Index Scan using lot_spending_order_idx on ledger_pointslot \w+ \(actual time=[\d.]+\.\.[\d.]+ rows=(\d+)"
    scanned = [int(found) for found in re.findall(scan, plan)]
    assert scanned, plan
    assert max(scanned) < LOTS / 2, plan  # read in spending order and stopped, not every live lot


def test_the_lots_a_spend_takes_are_the_soonest_expiring_ones_it_needs(regular):
    in_order = list(PointsLot.objects.filter(account=regular.account).order_by("expires_at", "earned_at", "id"))

    assert sql.lots_spendable(regular.account.pk, 15) == in_order[:2]
    assert sql.lots_spendable(regular.account.pk, 10) == in_order[:1]
    assert sql.lots_spendable(regular.account.pk, LOTS * 10) == in_order
    assert sql.lots_spendable(regular.account.pk, LOTS * 10 + 1) == in_order  # all it has: the spend is refused
    assert sql.lots_spendable(regular.account.pk, 15, exclude=[in_order[0].pk]) == in_order[1:3]

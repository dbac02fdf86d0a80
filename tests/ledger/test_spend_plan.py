"""A spend reads the lots it takes from, not every live lot of the member: however long their history."""

import re

import pytest
from django.db import connection

from ledger import sql
from ledger.models import PointsLot
from ledger.services import points_earn

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's planner")

LOTS = 120  # well past what a plan that sorts a batch (an incremental sort: 32 rows at least) would read


@pytest.fixture
def regular(member):
    """A member holding 120 live lots of 10 points."""
    for index in range(LOTS):
        points_earn(member=member, points=10, idempotency_key=f"earn-{index}", source_type="test", actor="test")
    PointsLot.objects.filter(account=member.account).update(released=True)
    return member


def _generic_plan(account_id: int, points: int) -> str:
    numbers = iter([1, 2, 2])  # sql._needed_params: account, points (the lots' bound), points
    needed = re.sub(r"%s", lambda _: f"${next(numbers)}", sql._needed())
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE ledger_pointslot")
        # Prepared, as psycopg prepares the ledger's statements, and planned once for any account.
        cursor.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        cursor.execute("SET LOCAL enable_seqscan = off")  # the test's table is small; a real one is not
        cursor.execute("SET LOCAL enable_bitmapscan = off")
    driver = connection.connection  # PREPARE's own placeholders need the simple query protocol: no parameters
    driver.execute(f"PREPARE needed (bigint, bigint) AS SELECT id FROM ledger_pointslot WHERE {needed}")  # noqa: S608
    try:
        rows = driver.execute(f"EXPLAIN (ANALYZE, COSTS OFF) EXECUTE needed ({int(account_id)}, {int(points)})")
        return "\n".join(row[0] for row in rows.fetchall())
    finally:
        driver.execute("DEALLOCATE needed")


def test_a_spend_stops_reading_lots_once_it_has_enough(regular):
    plan = _generic_plan(regular.account.pk, 15)

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

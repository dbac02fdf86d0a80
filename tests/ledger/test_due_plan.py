"""What falls due for one account is found by index, however many lots the account ever held."""

import re

import pytest
from django.db import connection
from django.utils import timezone

from ledger import sql
from ledger.models import PointsLot
from ledger.services import points_earn

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's planner")


def test_the_due_lots_are_read_through_their_indexes_not_the_accounts_history(member):
    now = timezone.now()
    for index in range(40):
        points_earn(member=member, points=10, idempotency_key=f"earn-{index}", source_type="test", actor="test")
    PointsLot.objects.filter(account=member.account).update(released=True, expired=True, remaining=0)
    numbers = iter([1, 2, 1, 2, 2, 2])  # sql._due_params: account, time, account, time, time, time
    where = re.sub(r"%s", lambda _: f"${next(numbers)}", sql._DUE_WHERE)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE ledger_pointslot")
        # A prepared statement, as psycopg prepares the ledger's statements, planned once for any account.
        cursor.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        cursor.execute("SET LOCAL enable_seqscan = off")  # the test's table is small; a real one is not
    driver = connection.connection  # PREPARE's own placeholders need the simple query protocol: no parameters
    driver.execute(f"PREPARE due (bigint, timestamptz) AS SELECT id FROM ledger_pointslot WHERE {where}")  # noqa: S608
    try:
        # EXECUTE takes no bound parameters: an integer and a timestamp written out
        explain = f"EXPLAIN EXECUTE due ({int(member.account.pk)}, '{now.isoformat()}')"
        plan = "\n".join(row[0] for row in driver.execute(explain).fetchall())
    finally:
        driver.execute("DEALLOCATE due")

    assert "lot_pending_due_idx" in plan and "lot_spending_order_idx" in plan, plan
    assert "ledger_pointslot_account_id" not in plan, plan
    assert sql.lots_due(member.account.pk, now) == []

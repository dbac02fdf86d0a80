"""What falls due for one account is found by index, however many lots the account ever held."""

from django.utils import timezone

from ledger import sql
from ledger.models import PointsLot
from ledger.services import points_earn
from tests.plans import generic_plan


def test_the_due_lots_are_read_through_their_indexes_not_the_accounts_history(member):
    now = timezone.now()
    for index in range(40):
        points_earn(member=member, points=10, idempotency_key=f"earn-{index}", source_type="test", actor="test")
    PointsLot.objects.filter(account=member.account).update(released=True, expired=True, remaining=0)
    plan = generic_plan(  # sql._due_params: account, time, account, time, time, time
        sql._DUE_WHERE, numbers=[1, 2, 1, 2, 2, 2], types=("bigint", "timestamptz"),
        values=(str(int(member.account.pk)), f"'{now.isoformat()}'"))

    assert "lot_pending_due_idx" in plan and "lot_spending_order_idx" in plan, plan
    assert "ledger_pointslot_account_id" not in plan, plan
    assert sql.lots_due(member.account.pk, now) == []

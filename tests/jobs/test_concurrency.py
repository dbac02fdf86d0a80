"""Real threads on PostgreSQL: two workers running one job at once, or a job beside members spending."""

import pytest
from django.db.models import Count

from ledger.models import Kind, LedgerTransaction, PointsLot
from ledger.selectors import ledger_verify_report
from ledger.services import lots_expire_due, lots_release_due
from loyalty.errors import DomainError
from tests.concurrency import run_together
from tests.factories import MemberFactory
from tests.ledger.support import earn, spend

from .support import days, into_debt

pytestmark = pytest.mark.django_db(transaction=True)


def many_members(program, count=40) -> list:
    members = []
    for n in range(count):
        member = MemberFactory(program=program, email=f"m{n}@example.com")
        if n % 7 == 0:
            into_debt(member, 30)
        earn(member, 100, expires_in_days=10)
        earn(member, 40, pending_days=3, expires_in_days=5)
        earn(member, 60, pending_days=2, expires_in_days=30)
        members.append(member)
    return members


@pytest.mark.parametrize("job", [lots_expire_due, lots_release_due], ids=["expire", "release"])
def test_two_workers_running_one_job_at_once_move_each_lot_once(clock, program, job):
    many_members(program)
    clock.move_to(days(12))
    kind = Kind.EXPIRE if job is lots_expire_due else Kind.RELEASE
    due = PointsLot.objects.filter(remaining__gt=0, expires_at__lte=days(12), expired=False).count() \
        if kind == Kind.EXPIRE else PointsLot.objects.filter(remaining__gt=0, released=False).count()

    outcomes = run_together([lambda: job(batch_size=4), lambda: job(batch_size=4)])

    assert [status for status, _ in outcomes] == ["ok", "ok"]
    assert sum(run.lots for _, run in outcomes) == due
    per_lot = LedgerTransaction.objects.filter(kind=kind).values("source_id").annotate(n=Count("id"))
    assert len(per_lot) == due and {row["n"] for row in per_lot} == {1}
    assert job(batch_size=4).lots == 0
    assert ledger_verify_report().ok


def test_expiry_beside_members_spending_neither_deadlocks_nor_drifts(clock, program):
    members = many_members(program, count=24)
    clock.move_to(days(12))

    def spender(member):
        try:
            return spend(member, 20)
        except DomainError as refused:
            return refused.code

    outcomes = run_together([lambda: lots_expire_due(batch_size=3), lambda: lots_release_due(batch_size=3),
                             *[lambda m=m: spender(m) for m in members]])

    assert [status for status, _ in outcomes] == ["ok"] * len(outcomes)
    assert lots_expire_due().lots == 0 and lots_release_due().lots == 0
    assert not PointsLot.objects.filter(remaining__gt=0, expires_at__lte=days(12), expired=False).exists()
    assert ledger_verify_report().ok

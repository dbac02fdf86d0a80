"""Real threads on PostgreSQL: row locks, not luck, keep the ledger exactly-once and never overdrawn."""

import threading
from collections import Counter

import pytest

from ledger import services
from ledger.models import Kind, LedgerTransaction
from ledger.selectors import ledger_verify_report
from loyalty.errors import DomainError
from tests.concurrency import run_together
from tests.factories import MemberFactory

from .support import balances, earn, spend

pytestmark = pytest.mark.django_db(transaction=True)


def errors_of(outcomes) -> list:
    return [value for status, value in outcomes if status == "error"]


def test_twenty_earns_with_one_key_credit_once(member):
    outcomes = run_together([
        lambda: earn(member, 100, idempotency_key="purchase:store-1:R-1") for _ in range(20)
    ])

    assert errors_of(outcomes) == []
    assert len({txn.pk for _, txn in outcomes}) == 1
    assert sum(not txn.replayed for _, txn in outcomes) == 1
    assert balances(member) == (100, 0, 0)
    assert ledger_verify_report().ok


def test_one_key_racing_on_different_accounts_moves_points_once(program):
    members = [MemberFactory(program=program) for _ in range(8)]

    outcomes = run_together([lambda m=m: earn(m, 10, idempotency_key="shared-key") for m in members])

    assert errors_of(outcomes) == []
    assert LedgerTransaction.objects.filter(idempotency_key="shared-key").count() == 1
    assert len({txn.pk for _, txn in outcomes}) == 1
    assert sorted(balances(m)[0] for m in members) == [0] * 7 + [10]
    assert ledger_verify_report().ok


def test_forty_spends_of_fifty_against_five_hundred_exactly_ten_succeed(member):
    earn(member, 300)
    earn(member, 200)

    outcomes = run_together([lambda: spend(member, 50) for _ in range(40)])

    successes = [value for status, value in outcomes if status == "ok"]
    refusals = errors_of(outcomes)
    assert len(successes) == 10
    assert len(refusals) == 30
    assert all(isinstance(error, DomainError) and error.code == "insufficient_points" for error in refusals)
    assert balances(member) == (0, 0, 0)
    assert LedgerTransaction.objects.filter(kind=Kind.REDEEM).count() == 10
    assert ledger_verify_report().ok


def test_transfers_both_ways_at_once_neither_deadlock_nor_lose_points(program):
    ada, grace = MemberFactory(program=program), MemberFactory(program=program)
    earn(ada, 300, expires_in_days=100)
    earn(grace, 300, expires_in_days=200)

    def transfers(sender, recipient, count):
        def run():
            for _ in range(count):
                services.points_transfer(sender=sender, recipient=recipient, points=7,
                                         idempotency_key=f"transfer:{threading.get_ident()}:{_}", actor="test")
            return count
        return run

    # 10 threads each way, 3 transfers each: 30 transfers in each direction, interleaved.
    outcomes = run_together([transfers(ada, grace, 3) for _ in range(10)] + [transfers(grace, ada, 3)
                                                                              for _ in range(10)])

    assert errors_of(outcomes) == []
    assert Counter(txn.kind for txn in LedgerTransaction.objects.filter(kind=Kind.TRANSFER_OUT)) == {
        Kind.TRANSFER_OUT: 60}
    assert balances(ada)[0] + balances(grace)[0] == 600
    assert balances(ada) == (300, 0, 0) and balances(grace) == (300, 0, 0)
    assert ledger_verify_report().ok

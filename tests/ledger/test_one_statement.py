"""A posting is written by one statement (ledger/sql.py) when it fits one; it writes exactly the rows the
row-by-row statements write for a posting that does not."""

import re
from datetime import UTC, datetime, timedelta

import time_machine

from ledger import services, sql
from ledger.models import LedgerEntry, LedgerTransaction, LotMovement, PointsAccount, PointsLot
from tests.factories import MemberFactory, ProgramFactory

from .support import assert_consistent

START = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


def days(n: int) -> timedelta:
    return timedelta(days=n)


def a_year_of_points(program) -> list:
    """Earns, pending points, spends over several lots, a transfer, a return into debt, earning it back, a
    refund, staff adjustments, and releases and expiries caught up by later earns and spends."""
    ada, grace = MemberFactory(program=program), MemberFactory(program=program)

    def earn(member, points, key, *, pending=0, expires=None, now):
        return services.points_earn(member=member, points=points, idempotency_key=key, source_type="purchase",
                                    source_id=key, actor="test", occurred_at=now, available_at=now + days(pending),
                                    expires_at=now + days(expires) if expires else None,
                                    description=f"Purchase {key} " + "x" * 250)

    def spend(member, points, key):
        return services.points_spend(member=member, points=points, idempotency_key=key, source_type="redemption",
                                     source_id=key, actor="test", description=f"Redeemed {key}")

    with time_machine.travel(START, tick=False):
        first = earn(ada, 100, "p1", expires=30, now=START)
        earn(ada, 50, "p2", pending=7, expires=60, now=START)
        earn(ada, 20, "p3", now=START)
        earn(ada, 20, "p3", now=START)  # replayed
        spent = spend(ada, 110, "r1")
        spend(ada, 110, "r1")  # replayed
        earn(grace, 10, "p4", expires=10, now=START)
        services.points_transfer(sender=ada, recipient=grace, points=5, idempotency_key="t1", actor="test")
        services.points_reverse_return(member=ada, points=80, idempotency_key="ret1", source_type="return",
                                       actor="test", from_lots=[first.entries.get().lot_id])
    with time_machine.travel(START + days(8), tick=False):
        earn(ada, 40, "p5", now=START + days(8))  # releases the emptied pending lot, repays the debt
        earn(ada, 30, "p6", pending=3, expires=15, now=START + days(8))
        services.points_refund(spend=spent, idempotency_key="ref1", actor="test", source_type="refund")
        services.points_adjust(member=grace, points=7, reason="goodwill", actor="staff", idempotency_key="a1",
                               expires_in=days(5))
        services.points_adjust(member=ada, points=-3, reason="correction", actor="staff", idempotency_key="a2")
    with time_machine.travel(START + days(31), tick=False):
        spend(ada, 12, "r2")  # releases p6, expires the refunded points past their date
        earn(grace, 9, "p7", now=START + days(31))  # expires grace's lots
    with time_machine.travel(START + days(32), tick=False):
        for i in range(10):
            earn(grace, 1, f"p8-{i}", now=START + days(32))
        spend(grace, PointsAccount.objects.get(member=grace).available, "r3")  # from more lots than a list holds
    assert_consistent(ada, grace)
    return [ada, grace]


def ledger_rows(members) -> dict:
    """Every ledger row of the members, ids replaced by their order among the rows compared."""
    accounts = list(PointsAccount.objects.filter(member__in=members).order_by("pk"))
    account_no = {account.pk: no for no, account in enumerate(accounts)}
    lots = list(PointsLot.objects.filter(account__in=accounts).order_by("pk"))
    lot_no = {lot.pk: no for no, lot in enumerate(lots)}
    entries = list(LedgerEntry.objects.filter(account__in=accounts).order_by("pk"))
    entry_no = {entry.pk: no for no, entry in enumerate(entries)}
    txns = list(LedgerTransaction.objects.filter(pk__in={e.transaction_id for e in entries}).order_by("pk"))
    txn_no = {txn.pk: no for no, txn in enumerate(txns)}

    def lot_ref(text: str) -> str:
        return re.sub(r"lot:(\d+)", lambda m: f"lot:#{lot_no[int(m[1])]}", text)

    return {
        "accounts": [(a.available, a.pending, a.debt, a.updated_at) for a in accounts],
        "lots": [(account_no[lot.account_id], lot.amount, lot.remaining, lot.earned_at, lot.available_at,
                  lot.released, lot.expires_at, lot.expired) for lot in lots],
        "transactions": [(t.kind, lot_ref(t.idempotency_key), t.source_type,
                          f"#{lot_no[int(t.source_id)]}" if t.source_type == "lot" else t.source_id,
                          t.actor, t.reason, txn_no.get(t.reverses_id), t.created_at) for t in txns],
        "entries": [(txn_no[e.transaction_id], account_no[e.account_id], e.kind, e.points, e.available_delta,
                     e.pending_delta, e.debt_delta, lot_no.get(e.lot_id), e.expires_at, e.description,
                     e.created_at) for e in entries],
        "movements": [(entry_no[m.entry_id], lot_no[m.lot_id], m.points)
                      for m in LotMovement.objects.filter(entry__in=entries).order_by("pk")],
    }


def test_the_one_statement_path_writes_exactly_the_rows_of_the_row_by_row_path(db, monkeypatch):
    one_statement, with_claim = [], []
    write_one, claim_and_earn = sql.posting_write_one, sql._claim_and_earn
    monkeypatch.setattr(sql, "posting_write_one", lambda *args: one_statement.append(args) or write_one(*args))

    def claim_and_earn_kept(*args):
        answer = claim_and_earn(*args)
        with_claim.append(answer[3])
        return answer

    monkeypatch.setattr(sql, "_claim_and_earn", claim_and_earn_kept)
    written_at_once = ledger_rows(a_year_of_points(ProgramFactory(slug="at-once", name="At once")))

    monkeypatch.setattr(sql, "fits_one_statement", lambda posting: False)
    monkeypatch.setattr(sql, "earns_with_claim", lambda posting: False)
    written_portably = ledger_rows(a_year_of_points(ProgramFactory(slug="portably", name="Portably")))

    # Earns written by the claim's statement, and earns that found a lot due first and posted after the catch-up.
    assert with_claim.count(True) > 10 and with_claim.count(False) >= 2
    assert len(one_statement) > 10  # spends, releases, expiries, adjustments, earns after a catch-up
    assert any(len(posting.movements) > sql._LISTED for _, posting, _ in one_statement)  # lots as arrays
    assert written_at_once == written_portably
    assert len(written_portably["movements"]) > 5
    assert any(lot[-1] for lot in written_portably["lots"])  # something expired
    assert any(entry[6] for entry in written_portably["entries"])  # a debt moved

"""A closed account's points lapse with it: one expire transaction takes what its lots hold, available and pending,
so the liability stops counting points nobody can spend."""

from ledger import services
from ledger.models import Kind, LedgerTransaction
from members.services import member_anonymise

from .support import assert_consistent, balances, earn, entries_of, key, lots_of, spend


def test_closing_an_account_forfeits_available_and_pending_points_once(member):
    earn(member, 120)
    earn(member, 80, pending_days=14)
    spend(member, 20)

    member_anonymise(member=member)

    assert balances(member) == (0, 0, 0)
    forfeit = LedgerTransaction.objects.get(source_type="account")
    assert forfeit.kind == Kind.EXPIRE and forfeit.actor == services.FORFEIT_ACTOR
    assert [entry.points for entry in entries_of(member) if entry.transaction_id == forfeit.pk] == [-180]
    assert all(lot.remaining == 0 and lot.expired for lot in lots_of(member))
    assert_consistent(member)

    assert services.account_forfeit(member=member) == 0  # nothing left: nothing posted
    assert LedgerTransaction.objects.filter(source_type="account").count() == 1


def test_an_empty_account_closes_without_a_ledger_entry(member):
    member_anonymise(member=member)

    assert not LedgerTransaction.objects.filter(source_type="account").exists()


def test_debt_left_by_a_return_stays_on_the_books(member):
    purchase = earn(member, 100)
    spend(member, 100)
    services.points_reverse_return(member=member, points=60, idempotency_key=key("return"), source_type="test",
                                   actor="test", from_lots=[purchase.entries.get().lot_id])
    earn(member, 10)  # pays 10 of the 60 owed

    member_anonymise(member=member)

    assert balances(member) == (0, 0, 50)  # available, pending, debt
    assert_consistent(member)

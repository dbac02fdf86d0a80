from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from ledger import services
from ledger.models import Kind, LedgerTransaction, LotMovement
from ledger.selectors import account_balance_get
from loyalty.errors import DomainError
from tests.factories import MemberFactory

from .support import account, assert_consistent, balances, earn, entries_of, key, lots_of, spend


@pytest.fixture
def other(program):
    return MemberFactory(program=program, email="grace@example.com")


def test_earn_twice_with_one_key_credits_once(member):
    first = earn(member, 100, idempotency_key="purchase:1")
    again = earn(member, 100, idempotency_key="purchase:1")

    assert again.pk == first.pk and again.replayed and not first.replayed
    assert balances(member) == (100, 0, 0)
    assert_consistent(member)


def test_spend_takes_the_soonest_expiring_lot_first(member):
    earn(member, 100, expires_in_days=300)
    earn(member, 100, expires_in_days=30)
    earn(member, 100)  # never expires: last

    spend(member, 150)

    assert [lot.remaining for lot in lots_of(member)] == [50, 0, 100]
    assert_consistent(member)


def test_spend_beyond_the_balance_is_refused_and_changes_nothing(member):
    earn(member, 100)

    with pytest.raises(DomainError) as refused:
        spend(member, 101)

    assert refused.value.code == "insufficient_points"
    assert balances(member) == (100, 0, 0)
    assert LedgerTransaction.objects.filter(kind=Kind.REDEEM).count() == 0


def test_a_return_taking_its_whole_lot_does_not_take_that_lot_twice(member):
    """The purchase's own lot is emptied first; the rest comes from other lots, never the same one again."""
    purchase = earn(member, 100)
    earn(member, 100)

    services.points_reverse_return(member=member, points=150, idempotency_key=key("return"), source_type="test",
                                   actor="test", from_lots=[purchase.entries.get().lot_id])

    assert [lot.remaining for lot in lots_of(member)] == [0, 50]
    assert balances(member) == (50, 0, 0)
    assert_consistent(member)


def test_a_return_of_spent_points_leaves_debt_that_the_next_earn_pays(member):
    purchase = earn(member, 100)
    spend(member, 80)

    services.points_reverse_return(member=member, points=100, idempotency_key=key("return"), source_type="test",
                                   actor="test", from_lots=[purchase.entries.get().lot_id])
    assert balances(member) == (0, 0, 80)
    assert account_balance_get(member=member, fresh=True) == {"available": -80, "pending": 0}

    earn(member, 50)
    assert balances(member) == (0, 0, 30)
    earn(member, 50)
    assert balances(member) == (20, 0, 0)
    assert_consistent(member)


def test_a_release_moves_pending_to_available_and_shows_no_points_on_the_statement(member):
    earn(member, 100, pending_days=14)
    assert balances(member) == (0, 100, 0)

    with time_machine.travel(timezone.now() + timedelta(days=15)):
        assert services.account_release(member=member) == 1
        assert services.account_release(member=member) == 0

    assert balances(member) == (100, 0, 0)
    release = entries_of(member)[-1]
    assert (release.kind, release.points) == (Kind.RELEASE, 0)
    assert sum(entry.points for entry in entries_of(member)) == 100
    assert_consistent(member)


def test_a_release_pays_debt_first(member):
    purchase = earn(member, 100)
    spend(member, 100)
    services.points_reverse_return(member=member, points=100, idempotency_key=key("return"), source_type="test",
                                   actor="test", from_lots=[purchase.entries.get().lot_id])
    earn(member, 150, pending_days=7)
    assert balances(member) == (0, 150, 100)

    with time_machine.travel(timezone.now() + timedelta(days=8)):
        services.account_release(member=member)

    assert balances(member) == (50, 0, 0)
    assert_consistent(member)


def test_expiry_takes_exactly_what_was_left_once(member):
    earn(member, 100, expires_in_days=30)
    spend(member, 30)

    with time_machine.travel(timezone.now() + timedelta(days=31)):
        assert services.account_expire(member=member) == 1
        assert services.account_expire(member=member) == 0

    expiry = entries_of(member)[-1]
    assert (expiry.kind, expiry.points) == (Kind.EXPIRE, -70)
    assert balances(member) == (0, 0, 0)
    assert_consistent(member)


def test_points_that_expire_while_pending_never_become_available(member):
    purchase = earn(member, 100)
    spend(member, 100)
    services.points_reverse_return(member=member, points=40, idempotency_key=key("return"), source_type="test",
                                   actor="test", from_lots=[purchase.entries.get().lot_id])
    earn(member, 60, pending_days=20, expires_in_days=10)  # expires before it would be released

    with time_machine.travel(timezone.now() + timedelta(days=21)):
        services.account_release(member=member)

    assert balances(member) == (0, 0, 40)  # the debt was not paid by points that had expired
    assert_consistent(member)


def test_a_spend_first_expires_what_is_due(member):
    earn(member, 100, expires_in_days=10)
    earn(member, 50)

    with time_machine.travel(timezone.now() + timedelta(days=11)):
        with pytest.raises(DomainError):
            spend(member, 100)
        spend(member, 50)

    assert balances(member) == (0, 0, 0)
    assert [e.kind for e in entries_of(member)][-2:] == [Kind.EXPIRE, Kind.REDEEM]
    assert_consistent(member)


def test_a_refund_gives_back_what_the_spend_took_only_once(member):
    earn(member, 100, expires_in_days=90)
    earn(member, 100, expires_in_days=30)
    redemption = spend(member, 150)

    refund = services.points_refund(spend=redemption, idempotency_key="refund:1", actor="test",
                                    source_type="redemption")
    again = services.points_refund(spend=redemption, idempotency_key="refund:other-key", actor="test",
                                   source_type="redemption")

    assert again.pk == refund.pk and again.replayed
    assert balances(member) == (200, 0, 0)
    refunded = sorted((lot.amount, lot.expires_at) for lot in lots_of(member)[2:])
    originals = {lot.expires_at for lot in lots_of(member)[:2]}
    assert [amount for amount, _ in refunded] == [50, 100] and {at for _, at in refunded} == originals
    assert_consistent(member)


def test_only_a_spend_can_be_refunded(member):
    with pytest.raises(ValueError):
        services.points_refund(spend=earn(member, 100), idempotency_key=key("refund"), actor="test",
                               source_type="test")


def test_a_transfer_keeps_expiry_dates_and_pays_the_recipients_debt(member, other):
    earn(member, 100, expires_in_days=60)
    purchase = earn(other, 30)
    spend(other, 30)
    services.points_reverse_return(member=other, points=30, idempotency_key=key("return"), source_type="test",
                                   actor="test", from_lots=[purchase.entries.get().lot_id])

    services.points_transfer(sender=member, recipient=other, points=80, idempotency_key=key("transfer"),
                             actor="test")

    assert balances(member) == (20, 0, 0)
    assert balances(other) == (50, 0, 0)
    assert lots_of(other)[-1].expires_at == lots_of(member)[0].expires_at
    assert_consistent(member, other)


def test_a_transfer_never_overdraws(member, other):
    earn(member, 10)

    with pytest.raises(DomainError) as refused:
        services.points_transfer(sender=member, recipient=other, points=11, idempotency_key=key("transfer"),
                                 actor="test")

    assert refused.value.code == "insufficient_points"
    assert balances(member) == (10, 0, 0) and balances(other) == (0, 0, 0)


def test_an_adjustment_needs_a_reason_and_never_overdraws(member):
    with pytest.raises(DomainError):
        services.points_adjust(member=member, points=10, reason=" ", actor="user:1", idempotency_key=key("adj"))
    services.points_adjust(member=member, points=10, reason="goodwill", actor="user:1", idempotency_key=key("adj"))
    with pytest.raises(DomainError):
        services.points_adjust(member=member, points=-11, reason="typo", actor="user:1", idempotency_key=key("adj"))
    services.points_adjust(member=member, points=-10, reason="typo", actor="user:1", idempotency_key=key("adj"))

    assert balances(member) == (0, 0, 0)
    assert_consistent(member)


def test_locking_an_account_is_one_query(member, django_assert_num_queries):
    account(member)
    with django_assert_num_queries(1):
        (locked,) = services._lock_accounts(member)
    assert locked.member_id == member.pk


def test_a_member_without_an_account_gets_one_on_first_earn(member):
    account(member).delete()

    earn(member, 5)

    assert balances(member) == (5, 0, 0)


def test_every_lot_movement_is_recorded(member):
    earn(member, 100)
    spend(member, 40)

    (lot,) = lots_of(member)
    assert lot.amount + sum(LotMovement.objects.filter(lot=lot).values_list("points", flat=True)) == lot.remaining

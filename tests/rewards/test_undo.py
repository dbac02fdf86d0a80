"""A member undoing a redemption they just made: their own, unused, within the program's window — and only once."""

from datetime import timedelta
from decimal import Decimal

import pytest

from ledger.models import LedgerEntry
from ledger.selectors import account_drift
from loyalty.errors import DomainError
from rewards.models import Redemption, Reward
from rewards.services import redemption_undo, reward_redeem, voucher_use
from tests.factories import MemberFactory

from .conftest import give_points

pytestmark = pytest.mark.django_db


def redeemed(member, reward, **extra) -> Redemption:
    return reward_redeem(member=member, reward=reward, actor="test", **extra)


def available(member) -> int:
    member.account.refresh_from_db()
    return member.account.available


def test_undo_gives_the_points_and_the_stock_back_and_says_who(member, tote):
    give_points(member, 500)
    redemption = redeemed(member, tote)

    undone = redemption_undo(redemption=redemption, member=member, now=redemption.issued_at + timedelta(minutes=1))

    assert undone.status == Redemption.Status.CANCELLED
    assert available(member) == 500
    tote.refresh_from_db()
    assert tote.stock_remaining == 5
    refund = LedgerEntry.objects.get(kind="refund")
    assert refund.points == 400 and undone.refund_transaction_id == refund.transaction_id
    last = undone.history.last()
    assert (last.from_status, last.to_status, last.reason) == ("issued", "cancelled", "undone by the member")
    assert last.actor == f"member:{member.pk}"  # a member without a portal login (enrolled at the till)
    assert account_drift(account=member.account) is None


@pytest.mark.parametrize(("after", "allowed"), [
    (timedelta(0), True),
    (timedelta(minutes=14, seconds=59), True),
    (timedelta(minutes=15), False),
    (timedelta(hours=3), False),
])
def test_the_window_is_the_programs_minutes_counted_from_the_redemption(member, coffee, after, allowed):
    give_points(member, 100)
    redemption = redeemed(member, coffee)

    if allowed:
        redemption_undo(redemption=redemption, member=member, now=redemption.issued_at + after)
        assert available(member) == 100
    else:
        with pytest.raises(DomainError) as refusal:
            redemption_undo(redemption=redemption, member=member, now=redemption.issued_at + after)
        assert refusal.value.code == "undo_window_closed" and refusal.value.status == 409
        redemption.refresh_from_db()
        assert redemption.status == Redemption.Status.ISSUED and available(member) == 50
        assert not LedgerEntry.objects.filter(kind="refund").exists()


def test_a_program_sets_its_own_window_and_zero_turns_undo_off(program, member, coffee):
    give_points(member, 200)
    program.redemption_undo_minutes = 60
    program.save(update_fields=["redemption_undo_minutes"])
    first = redeemed(member, coffee)
    redemption_undo(redemption=first, member=member, now=first.issued_at + timedelta(minutes=59))

    program.redemption_undo_minutes = 0
    program.save(update_fields=["redemption_undo_minutes"])
    second = redeemed(member, coffee)
    with pytest.raises(DomainError) as refusal:
        redemption_undo(redemption=second, member=member, now=second.issued_at)
    assert refusal.value.code == "undo_window_closed"


def test_a_used_voucher_cannot_be_undone(member, coffee):
    give_points(member, 100)
    redemption = redeemed(member, coffee)
    voucher_use(redemption=redemption, actor="api_key:1")

    with pytest.raises(DomainError) as refusal:
        redemption_undo(redemption=redemption, member=member, now=redemption.issued_at)

    assert refusal.value.code == "voucher_already_used"
    redemption.refresh_from_db()
    assert redemption.status == Redemption.Status.USED and available(member) == 50


def test_another_members_redemption_is_not_found_and_stays(program, member, coffee):
    give_points(member, 100)
    redemption = redeemed(member, coffee)
    other = MemberFactory(program=program)

    with pytest.raises(DomainError) as refusal:
        redemption_undo(redemption=redemption, member=other, now=redemption.issued_at)

    assert refusal.value.code == "voucher_not_found"
    redemption.refresh_from_db()
    assert redemption.status == Redemption.Status.ISSUED and available(member) == 50


def test_undoing_twice_gives_the_points_back_once(member, coffee):
    give_points(member, 100)
    redemption = redeemed(member, coffee)
    redemption_undo(redemption=redemption, member=member, now=redemption.issued_at)

    with pytest.raises(DomainError) as refusal:
        redemption_undo(redemption=redemption, member=member, now=redemption.issued_at)

    assert refusal.value.code == "voucher_not_usable"
    assert available(member) == 100
    assert LedgerEntry.objects.filter(kind="refund").count() == 1


def test_a_voucher_past_its_date_cannot_be_undone(member, coffee):
    give_points(member, 100)
    redemption = redeemed(member, coffee)
    Redemption.objects.filter(pk=redemption.pk).update(expires_at=redemption.issued_at + timedelta(minutes=1))

    with pytest.raises(DomainError) as refusal:
        redemption_undo(redemption=redemption, member=member, now=redemption.issued_at + timedelta(minutes=2))

    assert refusal.value.code == "voucher_not_usable" and available(member) == 50


def test_pay_with_points_gives_back_the_amount_chosen(program, member):
    reward = Reward.objects.create(program=program, code="POINTS-OFF", name="Points off", type="pay_with_points",
                                   points_min=100, points_max=1000, points_step=50, money_per_point=Decimal("0.01"))
    give_points(member, 700)
    redemption = redeemed(member, reward, points=350)
    assert available(member) == 350 and str(redemption.discount_amount) == "3.50"

    redemption_undo(redemption=redemption, member=member, now=redemption.issued_at)

    assert available(member) == 700


def test_an_undone_redemption_does_not_count_towards_the_limit(member, coffee):
    coffee.limit_per_member = 1
    coffee.save()
    give_points(member, 200)
    first = redeemed(member, coffee)
    redemption_undo(redemption=first, member=member, now=first.issued_at)

    assert redeemed(member, coffee).status == Redemption.Status.ISSUED

"""Undo racing the till (and itself) on PostgreSQL: real threads, real row locks; exactly one of them wins."""

import pytest

from ledger.models import LedgerEntry
from ledger.selectors import account_drift
from loyalty.errors import DomainError
from rewards.models import Redemption
from rewards.services import redemption_undo, reward_redeem, voucher_use
from tests.concurrency import run_together

from .conftest import give_points

pytestmark = pytest.mark.django_db(transaction=True)


def test_undo_and_use_at_the_till_at_once_one_wins_and_the_points_agree(member, coffee):
    give_points(member, 50 * 6)
    for _ in range(6):
        redemption = reward_redeem(member=member, reward=coffee, actor="test")

        outcomes = run_together([
            lambda r=redemption: redemption_undo(redemption=r, member=member),
            lambda r=redemption: voucher_use(redemption=r, actor="api_key:1"),
        ])

        (undo_status, undo_value), (use_status, use_value) = outcomes
        assert sorted([undo_status, use_status]) == ["error", "ok"], outcomes
        loser = undo_value if undo_status == "error" else use_value
        assert isinstance(loser, DomainError)
        assert loser.code in ("voucher_already_used", "voucher_not_usable")
        redemption.refresh_from_db()
        assert redemption.status == (Redemption.Status.CANCELLED if undo_status == "ok" else Redemption.Status.USED)

    cancelled = Redemption.objects.filter(status=Redemption.Status.CANCELLED).count()
    member.account.refresh_from_db()
    assert member.account.available == 50 * cancelled
    assert LedgerEntry.objects.filter(kind="refund").count() == cancelled
    assert account_drift(account=member.account) is None


def test_the_undo_button_pressed_twice_at_once_gives_the_points_back_once(member, coffee):
    give_points(member, 50)
    redemption = reward_redeem(member=member, reward=coffee, actor="test")

    outcomes = run_together([lambda: redemption_undo(redemption=redemption, member=member)] * 4)

    assert [status for status, _ in outcomes].count("ok") == 1
    assert {value.code for status, value in outcomes if status == "error"} == {"voucher_not_usable"}
    member.account.refresh_from_db()
    assert member.account.available == 50
    assert LedgerEntry.objects.filter(kind="refund").count() == 1

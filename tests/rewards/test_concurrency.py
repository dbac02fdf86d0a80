"""Redemptions racing on PostgreSQL: real threads, real row locks."""

import pytest

from ledger.models import LedgerEntry
from rewards.models import Redemption
from tests.concurrency import race
from tests.conftest import pos_client
from tests.factories import MemberFactory

from .conftest import give_points

pytestmark = pytest.mark.django_db(transaction=True)

URL = "/api/v1/pos/redemptions/"


def redeem_as(api_key, member, reward, key):
    return lambda: pos_client(api_key).post(URL, {"member": {"card_number": member.card_number}, "reward": reward},
                                            format="json", HTTP_IDEMPOTENCY_KEY=key)


def test_forty_redemptions_against_a_balance_for_ten_succeed_exactly_ten_times(api_key, member,
                                                                                coffee):
    give_points(member, 500)
    actions = [redeem_as(api_key, member, "FREE-COFFEE", f"key-{i}") for i in range(40)]

    responses = race(40, lambda: actions.pop()())

    codes = sorted(r.status_code for r in responses)
    assert codes == [201] * 10 + [422] * 30
    assert {r.json()["code"] for r in responses if r.status_code == 422} == {"insufficient_points"}
    member.account.refresh_from_db()
    assert member.account.available == 0
    assert Redemption.objects.count() == 10


def test_twenty_members_racing_for_five_in_stock_get_exactly_five(api_key, program, tote):
    members = [MemberFactory(program=program) for _ in range(20)]
    for m in members:
        give_points(m, 400)
    actions = [redeem_as(api_key, m, "TOTE-BAG", f"key-{i}") for i, m in enumerate(members)]

    responses = race(20, lambda: actions.pop()())

    assert sorted(r.status_code for r in responses) == [201] * 5 + [409] * 15
    tote.refresh_from_db()
    assert tote.stock_remaining == 0
    assert LedgerEntry.objects.filter(kind="redeem").count() == 5


def test_the_same_idempotency_key_racing_redeems_once(api_key, member, coffee):
    give_points(member, 500)

    responses = race(15, redeem_as(api_key, member, "FREE-COFFEE", "one-key"))

    assert sorted(r.status_code for r in responses).count(201) == 1
    assert {r.status_code for r in responses} <= {200, 201, 409}
    assert len({r.json()["id"] for r in responses if r.status_code in (200, 201)}) == 1
    assert Redemption.objects.count() == 1
    member.account.refresh_from_db()
    assert member.account.available == 450


def test_a_per_member_limit_holds_under_concurrency(api_key, member, coffee):
    coffee.limit_per_member = 3
    coffee.save()
    give_points(member, 1000)
    actions = [redeem_as(api_key, member, "FREE-COFFEE", f"key-{i}") for i in range(12)]

    responses = race(12, lambda: actions.pop()())

    assert sorted(r.status_code for r in responses) == [201] * 3 + [422] * 9
    assert Redemption.objects.count() == 3

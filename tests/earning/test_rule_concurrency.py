"""Caps, first purchases and referral bonuses hold when one member's purchases race (PostgreSQL row locks)."""

import pytest

from earning.models import EarningRule, Purchase, RuleAward
from earning.services import earning_rule_create
from ledger.models import LedgerEntry, PointsAccount
from tests.concurrency import race
from tests.conftest import pos_client
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db(transaction=True)


def purchase(api_key, member, external_id):
    body = {"external_id": external_id, "member": {"card_number": member.card_number}, "currency": "EUR",
            "total": "10.00"}
    return lambda: pos_client(api_key).post("/api/v1/pos/purchases/", body, format="json")


def test_racing_purchases_never_exceed_a_cap_per_member(api_key, program, member):
    earning_rule_create(program=program, code="daily", name="Daily", effect={"kind": "fixed_bonus", "points": 30},
                        cap_per_member=100, cap_period="day")
    actions = [purchase(api_key, member, f"R-{i}") for i in range(10)]

    responses = race(10, lambda: actions.pop()())

    assert sorted(r.status_code for r in responses) == [201] * 10
    assert sum(RuleAward.objects.values_list("points", flat=True)) == 100
    assert PointsAccount.objects.get(member=member).available == 10 * 10 + 100


def test_racing_first_purchases_give_the_first_purchase_bonus_once(api_key, program, member):
    earning_rule_create(program=program, code="welcome", name="Welcome", effect={"kind": "fixed_bonus", "points": 50},
                        conditions=[{"kind": "first_purchase"}])
    actions = [purchase(api_key, member, f"R-{i}") for i in range(8)]

    race(8, lambda: actions.pop()())

    assert Purchase.objects.count() == 8
    assert [p.breakdown for p in Purchase.objects.all()].count(
        [{"rule": "base", "points": 10}, {"rule": "welcome", "points": 50}]) == 1


def test_racing_first_purchases_of_a_referee_pay_the_referral_once(api_key, program, store, member):
    earning_rule_create(program=program, code="refer", name="Refer", effect={"kind": "fixed_bonus", "points": 200},
                        applies_to=EarningRule.AppliesTo.REFERRAL)
    referee = MemberFactory(program=program, store=store, email="friend@example.com",
                            referral_code=member.referral_code)
    actions = [purchase(api_key, referee, f"R-{i}") for i in range(8)]

    race(8, lambda: actions.pop()())

    assert list(LedgerEntry.objects.filter(kind="bonus", account__member=member).values_list("points", flat=True)) == [
        200]
    assert LedgerEntry.objects.filter(kind="bonus", account__member=referee).count() == 1

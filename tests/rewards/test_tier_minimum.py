from rewards.models import Reward
from tiers.services import tier_assign, tier_define

from .conftest import give_points, redeem


def test_a_reward_with_a_tier_minimum_needs_that_tier_or_above(pos, member, program):
    tier_define(program=program, code="bronze", name="Bronze", rank=1, threshold=0)
    gold = tier_define(program=program, code="gold", name="Gold", rank=3, threshold=2000, multiplier="1.5")
    platinum = tier_define(program=program, code="platinum", name="Platinum", rank=4, threshold=5000)
    Reward.objects.create(program=program, code="GOLD-LOUNGE", name="Gold lounge", points_cost=100, min_tier=gold)
    give_points(member, 300)

    refused = redeem(pos, member, "GOLD-LOUNGE", key="a")
    listed = pos.get("/api/v1/pos/rewards/", {"member": member.card_number}).json()["results"][0]
    tier_assign(member=member, tier=platinum, reason="test", actor="test")
    allowed = redeem(pos, member, "GOLD-LOUNGE", key="b")

    assert refused.status_code == 422 and refused.json()["code"] == "tier_required"
    assert (listed["redeemable"], listed["reason"]) == (False, "tier_required")
    assert allowed.status_code == 201
    member.account.refresh_from_db()
    assert member.account.available == 200


def test_tier_required_comes_before_insufficient_points(pos, member, program):
    gold = tier_define(program=program, code="gold", name="Gold", rank=3, threshold=2000)
    Reward.objects.create(program=program, code="GOLD-LOUNGE", name="Gold lounge", points_cost=100, min_tier=gold)

    assert redeem(pos, member, "GOLD-LOUNGE").json()["code"] == "tier_required"

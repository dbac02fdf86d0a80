from datetime import timedelta

from django.utils import timezone

from rewards.models import Reward

from .conftest import give_points


def test_lists_active_rewards_with_stock(pos, coffee, tote, program):
    Reward.objects.create(program=program, code="OLD", name="Retired", points_cost=10, is_active=False)

    response = pos.get("/api/v1/pos/rewards/")

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2 and body["next"] is None
    rows = {row["code"]: row for row in body["results"]}
    assert rows["FREE-COFFEE"]["stock_remaining"] is None
    assert rows["TOTE-BAG"]["stock_remaining"] == 5 and rows["TOTE-BAG"]["points_cost"] == 400
    assert "redeemable" not in rows["FREE-COFFEE"]


def test_for_a_member_each_reward_says_why_it_is_or_is_not_redeemable(pos, member, coffee, tote, program):
    give_points(member, 100)
    Reward.objects.create(program=program, code="SOON", name="Soon", points_cost=10,
                          available_from=timezone.now() + timedelta(days=2))
    Reward.objects.create(program=program, code="GONE", name="Gone", points_cost=10, stock_remaining=0)

    response = pos.get("/api/v1/pos/rewards/", {"member": member.card_number})

    reasons = {row["code"]: (row["redeemable"], row["reason"]) for row in response.json()["results"]}
    assert reasons == {
        "FREE-COFFEE": (True, None),
        "TOTE-BAG": (False, "insufficient_points"),
        "SOON": (False, "reward_not_available"),
        "GONE": (False, "out_of_stock"),
    }


def test_limits_show_in_the_list(pos, member, coffee):
    from .conftest import redeem

    coffee.limit_per_member = 1
    coffee.save()
    give_points(member, 200)
    redeem(pos, member, "FREE-COFFEE")

    row = pos.get("/api/v1/pos/rewards/", {"member": member.card_number}).json()["results"][0]

    assert (row["redeemable"], row["reason"]) == (False, "limit_reached")


def test_unknown_member_is_404_and_a_malformed_card_is_400(pos, coffee):
    assert pos.get("/api/v1/pos/rewards/", {"member": "9000000000000001"}).status_code in (400, 404)
    assert pos.get("/api/v1/pos/rewards/", {"member": "12"}).status_code == 400


def test_another_programs_rewards_are_not_listed(other_pos, coffee):
    assert other_pos.get("/api/v1/pos/rewards/").json()["count"] == 0

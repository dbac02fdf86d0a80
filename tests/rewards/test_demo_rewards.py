from programs.demo import demo_seed
from tests.conftest import pos_client

KEY = "demo-pos-key-0001"


def test_the_demo_program_has_the_contracts_rewards(db):
    demo_seed(api_key=KEY)
    pos = pos_client(KEY)
    member = pos.post("/api/v1/pos/members/", {"email": "new@example.com"}, format="json").json()
    pos.post("/api/v1/pos/purchases/", {"external_id": "R-1", "member": {"id": member["id"]}, "currency": "EUR",
                                       "total": "120.00"}, format="json")

    rows = pos.get("/api/v1/pos/rewards/", {"member": member["card_number"]}).json()["results"]

    by_code = {row["code"]: row for row in rows}
    assert {code: (r["points_cost"], r["stock_remaining"]) for code, r in by_code.items()} == {
        "FREE-COFFEE": (50, None), "TOTE-BAG": (400, 5), "GOLD-LOUNGE": (100, None)}
    assert (by_code["FREE-COFFEE"]["redeemable"], by_code["FREE-COFFEE"]["reason"]) == (True, None)
    assert by_code["TOTE-BAG"]["reason"] == "insufficient_points"
    assert by_code["GOLD-LOUNGE"]["reason"] == "tier_required"


def test_a_second_seed_leaves_reward_stock_as_it_is(db):
    from rewards.models import Reward

    demo_seed(api_key=KEY)
    Reward.objects.filter(code="TOTE-BAG").update(stock_remaining=2)

    demo_seed(api_key=KEY)

    assert Reward.objects.get(code="TOTE-BAG").stock_remaining == 2
    assert Reward.objects.count() == 3

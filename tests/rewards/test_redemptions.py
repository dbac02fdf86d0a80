from datetime import timedelta

import pytest
from django.utils import timezone

from ledger.models import LedgerEntry
from rewards.models import Redemption, Reward
from tests.factories import MemberFactory

from .conftest import give_points, redeem


def balance(member):
    member.account.refresh_from_db()
    return member.account.spendable


def test_redeeming_spends_points_and_issues_a_voucher(pos, member, coffee):
    give_points(member, 120)

    response = redeem(pos, member, "FREE-COFFEE")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["reward"] == {"code": "FREE-COFFEE", "name": "Free coffee", "type": "product_voucher"}
    assert body["points_spent"] == 50 and body["status"] == "issued"
    assert body["balance"] == {"available": 70, "pending": 0}
    assert len(body["voucher_code"]) == 10
    assert LedgerEntry.objects.get(kind="redeem").points == -50
    redemption = Redemption.objects.get()
    assert [(h.from_status, h.to_status) for h in redemption.history.all()] == [("", "issued")]


def test_reward_code_is_case_insensitive(pos, member, coffee):
    give_points(member, 50)

    assert redeem(pos, member, "free-coffee").status_code == 201


def test_not_enough_points_is_422_and_moves_nothing(pos, member, coffee):
    give_points(member, 49)

    response = redeem(pos, member, "FREE-COFFEE")

    assert response.status_code == 422
    problem = response.json()
    assert problem["code"] == "insufficient_points"
    assert problem["detail"] == "Reward costs 50 points; 49 available."
    assert balance(member) == 49 and Redemption.objects.count() == 0


def test_unknown_or_inactive_reward_is_404(pos, member, coffee):
    give_points(member, 100)
    coffee.is_active = False
    coffee.save()

    assert redeem(pos, member, "FREE-COFFEE").json()["code"] == "reward_not_found"
    assert redeem(pos, member, "NOPE", key="key-2").status_code == 404
    assert balance(member) == 100


def test_suspended_member_cannot_redeem(pos, member, coffee):
    give_points(member, 100)
    member.status = "suspended"
    member.save()

    response = redeem(pos, member, "FREE-COFFEE")

    assert response.status_code == 409 and response.json()["code"] == "member_suspended"


def test_reward_outside_its_window_is_not_available(pos, member, coffee):
    give_points(member, 100)
    coffee.available_from = timezone.now() + timedelta(days=1)
    coffee.save()

    response = redeem(pos, member, "FREE-COFFEE")

    assert response.status_code == 422 and response.json()["code"] == "reward_not_available"
    assert balance(member) == 100


def test_per_member_limit_is_enforced_per_period(pos, member, coffee):
    give_points(member, 500)
    coffee.limit_per_member, coffee.limit_period = 2, Reward.Period.DAY
    coffee.save()

    statuses = [redeem(pos, member, "FREE-COFFEE", key=f"k{i}").status_code for i in range(3)]

    assert statuses == [201, 201, 422]
    assert redeem(pos, member, "FREE-COFFEE", key="k9").json()["code"] == "limit_reached"
    assert balance(member) == 400


def test_zero_stock_is_out_of_stock(pos, member, tote):
    give_points(member, 1000)
    tote.stock_remaining = 0
    tote.save()

    response = redeem(pos, member, "TOTE-BAG")

    assert response.status_code == 409 and response.json()["code"] == "out_of_stock"
    assert balance(member) == 1000


def test_stock_goes_down_with_each_redemption(pos, member, tote):
    give_points(member, 1000)

    redeem(pos, member, "TOTE-BAG", key="a")
    redeem(pos, member, "TOTE-BAG", key="b")

    tote.refresh_from_db()
    assert tote.stock_remaining == 3


def test_refusal_order_follows_the_contract(pos, member, tote):
    """Out of stock and not enough points: out_of_stock is answered first."""
    tote.stock_remaining = 0
    tote.save()

    assert redeem(pos, member, "TOTE-BAG").json()["code"] == "out_of_stock"


def test_member_of_another_program_is_not_found(other_pos, member, coffee):
    give_points(member, 100)

    response = redeem(other_pos, member, "FREE-COFFEE")

    assert response.status_code == 404  # the reward is not in that program either
    assert balance(member) == 100


def test_a_negative_balance_blocks_redeeming(pos, member, coffee):
    from ledger.services import points_reverse_return, points_spend

    give_points(member, 100)
    points_spend(member=member, points=100, idempotency_key="s", source_type="test", actor="test")
    points_reverse_return(member=member, points=30, idempotency_key="r", source_type="test", actor="test",
                          from_lots=[])
    give_points(member, 60)  # pays the 30 of debt first: 30 spendable

    assert balance(member) == 30
    assert redeem(pos, member, "FREE-COFFEE").json()["code"] == "insufficient_points"


class TestIdempotencyKey:
    def test_missing_key_is_400(self, pos, member, coffee):
        give_points(member, 100)

        response = redeem(pos, member, "FREE-COFFEE", key=None)

        assert response.status_code == 400
        assert response.json()["code"] == "invalid"
        assert response.json()["errors"][0]["field"] == "Idempotency-Key"
        assert balance(member) == 100

    def test_too_long_key_is_400(self, pos, member, coffee):
        assert redeem(pos, member, "FREE-COFFEE", key="k" * 256).status_code == 400

    def test_same_key_and_body_replays(self, pos, member, coffee):
        give_points(member, 100)

        first = redeem(pos, member, "FREE-COFFEE")
        second = redeem(pos, member, "FREE-COFFEE")

        assert second.status_code == 200 and second["Idempotent-Replayed"] == "true"
        assert second.json() == first.json()
        assert Redemption.objects.count() == 1 and balance(member) == 50

    def test_same_key_with_another_body_is_422(self, pos, member, coffee, tote):
        give_points(member, 1000)
        redeem(pos, member, "FREE-COFFEE")

        response = redeem(pos, member, "TOTE-BAG")

        assert response.status_code == 422 and response.json()["code"] == "idempotency_key_reused"
        assert Redemption.objects.count() == 1

    def test_a_refusal_is_stored_and_replayed(self, pos, member, coffee):
        give_points(member, 10)
        refused = redeem(pos, member, "FREE-COFFEE")
        give_points(member, 100)

        again = redeem(pos, member, "FREE-COFFEE")

        assert refused.status_code == again.status_code == 422
        assert again["Idempotent-Replayed"] == "true"
        assert Redemption.objects.count() == 0

    def test_a_400_is_not_stored_so_the_fixed_request_can_reuse_the_key(self, pos, member, coffee):
        give_points(member, 100)
        bad = pos.post("/api/v1/pos/redemptions/", {"member": {"card_number": member.card_number}},
                       format="json", HTTP_IDEMPOTENCY_KEY="key-1")

        fixed = redeem(pos, member, "FREE-COFFEE")

        assert bad.status_code == 400 and fixed.status_code == 201

    def test_keys_are_scoped_to_the_store(self, pos, member, coffee, program):
        from tests.conftest import pos_client
        from tests.factories import StoreFactory, api_key_for

        give_points(member, 100)
        other_store = pos_client(api_key_for(StoreFactory(program=program, code="DEMO-002")))

        assert redeem(pos, member, "FREE-COFFEE").status_code == 201
        assert redeem(other_store, member, "FREE-COFFEE").status_code == 201
        assert balance(member) == 0


def test_bad_bodies_are_400(pos, member, coffee):
    give_points(member, 100)
    for body in ({}, {"member": {"card_number": member.card_number}}, {"reward": "FREE-COFFEE"},
                 {"member": {"card_number": member.card_number}, "reward": "FREE-COFFEE", "points": 10}):
        response = pos.post("/api/v1/pos/redemptions/", body, format="json", HTTP_IDEMPOTENCY_KEY=str(body))
        assert response.status_code == 400, (body, response.json())
    assert balance(member) == 100


def test_pay_with_points_converts_points_into_a_discount(pos, member, program):
    Reward.objects.create(program=program, code="PAY", name="Pay with points", type="pay_with_points",
                          points_min=100, points_max=1000, points_step=50, money_per_point="0.01")
    give_points(member, 600)

    ok = redeem(pos, member, "PAY", points=250)
    off_step = redeem(pos, member, "PAY", key="k2", points=260)
    too_many = redeem(pos, member, "PAY", key="k3", points=1050)
    missing = redeem(pos, member, "PAY", key="k4")

    assert ok.status_code == 201, ok.json()
    assert ok.json()["discount_amount"] == "2.50" and ok.json()["points_spent"] == 250
    assert [r.status_code for r in (off_step, too_many, missing)] == [400, 400, 400]
    assert off_step.json()["errors"][0]["field"] == "points"
    assert balance(member) == 350


def test_donations_are_complete_at_once_and_totalled_per_cause(pos, member, program):
    from rewards.selectors import donation_totals

    Reward.objects.create(program=program, code="TREES", name="Plant trees", type="donation", points_cost=100)
    give_points(member, 300)
    other = MemberFactory(program=program)
    give_points(other, 100)

    redeem(pos, member, "TREES", key="a")
    redeem(pos, member, "TREES", key="b")
    response = redeem(pos, other, "TREES", key="c")

    assert response.json()["status"] == "used"
    assert donation_totals(program=program) == [
        {"reward__code": "TREES", "reward__name": "Plant trees", "points": 300, "donations": 3}]
    assert donation_totals(program=program, member=member)[0]["points"] == 200


@pytest.mark.parametrize("header", ["Idempotency-Key", "idempotency-key"])
def test_header_name_is_case_insensitive(pos, member, coffee, header):
    give_points(member, 100)
    response = pos.post("/api/v1/pos/redemptions/", {"member": {"card_number": member.card_number},
                                                      "reward": "FREE-COFFEE"}, format="json",
                        headers={header: "abc"})

    assert response.status_code == 201


def test_a_voucher_code_already_taken_is_drawn_again(pos, member, coffee, monkeypatch):
    give_points(member, 200)
    assert redeem(pos, member, "FREE-COFFEE").status_code == 201
    taken = Redemption.objects.get().voucher_code
    draws = iter([taken, "ABCDEFGHJK"])
    monkeypatch.setattr("rewards.services.voucher_code_generate", lambda: next(draws))

    response = redeem(pos, member, "FREE-COFFEE", key="key-2")

    assert response.status_code == 201, response.json()
    assert response.json()["voucher_code"] == "ABCDEFGHJK"
    assert response.json()["balance"] == {"available": 100, "pending": 0}
    assert Redemption.objects.count() == 2 and balance(member) == 100

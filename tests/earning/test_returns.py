from decimal import Decimal

import pytest

from earning.models import Purchase, Return
from ledger.models import LedgerEntry
from ledger.services import points_spend

PURCHASES = "/api/v1/pos/purchases/"
RETURNS = "/api/v1/pos/returns/"


@pytest.fixture
def bought(pos, member):
    """Ada bought for 42.50 and earned 42 points."""
    body = {"external_id": "R-1001", "member": {"card_number": member.card_number}, "currency": "EUR",
            "total": "42.50"}
    assert pos.post(PURCHASES, body, format="json").status_code == 201
    return Purchase.objects.get(external_id="R-1001")


def give_back(pos, amount, external_id="RET-1", **extra):
    return pos.post(RETURNS, {"external_id": external_id, "purchase_external_id": "R-1001", "amount": amount,
                              **extra}, format="json")


def balance(member):
    member.account.refresh_from_db()
    return member.account.spendable


def test_return_reverses_points_in_proportion(pos, member, bought):
    response = give_back(pos, "10.00")

    assert response.status_code == 201, response.json()
    body = response.json()
    # keeps floor(42 × 32.50 / 42.50) = 32, so 10 go back
    assert body["points_reversed"] == 10
    assert body["balance"] == {"available": 32, "pending": 0}
    assert body["external_id"] == "RET-1"
    assert balance(member) == 32
    entry = LedgerEntry.objects.filter(kind="return").get()
    assert entry.points == -10


def test_rounding_is_down_on_what_the_member_keeps(pos, member, bought):
    # keeps floor(42 × 41.50 / 42.50) = floor(41.01) = 41 → 1 point back
    assert give_back(pos, "1.00").json()["points_reversed"] == 1
    # keeps floor(42 × 41.49 / 42.50) = floor(41.00) = 41 → nothing more yet
    assert give_back(pos, "0.01", external_id="RET-2").json()["points_reversed"] == 0
    assert balance(member) == 41


def test_partial_returns_add_up_to_the_same_as_one_whole_return(pos, member, bought):
    for index, amount in enumerate(["10.00", "12.25", "0.25", "20.00"]):
        assert give_back(pos, amount, external_id=f"RET-{index}").status_code == 201

    assert balance(member) == 0
    bought.refresh_from_db()
    assert bought.returned_total == Decimal("42.50")
    assert bought.points_reversed == 42


def test_returns_may_not_exceed_the_purchase_total(pos, member, bought):
    give_back(pos, "40.00")

    response = give_back(pos, "2.51", external_id="RET-2")

    assert response.status_code == 422
    assert response.json()["code"] == "return_exceeds_purchase"
    assert Return.objects.count() == 1
    assert balance(member) == 2


def test_unknown_purchase_is_not_found(pos, member, bought):
    response = pos.post(RETURNS, {"external_id": "RET-1", "purchase_external_id": "R-9999", "amount": "1.00"},
                        format="json")

    assert response.status_code == 404
    assert response.json()["code"] == "purchase_not_found"


def test_another_programs_purchase_is_not_found(other_pos, bought):
    response = other_pos.post(RETURNS, {"external_id": "RET-1", "purchase_external_id": "R-1001", "amount": "1"},
                              format="json")

    assert response.status_code == 404
    assert response.json()["code"] == "purchase_not_found"


def test_a_purchase_from_another_store_is_named_with_its_store_code(member, bought, program):
    from tests.conftest import pos_client
    from tests.factories import StoreFactory, api_key_for

    other_store = pos_client(api_key_for(StoreFactory(program=program, code="DEMO-002")))

    assert give_back(other_store, "10.00").status_code == 404
    response = give_back(other_store, "10.00", purchase_store="DEMO-001")
    assert response.status_code == 201, response.json()
    assert balance(member) == 32


def test_return_of_spent_points_takes_the_balance_below_zero_and_blocks_redeeming(pos, member, bought):
    points_spend(member=member, points=40, idempotency_key="spend-1", source_type="test", actor="test")

    response = give_back(pos, "42.50")

    assert response.status_code == 201
    assert response.json()["balance"]["available"] == -40
    with pytest.raises(Exception) as refused:
        points_spend(member=member, points=1, idempotency_key="spend-2", source_type="test", actor="test")
    assert getattr(refused.value, "code", None) == "insufficient_points"


def test_points_earned_later_pay_off_the_negative_balance_first(pos, member, bought):
    points_spend(member=member, points=40, idempotency_key="spend-1", source_type="test", actor="test")
    give_back(pos, "42.50")

    pos.post(PURCHASES, {"external_id": "R-1002", "member": {"card_number": member.card_number},
                         "currency": "EUR", "total": "100.00"}, format="json")

    assert balance(member) == 60


def test_same_return_replays_and_a_different_one_conflicts(pos, member, bought):
    first = give_back(pos, "10.00")
    again = give_back(pos, "10.0")
    other = give_back(pos, "11.00")

    assert again.status_code == 200 and again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert other.status_code == 409 and other.json()["code"] == "duplicate_external_id"
    assert balance(member) == 32


def test_a_return_may_share_its_external_id_with_a_purchase(pos, member, bought):
    assert give_back(pos, "10.00", external_id="R-1001").status_code == 201


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"purchase_external_id": "R-1001", "amount": "1.00"}, "external_id"),
        ({"external_id": "RET-1", "amount": "1.00"}, "purchase_external_id"),
        ({"external_id": "RET-1", "purchase_external_id": "R-1001", "amount": "0"}, "amount"),
        ({"external_id": "RET-1", "purchase_external_id": "R-1001", "amount": "1.234"}, "amount"),
        ({"external_id": "RET 1", "purchase_external_id": "R-1001", "amount": "1.00"}, "external_id"),
    ],
)
def test_bad_returns_are_400_and_move_no_points(pos, member, bought, body, field):
    response = pos.post(RETURNS, body, format="json")

    assert response.status_code == 400
    assert field in [e["field"] for e in response.json()["errors"]]
    assert balance(member) == 42 and Return.objects.count() == 0


def test_guest_purchase_can_be_returned_without_points(pos, db):
    pos.post(PURCHASES, {"external_id": "R-1001", "currency": "EUR", "total": "20.00"}, format="json")

    response = give_back(pos, "5.00")

    assert response.status_code == 201
    assert response.json()["points_reversed"] == 0 and response.json()["balance"] is None


def test_a_malformed_store_code_is_a_400(pos, member, bought):
    response = give_back(pos, "1.00", purchase_store="DEMO\x00001")

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "purchase_store"

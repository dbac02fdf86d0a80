"""POST /api/v1/pos/events/: non-purchase activity earns through the same rules, exactly once."""

from datetime import timedelta

import pytest

from earning.models import Event, RuleAward
from ledger.models import LedgerEntry, LedgerTransaction
from loyalty.models import IdempotencyRecord
from tests.conftest import pos_client

from .support import EVENTS, NOW, available, buy, event

pytestmark = pytest.mark.usefixtures("clock")


@pytest.fixture
def hotel_rules(make_rule):
    make_rule("nights", {"kind": "per_unit", "points": 100}, [{"kind": "event_type", "types": ["stay_night"]}],
              applies_to="event", priority=10)
    make_rule("suite", {"kind": "fixed_bonus", "points": 50},
              [{"kind": "event_type", "types": ["stay_night"]}, {"kind": "attribute", "name": "room",
                                                                 "values": ["suite"]}],
              applies_to="event", priority=20)
    make_rule("review", {"kind": "fixed_bonus", "points": 25}, [{"kind": "event_type", "types": ["review_written"]}],
              applies_to="event")


def test_an_event_earns_through_the_event_rules(pos, member, store, hotel_rules):
    response = event(pos, member, external_id="STAY-1", quantity=3, attributes={"room": "suite", "floor": 4},
                     occurred_at="2026-03-03T22:00:00+01:00")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["external_id"] == "STAY-1"
    assert body["type"] == "stay_night"
    assert body["quantity"] == 3
    assert body["member"] == {"id": str(member.id), "card_number": member.card_number}
    assert body["breakdown"] == [{"rule": "nights", "points": 300}, {"rule": "suite", "points": 50}]
    assert body["points_awarded"] == 350
    assert body["balance"] == {"available": 350, "pending": 0}
    saved = Event.objects.get()
    assert str(saved.id) == body["id"]
    assert (saved.store, saved.member, saved.quantity, saved.attributes) == (store, member, 3, {"room": "suite",
                                                                                              "floor": 4})
    assert saved.points_awarded == 350
    entry = LedgerEntry.objects.get(account__member=member)
    assert (entry.kind, entry.points) == ("earn", 350)
    assert entry.transaction.idempotency_key == f"event:{store.pk}:STAY-1"
    assert RuleAward.objects.filter(member=member).count() == 2


def test_quantity_defaults_to_one(pos, member, hotel_rules):
    body = event(pos, member, kind="review_written").json()

    assert body["quantity"] == 1
    assert body["breakdown"] == [{"rule": "review", "points": 25}]
    assert available(member) == 25


def test_an_event_no_rule_rewards_is_recorded_with_no_points(pos, member, hotel_rules):
    response = event(pos, member, kind="newsletter_opened")

    assert response.status_code == 201
    assert response.json()["points_awarded"] == 0
    assert response.json()["breakdown"] == []
    assert Event.objects.get().points_awarded == 0
    assert not LedgerTransaction.objects.exists()


def test_event_types_are_read_in_lower_case(pos, member, hotel_rules):
    body = event(pos, member, kind="Review_Written").json()

    assert body["type"] == "review_written"
    assert body["points_awarded"] == 25


def test_purchase_rules_do_not_apply_to_events_nor_event_rules_to_purchases(pos, member, make_rule, hotel_rules):
    make_rule("purchase-bonus", {"kind": "fixed_bonus", "points": 5})

    assert event(pos, member, kind="review_written").json()["breakdown"] == [{"rule": "review", "points": 25}]
    assert buy(pos, member).json()["breakdown"] == [{"rule": "base", "points": 20},
                                                    {"rule": "purchase-bonus", "points": 5}]


def test_posting_the_same_event_again_replays_the_first_answer(pos, member, hotel_rules):
    first = event(pos, member, quantity=2)
    again = event(pos, member, quantity=2)

    assert first.status_code == 201
    assert again.status_code == 200
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert Event.objects.count() == 1
    assert available(member) == 200


def test_the_same_external_id_with_another_body_is_a_conflict(pos, member, hotel_rules):
    event(pos, member, quantity=2)

    response = event(pos, member, quantity=3)

    assert response.status_code == 409
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "duplicate_external_id"
    assert Event.objects.get().quantity == 2
    assert available(member) == 200


def test_external_ids_are_per_store_and_per_kind(pos, second_pos, member, hotel_rules):
    buy(pos, member, external_id="X-1")

    assert event(pos, member, external_id="X-1").status_code == 201
    assert event(second_pos, member, external_id="X-1").status_code == 201
    assert Event.objects.count() == 2
    assert available(member) == 20 + 100 + 100


@pytest.mark.parametrize(("body", "field"), [
    ({"member": None}, "member"),
    ({"member": {"card_number": "x", "email": "ada@example.com"}}, "member"),
    ({"external_id": ""}, "external_id"),
    ({"external_id": "has space"}, "external_id"),
    ({"external_id": "x" * 65}, "external_id"),
    ({"type": ""}, "type"),
    ({"type": "stay night"}, "type"),
    ({"type": "x" * 65}, "type"),
    ({"type": 7}, "type"),
    ({"quantity": 0}, "quantity"),
    ({"quantity": -1}, "quantity"),
    ({"quantity": "3"}, "quantity"),
    ({"quantity": 1.5}, "quantity"),
    ({"quantity": True}, "quantity"),
    ({"attributes": ["room"]}, "attributes"),
    ({"attributes": {"room": {"nested": 1}}}, "attributes"),
    ({"attributes": {"room": [1]}}, "attributes"),
    ({"attributes": {"room": "x" * 501}}, "attributes"),
    ({"attributes": {"": 1}}, "attributes"),
    ({"attributes": {"room": "a\x00b"}}, "attributes"),
    ({"attributes": {f"k{i}": i for i in range(51)}}, "attributes"),
    ({"attributes": {"big": 10**16}}, "attributes"),
    ({"occurred_at": "2026-03-04T12:00:00"}, "occurred_at"),
    ({"occurred_at": "yesterday"}, "occurred_at"),
    ({"occurred_at": (NOW + timedelta(minutes=6)).isoformat()}, "occurred_at"),
])
def test_bad_input_is_a_400_that_changes_nothing(pos, member, hotel_rules, body, field):
    request = {"external_id": "E-1", "member": {"card_number": member.card_number}, "type": "stay_night",
               **body}
    if body.get("member", "") is None:
        del request["member"]

    response = pos.post(EVENTS, request, format="json")

    assert response.status_code == 400, response.json()
    problem = response.json()
    assert problem["code"] == "invalid"
    assert field in [error["field"] for error in problem["errors"]]
    assert not Event.objects.exists()
    assert not IdempotencyRecord.objects.exists()
    assert not LedgerTransaction.objects.exists()


def test_a_400_is_not_stored_so_the_fixed_request_goes_through(pos, member, hotel_rules):
    assert event(pos, member, quantity=0).status_code == 400

    assert event(pos, member, quantity=1).status_code == 201


def test_a_member_of_another_program_is_not_found(other_pos, member, hotel_rules):
    response = event(other_pos, member)

    assert response.status_code == 404
    assert response.json()["code"] == "member_not_found"
    assert not Event.objects.exists()


def test_a_suspended_member_cannot_earn_from_events(pos, member, hotel_rules):
    member.status = "suspended"
    member.save(update_fields=["status"])

    response = event(pos, member)

    assert response.status_code == 409
    assert response.json()["code"] == "member_suspended"
    assert not Event.objects.exists()
    assert not LedgerTransaction.objects.exists()


def test_events_need_an_api_key(member, hotel_rules):
    response = event(pos_client(None), member)

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_event_rules_read_the_store_and_time_of_the_event(pos, second_pos, member, make_rule):
    make_rule("airport-weekend", {"kind": "fixed_bonus", "points": 40},
              [{"kind": "store", "stores": ["AIRPORT-2"]}, {"kind": "day_of_week", "days": ["sat", "sun"]}],
              applies_to="event")

    assert event(second_pos, member, external_id="E-SAT", occurred_at="2026-02-28T10:00:00Z").json()[
        "points_awarded"] == 40
    assert event(second_pos, member, external_id="E-WED").json()["points_awarded"] == 0
    assert event(pos, member, external_id="E-SAT-2", occurred_at="2026-02-28T10:00:00Z").json()[
        "points_awarded"] == 0


def test_the_events_endpoint_is_in_the_api_schema(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()

    assert "/api/v1/pos/events/" in schema["paths"]

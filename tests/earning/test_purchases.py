from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from earning.models import Purchase
from ledger.models import LedgerEntry, PointsLot
from loyalty.models import IdempotencyRecord

URL = "/api/v1/pos/purchases/"


def purchase_body(member=None, reference=None, **overrides):
    body = {"external_id": "R-1001", "currency": "EUR", "total": "42.50",
            "lines": [{"sku": "LATTE", "category": "coffee", "quantity": 2, "unit_price": "4.50"}]}
    if member is not None:
        body["member"] = {"card_number": member.card_number}
    if reference is not None:
        body["member"] = reference
    body.update(overrides)
    return body


def post(pos, body, url=URL):
    return pos.post(url, body, format="json")


def test_purchase_earns_one_point_per_unit_rounded_down(pos, member):
    response = post(pos, purchase_body(member))

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["points_awarded"] == 42
    assert body["breakdown"] == [{"rule": "base", "points": 42}]
    assert body["member"] == {"id": str(member.id), "card_number": member.card_number}
    assert body["total"] == "42.50"
    assert body["balance"] == {"available": 42, "pending": 0}
    member.account.refresh_from_db()
    assert member.account.available == 42


def test_points_awarded_is_the_sum_of_the_breakdown(pos, member):
    body = post(pos, purchase_body(member, total="101.99")).json()

    assert body["points_awarded"] == sum(item["points"] for item in body["breakdown"]) == 101


@pytest.mark.parametrize("reference_key", ["id", "card_number", "email", "phone"])
def test_member_can_be_named_by_any_reference(pos, member, reference_key):
    value = {"id": str(member.id), "card_number": member.card_number, "email": "ADA@example.com",
             "phone": "+4915112345678"}[reference_key]

    response = post(pos, purchase_body(reference={reference_key: value}))

    assert response.status_code == 201, response.json()
    assert response.json()["member"]["id"] == str(member.id)


def test_points_stay_pending_for_the_programs_return_window(pos, member, program):
    program.pending_days = 14
    program.save()

    body = post(pos, purchase_body(member)).json()

    assert body["balance"] == {"available": 0, "pending": 42}
    lot = PointsLot.objects.get(account__member=member)
    assert lot.available_at == lot.earned_at + timedelta(days=14)


def test_points_expire_after_the_expiry_period_counted_from_occurred_at(pos, member):
    occurred = timezone.now() - timedelta(days=3)

    post(pos, purchase_body(member, occurred_at=occurred.isoformat()))

    lot = PointsLot.objects.get(account__member=member)
    assert lot.earned_at == occurred
    assert lot.expires_at == occurred + timedelta(days=365)
    entry = LedgerEntry.objects.get(account__member=member)
    assert entry.kind == "earn" and entry.expires_at == lot.expires_at


def test_same_external_id_and_body_replays_the_original_answer(pos, member):
    first = post(pos, purchase_body(member))
    second = post(pos, purchase_body(member, total="42.5"))  # the same amount, written differently

    assert second.status_code == 200
    assert second["Idempotent-Replayed"] == "true"
    assert second.json() == first.json()
    assert Purchase.objects.count() == 1
    member.account.refresh_from_db()
    assert member.account.available == 42


def test_same_external_id_with_another_body_is_a_conflict_and_changes_nothing(pos, member):
    post(pos, purchase_body(member))

    response = post(pos, purchase_body(member, total="43.00"))

    assert response.status_code == 409
    assert response.json()["code"] == "duplicate_external_id"
    assert Purchase.objects.count() == 1
    member.account.refresh_from_db()
    assert member.account.available == 42


def test_external_ids_are_per_store(pos, member, program):
    from tests.conftest import pos_client
    from tests.factories import StoreFactory, api_key_for

    other_store = pos_client(api_key_for(StoreFactory(program=program, code="DEMO-002")))

    assert post(pos, purchase_body(member)).status_code == 201
    assert post(other_store, purchase_body(member)).status_code == 201
    member.account.refresh_from_db()
    assert member.account.available == 84


def test_guest_purchase_earns_nothing_and_can_be_claimed_for_the_window(pos, program):
    response = post(pos, purchase_body())

    assert response.status_code == 201
    body = response.json()
    assert body["member"] is None and body["balance"] is None and body["tier"] is None
    assert body["points_awarded"] == 0
    purchase = Purchase.objects.get()
    assert purchase.claimable_until == purchase.occurred_at + timedelta(days=program.claim_window_days)
    assert LedgerEntry.objects.count() == 0


def test_suspended_member_cannot_earn(pos, member):
    member.status = "suspended"
    member.save()

    response = post(pos, purchase_body(member))

    assert response.status_code == 409
    assert response.json()["code"] == "member_suspended"
    assert Purchase.objects.count() == 0


def test_unknown_member_is_404_and_records_nothing(pos, db):
    response = post(pos, purchase_body(reference={"email": "nobody@example.com"}))

    assert response.status_code == 404
    assert response.json()["code"] == "member_not_found"
    assert Purchase.objects.count() == 0
    assert IdempotencyRecord.objects.count() == 0


def test_a_refused_purchase_can_be_retried_with_the_same_external_id(pos, member):
    post(pos, purchase_body(member, currency="USD"))

    assert post(pos, purchase_body(member)).status_code == 201


def test_member_of_another_program_is_not_found(other_pos, member):
    response = post(other_pos, purchase_body(member))

    assert response.status_code == 404
    assert response.json()["code"] == "member_not_found"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"external_id": ""}, "external_id"),
        ({"external_id": "has space"}, "external_id"),
        ({"external_id": "x" * 65}, "external_id"),
        ({"currency": "USD"}, "currency"),
        ({"currency": "EURO"}, "currency"),
        ({"total": "0"}, "total"),
        ({"total": "-5.00"}, "total"),
        ({"total": "12.505"}, "total"),
        ({"total": "1000000.01"}, "total"),
        ({"total": "lots"}, "total"),
        ({"total": True}, "total"),
        ({"occurred_at": "2026-11-22T10:00:00"}, "occurred_at"),
        ({"occurred_at": "yesterday"}, "occurred_at"),
        ({"lines": [{"sku": "A", "quantity": 0, "unit_price": "1.00"}]}, "lines.0.quantity"),
        ({"lines": [{"sku": "A", "quantity": "2", "unit_price": "1.00"}]}, "lines.0.quantity"),
        ({"lines": [{"quantity": 1, "unit_price": "1.00"}]}, "lines.0.sku"),
        ({"lines": [{"sku": "A", "quantity": 1, "unit_price": "1.001"}]}, "lines.0.unit_price"),
        ({"lines": "LATTE"}, "lines"),
        ({"reference": {"card_number": "1234"}}, "member.card_number"),
        ({"reference": {"card_number": "9000000000000001", "email": "a@b.c"}}, "member"),
        ({"reference": {}}, "member"),
        ({"reference": "ada@example.com"}, "member"),
    ],
)
def test_each_bad_field_answers_400_naming_it_and_moves_no_points(pos, member, overrides, field):
    response = post(pos, purchase_body(member, **overrides))

    assert response.status_code == 400, response.json()
    problem = response.json()
    assert response["Content-Type"] == "application/problem+json"
    assert problem["code"] == "invalid"
    assert field in [error["field"] for error in problem["errors"]]
    assert Purchase.objects.count() == 0
    assert LedgerEntry.objects.count() == 0


def test_a_purchase_dated_more_than_five_minutes_ahead_is_refused(pos, member):
    ahead = timezone.now() + timedelta(minutes=6)

    response = post(pos, purchase_body(member, occurred_at=ahead.isoformat()))

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "occurred_at"


def test_a_till_clock_a_little_ahead_is_tolerated(pos, member):
    ahead = timezone.now() + timedelta(minutes=4)

    assert post(pos, purchase_body(member, occurred_at=ahead.isoformat())).status_code == 201


def test_the_largest_total_is_accepted(pos, member):
    response = post(pos, purchase_body(member, total="1000000.00"))

    assert response.status_code == 201
    assert response.json()["points_awarded"] == 1_000_000


def test_preview_shows_what_a_purchase_would_earn_and_records_nothing(pos, member):
    body = purchase_body(member, total="101.99")
    del body["external_id"]

    response = post(pos, body, url=URL + "preview/")

    assert response.status_code == 200, response.json()
    assert response.json()["points_awarded"] == 101
    assert response.json()["breakdown"] == [{"rule": "base", "points": 101}]
    assert Purchase.objects.count() == 0 and LedgerEntry.objects.count() == 0


def test_preview_for_a_suspended_member_is_refused(pos, member):
    member.status = "suspended"
    member.save()

    response = post(pos, purchase_body(member), url=URL + "preview/")

    assert response.status_code == 409
    assert response.json()["code"] == "member_suspended"


def test_pending_points_become_available_when_released(pos, member, program):
    from ledger.services import account_release

    program.pending_days = 14
    program.save()
    post(pos, purchase_body(member))

    with time_machine.travel(timezone.now() + timedelta(days=14, seconds=1)):
        account_release(member=member)

    member.account.refresh_from_db()
    assert (member.account.available, member.account.pending) == (42, 0)


def test_money_is_kept_exactly(pos, member):
    post(pos, purchase_body(member, total="0.10"))
    post(pos, purchase_body(member, external_id="R-1002", total="0.20"))

    assert sum(Purchase.objects.values_list("total", flat=True)) == Decimal("0.30")


def test_a_member_without_an_account_earns_into_a_new_one(pos, member):
    from ledger.models import PointsAccount

    PointsAccount.objects.filter(member=member).delete()  # as for a member enrolled before accounts existed

    response = post(pos, purchase_body(member))

    assert response.status_code == 201, response.json()
    assert response.json()["balance"] == {"available": 42, "pending": 0}
    assert PointsAccount.objects.get(member=member).available == 42

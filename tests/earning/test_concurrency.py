"""Tills retry, and retries race. These tests post the same request from many
threads at once against PostgreSQL (real row locks) and count what landed."""


import pytest

from earning.models import Purchase
from ledger.models import LedgerEntry
from tests.concurrency import race
from tests.conftest import pos_client

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]


def test_twenty_identical_purchase_posts_credit_points_once(requires_postgres, api_key, member):
    body = {"external_id": "R-RACE", "member": {"card_number": member.card_number}, "currency": "EUR",
            "total": "50.00"}

    responses = race(20, lambda: pos_client(api_key).post("/api/v1/pos/purchases/", body, format="json"))

    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(201) == 1
    assert set(statuses) <= {200, 201, 409}
    assert all(r.json()["code"] == "request_in_progress" for r in responses if r.status_code == 409)
    assert Purchase.objects.count() == 1
    assert LedgerEntry.objects.filter(kind="earn").count() == 1
    member.account.refresh_from_db()
    assert member.account.available == 50


def test_concurrent_partial_returns_never_exceed_the_purchase(requires_postgres, pos, api_key, member):
    pos.post("/api/v1/pos/purchases/", {"external_id": "R-1", "member": {"card_number": member.card_number},
                                       "currency": "EUR", "total": "100.00"}, format="json")

    def give_back(index):
        return lambda: pos_client(api_key).post("/api/v1/pos/returns/", {
            "external_id": f"RET-{index}", "purchase_external_id": "R-1", "amount": "30.00"}, format="json")

    actions = [give_back(i) for i in range(8)]
    responses = race(8, lambda: actions.pop()())

    assert sorted(r.status_code for r in responses) == [201] * 3 + [422] * 5
    member.account.refresh_from_db()
    assert member.account.available == 10

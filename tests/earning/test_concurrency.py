"""Tills retry, and retries race. These tests post the same request from many
threads at once against PostgreSQL (real row locks) and count what landed."""


import pytest

from earning.models import Purchase
from ledger.models import LedgerEntry
from tests.concurrency import race, results_of, run_together
from tests.conftest import pos_client

pytestmark = pytest.mark.django_db(transaction=True)


def test_twenty_identical_purchase_posts_credit_points_once(api_key, member):
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


def test_concurrent_partial_returns_never_exceed_the_purchase(pos, api_key, member):
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


def test_purchases_served_at_once_by_one_process_each_get_their_own_answer(api_key, program,
                                                                           store):
    """As a threaded web worker serves them: validation and answers share serializer instances per process
    (``programs.apis.PosApi``), and no request's data may reach another's answer."""
    from tests.factories import MemberFactory

    members = [MemberFactory(program=program, store=store) for _ in range(12)]

    def post(index, round_):
        member = members[index]
        total = f"{10 + index}.00"
        response = pos_client(api_key).post("/api/v1/pos/purchases/", {
            "external_id": f"T-{round_}-{index}", "member": {"card_number": member.card_number}, "currency": "EUR",
            "total": total, "lines": [{"sku": f"SKU-{index}", "quantity": 1, "unit_price": total}]}, format="json")
        return index, round_, response

    for round_ in range(3):
        calls = [lambda i=i, r=round_: post(i, r) for i in range(len(members))]
        for index, r, response in results_of(run_together(calls)):
            assert response.status_code == 201, response.content
            answer = response.json()
            assert answer["external_id"] == f"T-{r}-{index}"
            assert answer["member"]["card_number"] == members[index].card_number
            assert answer["total"] == f"{10 + index}.00"
            assert answer["points_awarded"] == 10 + index

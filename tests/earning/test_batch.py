from earning.models import Purchase

URL = "/api/v1/pos/purchases/batch/"


def item(member, external_id, total="10.00"):
    return {"external_id": external_id, "member": {"card_number": member.card_number}, "currency": "EUR",
            "total": total, "occurred_at": "2026-11-01T09:30:00Z"}


def test_each_item_is_handled_as_a_single_post_would_be(pos, member):
    pos.post("/api/v1/pos/purchases/", item(member, "OFF-2"), format="json")

    response = pos.post(URL, {"purchases": [
        item(member, "OFF-1"),
        item(member, "OFF-2"),             # already posted: replayed
        item(member, "OFF-2", total="11"),  # same id, other body: conflict
        {"external_id": "OFF-3", "currency": "EUR", "total": "x"},
        {"external_id": "OFF-4", "member": {"email": "nobody@example.com"}, "currency": "EUR", "total": "1"},
    ]}, format="json")

    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["status"] for r in results] == [201, 200, 409, 400, 404]
    assert [r["index"] for r in results] == [0, 1, 2, 3, 4]
    assert results[0]["body"]["points_awarded"] == 10
    assert results[1]["replayed"] is True
    assert results[2]["body"]["code"] == "duplicate_external_id"
    assert results[3]["body"]["errors"][0]["field"] == "total"
    assert results[4]["body"]["code"] == "member_not_found"
    assert Purchase.objects.count() == 2
    member.account.refresh_from_db()
    assert member.account.available == 20


def test_posting_the_same_batch_twice_earns_once(pos, member):
    batch = {"purchases": [item(member, f"OFF-{i}") for i in range(20)]}

    first = pos.post(URL, batch, format="json").json()["results"]
    second = pos.post(URL, batch, format="json").json()["results"]

    assert {r["status"] for r in first} == {201}
    assert {r["status"] for r in second} == {200}
    member.account.refresh_from_db()
    assert member.account.available == 200


def test_a_batch_over_500_or_empty_is_refused_whole(pos, member):
    too_many = pos.post(URL, {"purchases": [item(member, f"X-{i}") for i in range(501)]}, format="json")
    empty = pos.post(URL, {"purchases": []}, format="json")

    assert too_many.status_code == 400 and empty.status_code == 400
    assert too_many.json()["errors"][0]["field"] == "purchases"
    assert Purchase.objects.count() == 0

from programs.demo import demo_seed
from tests.conftest import pos_client

KEY = "demo-pos-key-0001"


def test_a_member_sees_how_far_the_next_tier_is(db):
    demo_seed(api_key=KEY)
    pos = pos_client(KEY)
    member = pos.post("/api/v1/pos/members/", {"email": "new@example.com"}, format="json").json()
    pos.post("/api/v1/pos/purchases/", {"external_id": "R-1", "member": {"id": member["id"]}, "currency": "EUR",
                                       "total": "120.00"}, format="json")

    response = pos.get(f"/api/v1/pos/members/{member['id']}/tier/")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["tier"] == {"code": "bronze", "name": "Bronze"}
    assert body["next_tier"] == {"code": "silver", "name": "Silver"}
    assert body["metric"] == "points"
    assert body["qualifying_value"] == 120
    assert body["needed_for_next"] == 380
    assert body["keep_by"] is None  # the demo program never downgrades


def test_another_programs_member_is_not_found(db, other_pos):
    demo_seed(api_key=KEY)
    member = pos_client(KEY).post("/api/v1/pos/members/", {"email": "new@example.com"}, format="json").json()

    response = other_pos.get(f"/api/v1/pos/members/{member['id']}/tier/")

    assert response.status_code == 404 and response.json()["code"] == "member_not_found"

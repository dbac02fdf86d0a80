from programs.demo import demo_seed
from tests.conftest import pos_client
from tiers.selectors import member_tier_get

KEY = "demo-pos-key-0001"


def test_points_earned_by_events_count_towards_tiers(db):
    from earning.services import earning_rule_create

    result = demo_seed(api_key=KEY)
    earning_rule_create(program=result.program, code="stay-night", name="Stay night", applies_to="event",
                        conditions=[{"kind": "event_type", "types": ["stay_night"]}],
                        effect={"kind": "per_unit", "points": 100})
    pos = pos_client(KEY)
    member = pos.post("/api/v1/pos/members/", {"email": "guest@example.com"}, format="json").json()

    response = pos.post("/api/v1/pos/events/", {"external_id": "STAY-1", "member": {"id": member["id"]},
                                               "type": "stay_night", "quantity": 5}, format="json")

    assert response.status_code == 201, response.json()
    assert response.json()["points_awarded"] == 500
    from members.models import Member

    assert member_tier_get(member=Member.objects.get(pk=member["id"])).code == "silver"

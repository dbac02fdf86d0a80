"""The demo program earns exactly as the contract's table says, across the silver and gold thresholds."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from tests.conftest import pos_client
from tiers.models import MemberTier, Tier, TierChange, TierPolicy

DEMO_KEY = "demo-pos-key-tiers-0001"
PURCHASES = "/api/v1/pos/purchases/"


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def demo(db, clock):
    call_command("seed_demo", "--api-key", DEMO_KEY, stdout=StringIO())
    pos = pos_client(DEMO_KEY)
    response = pos.post("/api/v1/pos/members/", {"email": "new.shopper@example.com"}, format="json")
    assert response.status_code == 201, response.json()
    return pos, response.json()


def buy(pos, member, total, external_id):
    response = pos.post(PURCHASES, {"external_id": external_id, "member": {"id": member["id"]}, "currency": "EUR",
                                    "total": total}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def test_seed_demo_creates_the_contract_tiers_once(demo):
    call_command("seed_demo", "--api-key", DEMO_KEY, stdout=StringIO())

    tiers = Tier.objects.filter(program__slug="demo").order_by("rank")
    assert [(t.code, t.threshold, t.multiplier) for t in tiers] == [
        ("bronze", 0, 1), ("silver", 500, 1.25), ("gold", 2000, 1.5)]
    policy = TierPolicy.objects.get(program__slug="demo")
    assert (policy.metric, policy.window, policy.window_months, policy.downgrade) == (
        "points", "rolling_months", 12, "never")


def test_a_new_member_is_bronze(demo):
    _, member = demo

    assert member["tier"] == {"code": "bronze", "name": "Bronze"}


def test_the_purchase_crossing_silver_earns_at_bronze_and_the_next_at_silver(demo):
    pos, member = demo

    assert buy(pos, member, "499.00", "R-1")["points_awarded"] == 499
    crossing = buy(pos, member, "10.00", "R-2")
    after = buy(pos, member, "10.00", "R-3")

    assert crossing["points_awarded"] == 10  # 509 points: silver from now on, but this purchase earns ×1.0
    assert crossing["tier"] == {"code": "silver", "name": "Silver"}
    assert after["points_awarded"] == 12  # floor(10 × 1.25)
    assert after["breakdown"] == [{"rule": "base", "points": 12}]
    shown = pos.get(f"/api/v1/pos/members/{member['id']}/").json()
    assert shown["tier"] == {"code": "silver", "name": "Silver"}


def test_a_gold_member_spending_101_99_earns_152(demo):
    pos, member = demo

    buy(pos, member, "500.00", "R-1")  # bronze → silver, earns 500
    buy(pos, member, "1200.00", "R-2")  # silver, earns 1500 → 2000 points: gold
    assert pos.get(f"/api/v1/pos/members/{member['id']}/").json()["tier"]["code"] == "gold"

    assert buy(pos, member, "101.99", "R-3")["points_awarded"] == 152


def test_each_upgrade_is_written_to_the_history(demo):
    pos, member = demo

    buy(pos, member, "600.00", "R-1")
    buy(pos, member, "1400.00", "R-2")  # 600 + 1750 points

    changes = TierChange.objects.filter(member_id=member["id"]).order_by("created_at", "id")
    assert [(c.from_tier.code, c.to_tier.code, c.cause) for c in changes] == [
        ("bronze", "silver", "upgrade"), ("silver", "gold", "upgrade")]
    assert changes[0].actor.startswith("api_key:")
    assert changes[1].qualifying_value == 2350


def test_qualifying_points_count_only_the_last_12_months_from_occurred_at(demo):
    pos, member = demo
    long_ago = timezone.now() - timedelta(days=400)
    response = pos.post(PURCHASES, {"external_id": "R-OLD", "member": {"id": member["id"]}, "currency": "EUR",
                                    "total": "450.00", "occurred_at": long_ago.isoformat()}, format="json")
    assert response.status_code == 201
    buy(pos, member, "100.00", "R-NEW")

    status = MemberTier.objects.get(member_id=member["id"])
    assert status.qualifying_value == 100
    assert status.tier.code == "bronze"

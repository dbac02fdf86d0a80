"""The demo program earns exactly as the contract's table says, whatever rules it carries besides."""

from io import StringIO

import pytest
from django.core.management import call_command

from earning.models import EarningRule
from members.models import Member
from tests.conftest import pos_client

from .support import PREVIEW, available, event

DEMO_KEY = "demo-pos-key-earning-0123456789"


@pytest.fixture
def demo_pos(db, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    call_command("seed_demo", "--api-key", DEMO_KEY, stdout=StringIO())
    return pos_client(DEMO_KEY)


def test_a_new_demo_member_starts_at_zero_and_earns_only_the_base_rule(demo_pos):
    enrolled = demo_pos.post("/api/v1/pos/members/", {"email": "new@example.com"}, format="json").json()
    assert enrolled["balance"] == {"available": 0, "pending": 0}  # no signup bonus on the demo program
    purchase = {"external_id": "R-1", "member": {"id": enrolled["id"]}, "currency": "EUR", "total": "101.99",
                "lines": [{"sku": "LATTE", "category": "coffee", "quantity": 2, "unit_price": "4.50"}]}

    preview = demo_pos.post(PREVIEW, purchase, format="json").json()
    body = demo_pos.post("/api/v1/pos/purchases/", purchase, format="json").json()

    assert preview["breakdown"] == body["breakdown"] == [{"rule": "base", "points": 101}]
    assert body["points_awarded"] == 101
    assert body["balance"] == {"available": 101, "pending": 0}


def test_no_demo_rule_touches_purchases_signups_or_referrals(demo_pos):
    assert not EarningRule.objects.filter(program__slug="demo", active=True,
                                          applies_to__in=["purchase", "signup", "referral"]).exists()


def test_an_event_no_demo_rule_rewards_earns_nothing(demo_pos):
    anna = Member.objects.get(program__slug="demo", email="anna.schmidt@example.com")
    before = available(anna)

    response = event(demo_pos, anna, external_id="E-1", kind="newsletter_opened")

    assert response.status_code == 201
    assert response.json()["points_awarded"] == 0
    assert available(anna) == before

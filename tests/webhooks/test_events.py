"""What each domain event tells an integrator."""

import pytest
from django.utils import timezone

from ledger.models import PointsAccount
from ledger.services import points_earn
from loyalty.events import announce
from rewards.models import Reward
from tests.factories import MemberFactory
from tiers.services import tier_define
from webhooks.events import points_expired_received
from webhooks.models import WebhookDelivery
from webhooks.services import webhook_deliver_due


def data_of(receiver, event_type):
    (request,) = receiver.of_type(event_type)
    body = request.json
    assert body["type"] == event_type and body["program"] == "coffee"
    return body["data"]


def test_member_enrolled(program, store, endpoint, receiver):
    member = MemberFactory(program=program, store=store, email="new@example.com", language="de")
    webhook_deliver_due()

    data = data_of(receiver, "member.enrolled")
    assert data["member"]["id"] == str(member.pk)
    assert (data["member"]["email"], data["member"]["language"]) == ("new@example.com", "de")


def test_points_earned_by_a_purchase_and_the_tier_it_reached(pos, program, member, endpoint, receiver):
    tier_define(program=program, code="base", name="Bean", rank=0, threshold=0)
    tier_define(program=program, code="gold", name="Gold", rank=1, threshold=50)

    response = pos.post("/api/v1/pos/purchases/", {"external_id": "R-9", "currency": "EUR", "total": "60.00",
                                                   "member": {"card_number": member.card_number}}, format="json")
    assert response.status_code == 201
    webhook_deliver_due()

    earned = data_of(receiver, "points.earned")
    assert earned["points"] == 60
    assert earned["source"]["type"] == "purchase" and earned["source"]["external_id"] == "R-9"
    assert earned["member"] == {"id": str(member.pk), "card_number": member.card_number}
    changed = data_of(receiver, "tier.changed")
    assert (changed["cause"], changed["to_tier"]["code"], changed["from_tier"]["code"]) == ("upgrade", "gold", "base")


def test_reward_redeemed_and_voucher_used(pos, program, member, endpoint, receiver):
    points_earn(member=member, points=100, idempotency_key="grant-1", source_type="test", actor="test")
    Reward.objects.create(program=program, code="FREE-COFFEE", name="Free coffee", points_cost=50)

    redeemed = pos.post("/api/v1/pos/redemptions/", {"member": {"card_number": member.card_number},
                                                     "reward": "FREE-COFFEE"}, format="json",
                        HTTP_IDEMPOTENCY_KEY="k-1")
    assert redeemed.status_code == 201, redeemed.content
    code = redeemed.json()["voucher_code"]
    used = pos.post(f"/api/v1/pos/vouchers/{code}/use/", {}, format="json")
    assert used.status_code == 200, used.content
    webhook_deliver_due()

    redemption = data_of(receiver, "reward.redeemed")
    assert (redemption["reward"]["code"], redemption["points"], redemption["voucher_code"]) == (
        "FREE-COFFEE", 50, code)
    voucher = data_of(receiver, "voucher.used")
    assert voucher["voucher_code"] == code and voucher["store"] == "DEMO-001"


def test_points_expired_is_published_for_each_account_of_an_expiry_run_once(program, store, endpoint, receiver):
    first = MemberFactory(program=program, store=store)
    second = MemberFactory(program=program, store=store)
    accounts = {a.member_id: a for a in PointsAccount.objects.filter(member__in=[first, second])}
    expired = [(accounts[first.pk], 30), (accounts[second.pk], 12), (accounts[second.pk], 0)]

    now = timezone.now()
    assert points_expired_received(None, expired=expired, run_key="expiry:2026-03-02", now=now) == 2
    assert points_expired_received(None, expired=expired, run_key="expiry:2026-03-02", now=now) == 0, \
        "a rerun of the same run"
    webhook_deliver_due()

    bodies = sorted((r.json["data"]["member"]["id"], r.json["data"]["points"])
                    for r in receiver.of_type("points.expired"))
    assert bodies == sorted([(str(first.pk), 30), (str(second.pk), 12)])
    assert WebhookDelivery.objects.filter(event_type="points.expired", status="succeeded").count() == 2


def test_an_unknown_event_type_is_refused_even_where_no_endpoint_listens(program, member):

    with pytest.raises(ValueError, match="unknown webhook event type"):
        announce(program=program, type="points.earnd", member=member, key="x", payload={"points": 1})
    assert not WebhookDelivery.objects.exists()

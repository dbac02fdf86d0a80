"""Anonymising a member wipes the person from the deliveries of their enrolment, replays included."""

import json

import pytest

from members.services import member_anonymise
from tests.factories import MemberFactory
from webhooks.models import WebhookDelivery
from webhooks.services import webhook_delivery_replay

pytestmark = pytest.mark.django_db


def test_the_enrolment_deliveries_keep_only_the_id_and_card(program, store, endpoint):
    member = MemberFactory(program=program, store=store, email="private@example.com", first_name="Private")
    other = MemberFactory(program=program, store=store, email="stays@example.com")
    original = WebhookDelivery.objects.get(event_type="member.enrolled", payload__data__member__id=str(member.pk))
    replay = webhook_delivery_replay(delivery=original, actor="test")

    member_anonymise(member=member)
    member.refresh_from_db()

    for delivery in (original, replay):
        delivery.refresh_from_db()
        assert delivery.payload["data"]["member"] == {"id": str(member.pk), "card_number": member.card_number}
        assert delivery.payload["type"] == "member.enrolled"
        assert "private@example.com" not in json.dumps(delivery.payload)
    kept = WebhookDelivery.objects.get(event_type="member.enrolled", payload__data__member__id=str(other.pk))
    assert kept.payload["data"]["member"]["email"] == "stays@example.com"

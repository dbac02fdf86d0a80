"""Bonuses (signup, referral, birthday) tell integrators and the member what they earned, once each."""

from datetime import date

from earning.services import birthday_bonus_grant, earning_rule_create, signup_bonus_grant
from loyalty.events import event_id_for
from notifications.models import Outbox
from notifications.services import outbox_message
from tests.factories import MemberFactory
from webhooks.models import WebhookDelivery
from webhooks.services import webhook_deliver_due


def earned():
    return WebhookDelivery.objects.filter(event_type="points.earned")


def test_a_signup_bonus_is_published_as_points_earned(program, store, endpoint, receiver):
    earning_rule_create(program=program, code="welcome", name="Welcome", effect={"kind": "fixed_bonus", "points": 100},
                        conditions=[], applies_to="signup")

    member = MemberFactory(program=program, store=store, email="new@example.com")
    assert signup_bonus_grant(member=member).replayed is True  # granted at enrolment; again: nothing
    webhook_deliver_due()

    (delivery,) = earned()
    assert delivery.event_id == event_id_for(program_id=program.pk, type="points.earned",
                                             key=f"bonus:signup:{member.pk}")
    (request,) = receiver.of_type("points.earned")
    data = request.json["data"]
    assert data["points"] == 100
    assert data["source"] == {"type": "signup", "id": str(member.pk), "description": "Signup bonus"}
    assert data["member"] == {"id": str(member.pk), "card_number": member.card_number}
    email = Outbox.objects.get(kind="points_earned", member=member)
    assert "you earned 100 points." in outbox_message(email).text


def test_a_birthday_bonus_is_published_once_a_year(program, store, endpoint):
    earning_rule_create(program=program, code="birthday", name="Birthday",
                        effect={"kind": "fixed_bonus", "points": 25}, conditions=[], applies_to="birthday")
    member = MemberFactory(program=program, store=store)

    birthday_bonus_grant(member=member, on=date(2026, 5, 1))
    birthday_bonus_grant(member=member, on=date(2026, 5, 1))

    (delivery,) = earned()
    assert delivery.payload["data"]["points"] == 25
    assert delivery.payload["data"]["source"]["type"] == "birthday"

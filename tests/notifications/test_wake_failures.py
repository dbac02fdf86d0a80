"""A purchase that committed answers 201 whatever happens to the wake-up of the email sender after the commit:
an unreachable broker is logged once per outage and the email waits in the outbox for the minute sweep."""

import logging

import pytest
from django.core import mail

from earning.models import Purchase
from loyalty import queue
from loyalty.celery import app
from notifications.models import Outbox
from notifications.services import outbox_send_due

pytestmark = pytest.mark.django_db(transaction=True)  # the wake-up runs when the request's transaction commits

PURCHASES = "/api/v1/pos/purchases/"
UNREACHABLE_BROKER = "redis://127.0.0.1:1/0"  # port 1: nothing listens there


@pytest.fixture
def with_broker(monkeypatch):
    """Tasks published to the broker, as in production (the autouse fixture restores eager mode)."""
    app.conf.task_always_eager = False
    monkeypatch.setattr(queue, "broker_outage", queue.RedisOutage("The broker's Redis", "emails wait",
                                                                  errors=queue.broker_outage.errors))


def purchase(pos, member, external_id):
    return pos.post(PURCHASES, {"external_id": external_id, "member": {"card_number": member.card_number},
                                "currency": "EUR", "total": "42.00"}, format="json")


def test_purchases_answer_201_while_the_broker_is_down_and_their_emails_go_out_with_the_sweep(
        pos, member, with_broker, monkeypatch, caplog):
    monkeypatch.setattr(queue, "wake_client", lambda: queue._redis_for(UNREACHABLE_BROKER))

    with caplog.at_level(logging.WARNING):
        answers = [purchase(pos, member, f"R-{n}") for n in range(3)]

    assert [answer.status_code for answer in answers] == [201, 201, 201]
    assert Purchase.objects.count() == 3
    assert sum("cannot be reached" in record.message for record in caplog.records) == 1  # once, not per call
    assert Outbox.objects.filter(kind="points_earned", status="pending").count() == 3
    outbox_send_due()
    assert len(mail.outbox) == 3


def test_a_purchase_answers_201_when_its_wake_up_fails_unexpectedly(pos, member, with_broker, monkeypatch, caplog):
    def broken():
        raise RuntimeError("a bug in the wake-up")

    monkeypatch.setattr(queue, "wake_client", broken)
    with caplog.at_level(logging.ERROR):
        answer = purchase(pos, member, "R-1")

    assert answer.status_code == 201, answer.content
    assert Purchase.objects.count() == 1
    assert "Wake('notifications:sender-wake')" in caplog.text  # logged by on_commit, naming the callback
    assert Outbox.objects.filter(kind="points_earned", status="pending").count() == 1

from datetime import timedelta

import time_machine
from django.utils import timezone

from ledger.services import lots_expire_due, lots_release_due, points_earn, points_spend
from webhooks.models import WebhookDelivery, WebhookEndpoint


def test_the_expiry_job_announces_what_each_member_lost_once(program, member, receiver):
    WebhookEndpoint.objects.create(program=program, url=receiver.url, events=["points.expired"])
    now = timezone.now()
    for index, points in enumerate((30, 12)):
        points_earn(member=member, points=points, idempotency_key=f"earn-{index}", source_type="test", actor="test",
                    expires_at=now + timedelta(days=10))

    with time_machine.travel(now + timedelta(days=11), tick=False):
        run_at = timezone.now()
        lots_expire_due(now=run_at)
        lots_expire_due(now=run_at)  # the same run again: nothing more to say

    deliveries = WebhookDelivery.objects.filter(event_type="points.expired")
    assert deliveries.count() == 1
    data = deliveries.get().payload["data"]
    assert data["points"] == 42
    assert data["member"]["id"] == str(member.id)


def test_without_a_subscriber_nothing_is_queued(program, member):
    points_earn(member=member, points=10, idempotency_key="e", source_type="test", actor="test",
                expires_at=timezone.now() - timedelta(seconds=1))

    lots_expire_due()

    assert WebhookDelivery.objects.count() == 0


def test_points_that_expire_as_the_member_earns_again_are_announced_once(program, member, receiver):
    WebhookEndpoint.objects.create(program=program, url=receiver.url, events=["points.expired"])
    now = timezone.now()
    points_earn(member=member, points=25, idempotency_key="old", source_type="test", actor="test",
                expires_at=now + timedelta(days=10))

    with time_machine.travel(now + timedelta(days=11), tick=False):
        # Before the daily job runs, a new earn catches the account up and expires the old lot.
        points_earn(member=member, points=5, idempotency_key="new", source_type="test", actor="test")
        points_earn(member=member, points=5, idempotency_key="new", source_type="test", actor="test")  # a replay
        lots_expire_due(now=timezone.now())  # finds nothing left to expire, so says nothing more

    deliveries = WebhookDelivery.objects.filter(event_type="points.expired")
    assert deliveries.count() == 1
    data = deliveries.get().payload["data"]
    assert data["points"] == 25
    assert data["member"]["id"] == str(member.id)
    member.account.refresh_from_db()
    assert member.account.available == 5


def test_points_that_expire_as_the_member_spends_are_announced(program, member, receiver):
    WebhookEndpoint.objects.create(program=program, url=receiver.url, events=["points.expired"])
    now = timezone.now()
    points_earn(member=member, points=40, idempotency_key="keeps", source_type="test", actor="test")
    points_earn(member=member, points=15, idempotency_key="lapses", source_type="test", actor="test",
                expires_at=now + timedelta(days=1))

    with time_machine.travel(now + timedelta(days=2), tick=False):
        points_spend(member=member, points=10, idempotency_key="spend", source_type="test", actor="test")

    (delivery,) = WebhookDelivery.objects.filter(event_type="points.expired")
    assert delivery.payload["data"]["points"] == 15


def test_points_the_release_job_finds_already_expired_are_announced_once(program, member, receiver):
    WebhookEndpoint.objects.create(program=program, url=receiver.url, events=["points.expired"])
    now = timezone.now()
    # Pending for 10 days, but expiring after 5: it never becomes available.
    points_earn(member=member, points=18, idempotency_key="short-lived", source_type="test", actor="test",
                available_at=now + timedelta(days=10), expires_at=now + timedelta(days=5))

    with time_machine.travel(now + timedelta(days=11), tick=False):
        lots_release_due(now=timezone.now())
        lots_expire_due(now=timezone.now())

    (delivery,) = WebhookDelivery.objects.filter(event_type="points.expired")
    assert delivery.payload["data"]["points"] == 18
    member.account.refresh_from_db()
    assert (member.account.available, member.account.pending) == (0, 0)

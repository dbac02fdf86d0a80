"""Deliveries: queued with the action, sent after commit, retried with backoff, then failed; replays."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.contrib.auth.models import Permission, User
from django.db import transaction
from django.utils import timezone

from loyalty.events import announce
from loyalty.queue import rows_claim
from tests.factories import MemberFactory, ProgramFactory
from tests.queues import sweep_at_each_retry
from webhooks import services
from webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from webhooks.services import BACKOFF, MAX_ATTEMPTS, webhook_deliver_due, webhook_delivery_replay

from .conftest import ALL_EVENTS

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


def publish(program, member, key="k-1"):
    return announce(program=program, type="points.earned", member=member, key=key,
                                payload={"points": 10, "source": {"type": "test"}})


def test_an_event_is_delivered_after_the_action_commits(program, store, endpoint, receiver,
                                                        django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        member = MemberFactory(program=program, store=store)

    (request,) = receiver.requests
    delivery = WebhookDelivery.objects.get()
    assert request.json["type"] == "member.enrolled"
    assert request.json["id"] == str(delivery.event_id)
    assert request.headers["X-Loyalty-Delivery"] == str(delivery.pk)
    assert (delivery.status, delivery.attempts, delivery.response_code) == ("succeeded", 1, 200)
    assert delivery.delivered_at is not None
    assert request.json["data"]["member"]["id"] == str(member.pk)


def test_nothing_is_queued_or_sent_for_a_rolled_back_action(program, store, endpoint, receiver,
                                                            django_capture_on_commit_callbacks):
    class Abort(Exception):
        pass

    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(Abort), transaction.atomic():
        MemberFactory(program=program, store=store)
        raise Abort

    assert callbacks == []
    assert not WebhookDelivery.objects.exists()
    webhook_deliver_due()
    assert receiver.requests == []


def test_only_active_endpoints_of_the_program_that_subscribe_to_the_event_get_it(program, member, receiver):
    wanted = WebhookEndpoint.objects.create(program=program, url=receiver.url + "/a", events=["points.earned"])
    WebhookEndpoint.objects.create(program=program, url=receiver.url + "/b", events=["voucher.used"])
    WebhookEndpoint.objects.create(program=program, url=receiver.url + "/c", events=ALL_EVENTS, active=False)
    WebhookEndpoint.objects.create(program=ProgramFactory(), url=receiver.url + "/d", events=ALL_EVENTS)

    publish(program, member)
    webhook_deliver_due()

    assert [r.path for r in receiver.requests] == ["/hooks/a"]
    assert WebhookDelivery.objects.get().endpoint == wanted


def test_the_same_event_published_twice_is_delivered_once(program, member, endpoint, receiver):
    first, second = publish(program, member, key="purchase:1"), publish(program, member, key="purchase:1")

    webhook_deliver_due()

    assert first == second
    assert len(receiver.requests) == 1


def test_an_unexpected_error_while_posting_costs_an_attempt_and_the_rest_of_the_batch_is_delivered(
        clock, program, member, receiver, monkeypatch, caplog):
    broken = WebhookEndpoint.objects.create(program=program, url=receiver.url + "broken", events=ALL_EVENTS)
    post, calls = services._post, []

    def post_failing_for_broken(*, url, body, headers):
        if url == broken.url:
            calls.append(timezone.now())
            raise ValueError("the address cannot be encoded")
        return post(url=url, body=body, headers=headers)

    monkeypatch.setattr(services, "_post", post_failing_for_broken)
    WebhookEndpoint.objects.create(program=program, url=receiver.url, events=ALL_EVENTS)
    publish(program, member)  # the broken endpoint's delivery comes first in the batch

    assert webhook_deliver_due() == {"succeeded": 1, "pending": 1, "failed": 0}
    assert len(receiver.requests) == 1
    delivery = WebhookDelivery.objects.get(endpoint=broken)
    assert (delivery.status, delivery.attempts, delivery.claimed_until) == ("pending", 1, None)
    assert delivery.next_attempt_at == timezone.now() + BACKOFF[0]
    assert delivery.last_error == "ValueError: the address cannot be encoded"
    assert f"webhook delivery {delivery.pk} to {broken.url}: unexpected error" in caplog.text

    sweep_at_each_retry(clock, sweep=webhook_deliver_due, backoff=BACKOFF, start=timezone.now())
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("failed", MAX_ATTEMPTS)
    assert len(calls) == MAX_ATTEMPTS


def test_a_failing_endpoint_is_retried_with_backoff_and_then_marked_failed(clock, program, member, endpoint,
                                                                           receiver):
    receiver.statuses = [500] * 10
    publish(program, member)

    webhook_deliver_due()
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.response_code) == ("pending", 1, 500)
    assert delivery.next_attempt_at == T0 + BACKOFF[0]
    assert delivery.response_body == "receiver says no"

    elapsed = timedelta(0)
    for attempt, wait in enumerate(BACKOFF, start=2):
        clock.move_to(T0 + elapsed + wait - timedelta(seconds=1))
        webhook_deliver_due()
        assert len(receiver.requests) == attempt - 1, "retried before its backoff was over"
        elapsed += wait
        clock.move_to(T0 + elapsed)
        webhook_deliver_due()
        assert len(receiver.requests) == attempt

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("failed", MAX_ATTEMPTS)
    assert delivery.last_error == "HTTP 500"
    assert WebhookAttempt.objects.filter(delivery=delivery).count() == MAX_ATTEMPTS
    clock.move_to(T0 + timedelta(days=3))
    webhook_deliver_due()
    assert len(receiver.requests) == MAX_ATTEMPTS


def test_an_endpoint_that_recovers_receives_the_retry(clock, program, member, endpoint, receiver):
    receiver.statuses = [503]
    publish(program, member)
    webhook_deliver_due()

    clock.move_to(T0 + BACKOFF[0])
    webhook_deliver_due()

    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.response_code, delivery.last_error) == (
        "succeeded", 2, 200, "")
    assert receiver.requests[0].body == receiver.requests[1].body
    assert [a.response_code for a in delivery.attempt_log.all()] == [503, 200]


def test_an_unreachable_endpoint_is_recorded_and_retried(program, member, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = True
    WebhookEndpoint.objects.create(program=program, url="http://127.0.0.1:9/nothing-listens", events=ALL_EVENTS)
    publish(program, member)

    webhook_deliver_due()

    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.response_code) == ("pending", None)
    assert "refused" in delivery.last_error.lower() or "error" in delivery.last_error.lower()


def test_a_slow_endpoint_times_out(program, member, endpoint, receiver, monkeypatch):
    monkeypatch.setattr(services, "TIMEOUT_SECONDS", 0.3)
    receiver.delay = 1.5
    publish(program, member)

    webhook_deliver_due()

    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "pending"
    assert "timed out" in delivery.last_error.lower()


def test_a_redirect_is_not_followed(program, member, endpoint, receiver):
    receiver.redirect_to = receiver.url + "/elsewhere"
    publish(program, member)

    webhook_deliver_due()

    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.response_code) == ("pending", 307)
    assert [r.path for r in receiver.requests] == ["/hooks"]


def test_a_worker_that_dies_after_claiming_leaves_the_delivery_to_be_reclaimed(clock, program, member, endpoint,
                                                                               receiver):
    publish(program, member)
    _, claimed = rows_claim(WebhookDelivery, now=timezone.now(), lease=services.LEASE)  # ...and the worker dies
    assert len(claimed) == 1

    webhook_deliver_due()
    assert receiver.requests == [], "claimed by a live lease"

    clock.move_to(T0 + services.LEASE + timedelta(seconds=1))
    webhook_deliver_due()
    webhook_deliver_due()

    assert len(receiver.requests) == 1
    assert WebhookDelivery.objects.get().status == "succeeded"


def test_a_replay_is_a_new_delivery_of_the_same_event(program, member, endpoint, receiver):
    receiver.statuses = [500] * 10
    publish(program, member)
    webhook_deliver_due()
    original = WebhookDelivery.objects.get()

    replay = webhook_delivery_replay(delivery=original, actor="user:1")
    webhook_deliver_due()

    replay.refresh_from_db()
    original.refresh_from_db()
    assert (replay.replay_of, replay.event_id, replay.payload) == (original, original.event_id, original.payload)
    assert (replay.status, replay.attempts) == ("pending", 1)
    assert original.attempts == 1, "the original keeps its own schedule and log"
    assert receiver.requests[0].json["id"] == receiver.requests[1].json["id"]
    assert receiver.requests[0].headers["X-Loyalty-Delivery"] != receiver.requests[1].headers["X-Loyalty-Delivery"]


def staff(*permissions) -> User:
    user = User.objects.create_user("support", password="pw-support-1234", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="webhooks", codename__in=permissions))
    return user


def test_staff_see_the_delivery_log(client, program, member, endpoint, receiver):
    receiver.statuses = [500]
    publish(program, member)
    webhook_deliver_due()
    delivery = WebhookDelivery.objects.get()
    client.force_login(staff("view_webhookdelivery"))

    listing = client.get("/admin/webhooks/webhookdelivery/")
    detail = client.get(f"/admin/webhooks/webhookdelivery/{delivery.pk}/change/")

    assert listing.status_code == detail.status_code == 200
    assert "points.earned" in listing.content.decode()
    assert "receiver says no" in detail.content.decode()
    assert "Replay selected" not in listing.content.decode(), "replaying needs its own permission"


def test_staff_with_the_permission_replay_from_the_admin(client, program, member, endpoint, receiver,
                                                         django_capture_on_commit_callbacks):
    publish(program, member)
    webhook_deliver_due()
    delivery = WebhookDelivery.objects.get()
    user = staff("view_webhookdelivery", "replay_webhookdelivery")
    client.force_login(user)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/admin/webhooks/webhookdelivery/",
                               {"action": "replay", "_selected_action": [delivery.pk]}, follow=True)

    assert response.status_code == 200
    assert "Queued 1 replay" in response.content.decode()
    replay = WebhookDelivery.objects.get(replay_of=delivery)
    assert (replay.status, replay.replayed_by) == ("succeeded", f"user:{user.pk}")
    assert len(receiver.requests) == 2


def test_an_endpoint_needs_known_event_types(program):
    from django.core.exceptions import ValidationError

    endpoint = WebhookEndpoint(program=program, url="https://example.com/hooks", events=["points.earned", "nope"])
    with pytest.raises(ValidationError):
        endpoint.full_clean()
    assert endpoint.secret.startswith("whsec_") and len(endpoint.secret) > 40

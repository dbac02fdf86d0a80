"""Handing deliveries to the workers: with a broker, a committing transaction wakes the delivery sweep at most
once, and not while a wake-up is on its way (no task per delivery); the woken sweep delivers them."""

import pytest
from django.conf import settings
from django.db import transaction

from loyalty.celery import app
from loyalty.events import announce
from loyalty.queue import wake_client
from tests.conftest import skip_unless
from tests.factories import MemberFactory
from webhooks import tasks
from webhooks.models import WebhookDelivery, WebhookEndpoint
from webhooks.services import WAKE_KEY, webhook_deliver_due

from .conftest import ALL_EVENTS


@pytest.fixture
def broker(monkeypatch):
    """The broker as in production (tasks published, not run here); answers the tasks published."""
    skip_unless(settings.CELERY_BROKER_URL.startswith("redis"), "needs the Redis broker (CELERY_BROKER_URL)")
    app.conf.task_always_eager = False  # the autouse fixture of tests/conftest.py restores it
    wake_client().delete(WAKE_KEY)
    published = []
    monkeypatch.setattr(tasks.deliver_due_webhooks, "delay", lambda: published.append("deliver_due_webhooks"))
    monkeypatch.setattr(tasks.deliver_webhook, "delay", lambda pk: published.append(f"deliver_webhook {pk}"))
    yield published
    wake_client().delete(WAKE_KEY)


@pytest.fixture
def member(program, store):
    return MemberFactory(program=program, store=store)  # enrolled before any endpoint exists: no delivery


def earned(program, member, key):
    announce(program=program, type="points.earned", member=member, key=key,
                         payload={"points": 10, "source": {"type": "test"}})


def test_one_wake_up_for_a_transaction_that_queues_for_several_endpoints(program, member, receiver, broker,
                                                                       django_capture_on_commit_callbacks):
    for path in ("a", "b"):
        WebhookEndpoint.objects.create(program=program, url=f"{receiver.url}/{path}", events=ALL_EVENTS)
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        earned(program, member, "k-1")
        earned(program, member, "k-2")

    assert WebhookDelivery.objects.count() == 4
    assert broker == ["deliver_due_webhooks"]


def test_no_wake_up_while_one_is_on_its_way_and_the_woken_sweep_delivers_everything(
        program, member, endpoint, receiver, broker, django_capture_on_commit_callbacks):
    for index in range(3):
        with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
            earned(program, member, f"k-{index}")
    assert broker == ["deliver_due_webhooks"]

    assert webhook_deliver_due()["succeeded"] == 3  # the woken worker
    assert len(receiver.of_type("points.earned")) == 3

    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        earned(program, member, "k-after")
    assert broker == ["deliver_due_webhooks", "deliver_due_webhooks"]  # the sweep started: woken again
    assert webhook_deliver_due()["succeeded"] == 1


def test_nothing_is_published_for_a_transaction_that_rolls_back(program, member, endpoint, broker,
                                                                django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError), transaction.atomic():
        earned(program, member, "k-1")
        raise RuntimeError("the action fails")

    assert broker == []
    assert not WebhookDelivery.objects.exists()


def test_no_program_has_no_endpoints(db):
    from webhooks.services import webhook_endpoints_by_program

    assert webhook_endpoints_by_program(program_ids=set()) == {}

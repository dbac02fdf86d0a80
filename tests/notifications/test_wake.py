"""Waking the sender: with a broker, a committing transaction publishes at most one wake-up, and none
while one is on its way; without a broker, each message is sent in-process as its transaction commits."""

import pytest
from django.conf import settings
from django.core import mail
from django.db import transaction

from loyalty.celery import app
from loyalty.queue import wake_client
from notifications import tasks
from notifications.models import Outbox
from notifications.services import WAKE_KEY, notification_enqueue, outbox_send_due
from tests.conftest import skip_unless


@pytest.fixture
def broker(monkeypatch):
    """The broker as in production (tasks published, not run here); answers the wake-ups published."""
    skip_unless(settings.CELERY_BROKER_URL.startswith("redis"), "needs the Redis broker (CELERY_BROKER_URL)")
    app.conf.task_always_eager = False  # the autouse fixture of tests/conftest.py restores it
    client = wake_client()
    client.delete(WAKE_KEY)
    published = []
    monkeypatch.setattr(tasks.send_due_emails, "delay", lambda: published.append("send_due_emails"))
    yield published
    client.delete(WAKE_KEY)


def earned(member, key, points=10):
    assert notification_enqueue(member=member, kind="points_earned", data={"points": points}, dedupe_key=key)


def test_a_transaction_queueing_several_emails_wakes_the_sender_once(broker, member,
                                                                     django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        earned(member, "earned:1")
        earned(member, "earned:2")

    assert broker == ["send_due_emails"]


def test_no_wake_up_is_published_while_one_is_on_its_way(broker, member, django_capture_on_commit_callbacks):
    for index in range(3):
        with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
            earned(member, f"earned:{index}")

    assert broker == ["send_due_emails"]


def test_once_the_sweep_starts_the_next_commit_wakes_the_sender_again(broker, member,
                                                                      django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        earned(member, "earned:1")
    assert outbox_send_due()["sent"] == 1  # the woken worker

    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        earned(member, "earned:2")

    assert broker == ["send_due_emails", "send_due_emails"]
    assert outbox_send_due()["sent"] == 1
    assert len(mail.outbox) == 2


def test_a_rolled_back_savepoint_does_not_take_the_wake_up_of_the_rest_with_it(broker, member,
                                                                               django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        try:
            with transaction.atomic():
                earned(member, "earned:1")
                raise RuntimeError("abandon the savepoint")
        except RuntimeError:
            pass
        earned(member, "earned:2")

    assert broker == ["send_due_emails"]
    assert list(Outbox.objects.values_list("dedupe_key", flat=True)) == ["earned:2"]


def test_without_a_broker_the_message_is_sent_in_process_as_the_transaction_commits(
        member, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        earned(member, "earned:1")

    assert [m.to for m in mail.outbox] == [["ada@example.com"]]
    assert Outbox.objects.get().status == "sent"

"""The outbox: written with the action, sent after commit by a worker that claims it, exactly once."""

import smtplib
from datetime import timedelta

import pytest
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend
from django.db import transaction
from django.utils import timezone

from loyalty.queue import rows_claim
from notifications import services
from notifications.models import Outbox
from notifications.services import LEASE, MAX_SEND_ATTEMPTS, SEND_BACKOFF, notification_enqueue, outbox_send_due
from tests.factories import MemberFactory
from tests.queues import sweep_at_each_retry

from .conftest import T0


def enqueue(member, key="earned:1", points=10) -> Outbox:
    assert notification_enqueue(member=member, kind="points_earned", data={"points": points}, dedupe_key=key)
    return Outbox.objects.get(dedupe_key=key)


def test_a_purchase_queues_its_email_and_it_is_sent_after_commit(pos, member, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = pos.post("/api/v1/pos/purchases/", {
            "external_id": "R-1", "member": {"card_number": member.card_number}, "currency": "EUR",
            "total": "12.50"}, format="json")

    assert response.status_code == 201, response.content
    (message,) = mail.outbox
    row = Outbox.objects.get()
    assert (row.kind, row.category, row.status, row.attempts, row.to) == (
        "points_earned", "transactional", "sent", 1, "ada@example.com")
    assert row.sent_at is not None and row.claimed_until is None
    assert message.to == ["ada@example.com"]
    assert message.subject == "You earned 12 points with Coffee Club"
    assert message.extra_headers["Message-ID"] == f"<outbox-{row.pk}@localhost>"


def test_a_rolled_back_action_sends_nothing(pos, member, django_capture_on_commit_callbacks):
    class Abort(Exception):
        pass

    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(Abort), transaction.atomic():
        enqueue(member)
        raise Abort

    assert callbacks == []
    assert not Outbox.objects.exists()
    assert outbox_send_due()["sent"] == 0
    assert mail.outbox == []


def test_one_message_per_dedupe_key(member):
    first, second = enqueue(member, key="earned:7"), enqueue(member, key="earned:7")

    outbox_send_due()
    outbox_send_due()

    assert first == second
    assert len(mail.outbox) == 1


def test_a_sent_message_is_never_sent_again(clock, member):
    enqueue(member)
    outbox_send_due()

    for days in (1, 10, 100):
        clock.move_to(T0 + timedelta(days=days))
        outbox_send_due()

    assert len(mail.outbox) == 1
    assert Outbox.objects.get().attempts == 1


def test_a_worker_dying_after_claiming_leaves_the_message_to_be_reclaimed_after_the_lease(clock, member):
    row = enqueue(member)
    _, claimed = rows_claim(Outbox, now=timezone.now(), lease=LEASE)  # ... and the worker dies here
    assert [r.pk for r in claimed] == [row.pk]

    clock.move_to(T0 + LEASE - timedelta(seconds=1))
    assert outbox_send_due()["sent"] == 0, "still leased to the dead worker"
    assert mail.outbox == []

    clock.move_to(T0 + LEASE + timedelta(seconds=1))
    assert outbox_send_due()["sent"] == 1
    assert outbox_send_due()["sent"] == 0

    row.refresh_from_db()
    assert (row.status, row.attempts) == ("sent", 2)
    assert len(mail.outbox) == 1


def test_a_worker_whose_lease_lapsed_does_not_send_what_another_worker_reclaimed(clock, member):
    enqueue(member)
    slow_token, (slow_row,) = rows_claim(Outbox, now=timezone.now(), lease=LEASE)  # a worker that stalls

    clock.move_to(T0 + LEASE + timedelta(minutes=1))
    assert outbox_send_due()["sent"] == 1  # another worker reclaims and sends

    with mail.get_connection() as connection:  # the stalled worker wakes up and carries on
        outcome = services._send_one(slow_row, token=slow_token, connection=connection)

    assert outcome == "skipped"
    assert len(mail.outbox) == 1
    assert Outbox.objects.get().status == "sent"


def test_a_failing_mail_server_is_retried_with_backoff_then_the_message_is_marked_failed(clock, member,
                                                                                          monkeypatch):
    calls = []

    def refuse(self, messages):
        calls.append(timezone.now())
        raise smtplib.SMTPServerDisconnected("mail server went away")

    monkeypatch.setattr(EmailBackend, "send_messages", refuse)
    row = enqueue(member)

    outbox_send_due()
    row.refresh_from_db()
    assert (row.status, row.attempts, row.next_attempt_at) == ("pending", 1, T0 + SEND_BACKOFF[0])
    assert row.last_error == "mail server went away"

    at = T0
    for wait in SEND_BACKOFF:
        outbox_send_due()  # not yet due: nothing is tried
        at += wait
        clock.move_to(at)
        outbox_send_due()

    row.refresh_from_db()
    assert (row.status, row.attempts) == ("failed", MAX_SEND_ATTEMPTS)
    assert len(calls) == MAX_SEND_ATTEMPTS
    clock.move_to(at + timedelta(days=2))
    outbox_send_due()
    assert len(calls) == MAX_SEND_ATTEMPTS


class BackendError(Exception):
    """An email backend's own error: neither an SMTP error nor an OSError."""


def test_an_email_backends_own_error_costs_an_attempt_and_the_rest_of_the_batch_is_sent(clock, program, store,
                                                                                       monkeypatch, caplog):
    send_messages, calls = EmailBackend.send_messages, []

    def refuse_one(self, messages):
        if messages[0].to == ["bad@example.com"]:
            calls.append(timezone.now())
            raise BackendError("the provider rejected the API call")
        return send_messages(self, messages)

    monkeypatch.setattr(EmailBackend, "send_messages", refuse_one)
    bad = enqueue(MemberFactory(program=program, store=store, email="bad@example.com"), key="earned:bad")
    clock.shift(1)  # first in the batch
    others = [MemberFactory(program=program, store=store) for _ in range(2)]
    for index, member in enumerate(others):
        enqueue(member, key=f"earned:{index}")

    assert outbox_send_due() == {"sent": 2, "pending": 1, "failed": 0, "cancelled": 0, "skipped": 0}
    assert sorted(m.to[0] for m in mail.outbox) == sorted(m.email for m in others)
    bad.refresh_from_db()
    assert (bad.status, bad.attempts, bad.claimed_until) == ("pending", 1, None)
    assert bad.next_attempt_at == timezone.now() + SEND_BACKOFF[0]
    assert bad.last_error == "BackendError: the provider rejected the API call"
    assert f"email {bad.pk} to bad@example.com: unexpected error" in caplog.text

    at = sweep_at_each_retry(clock, sweep=outbox_send_due, backoff=SEND_BACKOFF, start=timezone.now())
    bad.refresh_from_db()
    assert (bad.status, bad.attempts) == ("failed", MAX_SEND_ATTEMPTS)
    assert len(calls) == MAX_SEND_ATTEMPTS
    clock.move_to(at + timedelta(days=2))
    outbox_send_due()
    assert len(calls) == MAX_SEND_ATTEMPTS


def test_a_mail_server_refusing_the_connection_costs_each_message_an_attempt(clock, program, store, monkeypatch):
    def refuse(self):
        raise ConnectionRefusedError("connection refused")

    monkeypatch.setattr(EmailBackend, "open", refuse)
    for index in range(3):
        enqueue(MemberFactory(program=program, store=store), key=f"earned:{index}")

    assert outbox_send_due()["pending"] == 3

    assert set(Outbox.objects.values_list("status", "attempts", "next_attempt_at", "last_error")) == {
        ("pending", 1, T0 + SEND_BACKOFF[0], "connection refused")}
    assert mail.outbox == []


def test_the_sweep_sends_everything_due_in_batches(program, store):
    members = [MemberFactory(program=program, store=store) for _ in range(7)]
    for index, member in enumerate(members):
        enqueue(member, key=f"earned:{index}")

    counts = outbox_send_due(limit=3)

    assert counts["sent"] == 7
    assert sorted(m.to[0] for m in mail.outbox) == sorted(m.email for m in members)


def test_staff_read_a_message_not_yet_sent_as_it_will_be_sent(admin_client, member):
    row = enqueue(member, points=12)

    page = admin_client.get(f"/admin/notifications/outbox/{row.pk}/change/")
    listing = admin_client.get("/admin/notifications/outbox/", {"q": "earned:1"})

    assert page.status_code == 200
    assert "You earned 12 points with Coffee Club" in page.content.decode()
    assert listing.status_code == 200 and "ada@example.com" in listing.content.decode()

"""Real worker threads on PostgreSQL: each message is claimed by one worker and sent once."""

from collections import Counter

import pytest
from django.core import mail
from django.utils import timezone

from loyalty.queue import rows_claim
from notifications import services
from notifications.models import Outbox
from notifications.services import LEASE, notification_enqueue, outbox_send_due
from tests.concurrency import results_of, run_together
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db(transaction=True)

WORKERS = 8
MESSAGES = 80


@pytest.fixture
def queued(program, store, monkeypatch):
    member = MemberFactory(program=program, store=store)
    monkeypatch.setattr(services, "_schedule", lambda key=None: None)  # left to the workers below, not sent on commit
    for index in range(MESSAGES):
        notification_enqueue(member=member, kind="points_earned", data={"points": index},
                             dedupe_key=f"earned:{index}")
    return member


def test_concurrent_claims_never_hand_one_message_to_two_workers(queued):
    now = timezone.now()

    claim = lambda: rows_claim(Outbox, now=now, lease=LEASE, limit=15)[1]  # noqa: E731
    claims = results_of(run_together([claim] * WORKERS))

    claimed = Counter(row.pk for rows in claims for row in rows)
    assert max(claimed.values()) == 1
    assert len(claimed) == MESSAGES  # 8 workers x 15 >= 80: everything was claimed, by one worker each


def test_concurrent_workers_send_every_message_exactly_once(queued):
    counts = results_of(run_together([lambda: outbox_send_due(limit=5) for _ in range(WORKERS)]))

    assert sum(c["sent"] for c in counts) == MESSAGES
    message_ids = Counter(m.extra_headers["Message-ID"] for m in mail.outbox)
    assert len(message_ids) == MESSAGES and max(message_ids.values()) == 1
    assert set(Outbox.objects.values_list("status", "attempts")) == {("sent", 1)}

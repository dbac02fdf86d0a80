"""Expiry through a real worker that is SIGKILLed with a batch in flight, then restarted: every lot that
was due is expired exactly once."""

import signal
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.db.models import Count, Sum

from bench.expire_lots import load
from ledger.models import Kind, LedgerEntry, LedgerTransaction, LotMovement, PointsAccount, PointsLot
from ledger.selectors import ledger_verify_report
from ledger.tasks import expire_points
from tests.conftest import skip_unless

from .test_broker import wait_for, worker_process

pytestmark = [pytest.mark.broker, pytest.mark.django_db(transaction=True)]

MEMBERS = 12_000  # one lot each: three batches of the job's 5,000 accounts


def expired_lots() -> int:
    return PointsLot.objects.filter(expired=True).count()


def a_batch_in_flight() -> bool:
    """Another session of the test database sits inside a transaction: the worker, holding a batch open."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                       "AND state = 'idle in transaction' AND pid <> pg_backend_pid()")
        return cursor.fetchone()[0] > 0


def test_a_worker_killed_mid_expiry_and_restarted_expires_every_lot_exactly_once(tmp_path):
    skip_unless(bool(settings.CELERY_BROKER_URL), "needs the Redis broker (CELERY_BROKER_URL)")
    load(job="expire", members=MEMBERS, lots_per_member=1, now=datetime.now(UTC) - timedelta(minutes=1),
         measured=False)
    due = dict(PointsLot.objects.filter(remaining__gt=0).values_list("pk", "remaining"))
    assert len(due) == MEMBERS and ledger_verify_report().ok
    available_before = PointsAccount.objects.aggregate(points=Sum("available"))["points"]
    queue = f"test-jobs-{uuid.uuid4().hex[:12]}"

    with worker_process(queue, tmp_path / "killed.log", module="tests.jobs.slow_worker") as worker:
        wait_for(lambda: "ready." in (tmp_path / "killed.log").read_text() or worker.poll() is not None,
                 timeout=60, what="the worker to start")
        expire_points.apply_async(queue=queue)
        wait_for(lambda: (0 < expired_lots() < MEMBERS and a_batch_in_flight()) or worker.poll() is not None,
                 timeout=90, what="a batch committed and the next one in flight")
        worker.send_signal(signal.SIGKILL)
        worker.wait()
    expired_at_kill = expired_lots()
    assert 0 < expired_at_kill < MEMBERS
    wait_for(lambda: not a_batch_in_flight(), timeout=30, what="the killed worker's transaction to end")
    assert expired_lots() == expired_at_kill  # the batch in flight was rolled back, whole

    log = tmp_path / "restarted.log"
    with worker_process(queue, log) as worker:
        wait_for(lambda: "ready." in log.read_text() or worker.poll() is not None, timeout=60,
                 what="the restarted worker")
        # The killed worker's message is not handed out again before the broker's visibility timeout
        # (an hour); the next run, beat's or an operator's, finishes the job.
        expire_points.apply_async(queue=queue)
        wait_for(lambda: expired_lots() == MEMBERS or worker.poll() is not None, timeout=120,
                 what="the restarted worker to finish the expiry")
        assert worker.poll() is None, log.read_text()

    expiries = LedgerTransaction.objects.filter(kind=Kind.EXPIRE)
    assert expiries.count() == len(due)
    assert set(expiries.values_list("source_id", flat=True)) == {str(pk) for pk in due}
    per_lot = LotMovement.objects.filter(entry__kind=Kind.EXPIRE).values("lot").annotate(n=Count("pk"))
    assert dict(per_lot.values_list("lot", "n")) == dict.fromkeys(due, 1)
    entries = LedgerEntry.objects.filter(kind=Kind.EXPIRE)
    assert PointsLot.objects.filter(pk__in=due, remaining=0, expired=True).count() == len(due)
    assert -entries.aggregate(points=Sum("points"))["points"] == sum(due.values()) == available_before
    assert PointsAccount.objects.aggregate(points=Sum("available"))["points"] == 0
    assert ledger_verify_report().ok
    call_command("ledger_verify")

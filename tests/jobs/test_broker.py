"""One job end to end: through the Redis broker to a real worker process, into the database."""

import os
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection

from ledger.tasks import release_points
from tests.conftest import skip_unless
from tests.factories import MemberFactory
from tests.ledger.support import balances, earn
from tests.webhooks.conftest import receiver  # noqa: F401 - a fixture

pytestmark = [pytest.mark.broker, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]


def database_url_of_tests() -> str:
    db = connection.settings_dict
    credentials = quote(db["USER"] or "", safe="")
    if db["PASSWORD"]:
        credentials += ":" + quote(db["PASSWORD"], safe="")
    host = db["HOST"] or "127.0.0.1"
    if host.startswith("/"):  # a Unix socket's folder (the embedded server)
        return f"postgres://{credentials}@/{db['NAME']}?host={quote(host, safe='/')}"
    return f"postgres://{credentials}@{host}:{db['PORT'] or 5432}/{db['NAME']}"


def wait_for(condition, *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.2)


@contextmanager
def worker_process(queue: str, log: Path, *, module: str = "celery", **env):
    """A Celery worker process consuming only ``queue`` (no other worker takes the test's message), run as
    ``python -m <module>`` (a module that hooks into the worker, then runs Celery's command line)."""
    env = {**os.environ, "DATABASE_URL": database_url_of_tests(), "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
           "DATABASE_CONN_MAX_AGE": "0", **env}
    with log.open("w") as out:
        worker = subprocess.Popen(
            [sys.executable, "-m", module, "-A", "loyalty", "worker", "-P", "solo", "--without-heartbeat",
             "--without-mingle", "--without-gossip", "-Q", queue, "-l", "INFO"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )
    try:
        yield worker
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


def test_a_worker_process_releases_pending_points_sent_through_the_broker(program, tmp_path):
    skip_unless(bool(settings.CELERY_BROKER_URL),
                "needs the Redis broker (CELERY_BROKER_URL)")
    member = MemberFactory(program=program)
    earn(member, 100, pending_days=14)
    assert balances(member) == (0, 100, 0)
    queue = f"test-jobs-{uuid.uuid4().hex[:12]}"  # this test's own queue: no other worker takes its message
    log = tmp_path / "worker.log"
    with worker_process(queue, log) as worker:
        release_points.apply_async(kwargs={"now": (member.account.lots.get().available_at).isoformat()},
                                   queue=queue)
        wait_for(lambda: balances(member) == (100, 0, 0) or worker.poll() is not None, timeout=90,
                 what="the worker to release the points")
        assert worker.poll() is None, f"the worker exited:\n{log.read_text()}"
        assert balances(member) == (100, 0, 0)
        wait_for(lambda: "succeeded" in log.read_text(), timeout=30, what="the worker to report the task")
        assert "ledger.tasks.release_points" in log.read_text()


def test_a_worker_process_woken_through_the_broker_sends_the_email_of_a_commit(program, tmp_path, monkeypatch):
    from loyalty.queue import wake_client
    from notifications import services, tasks
    from notifications.models import Outbox

    skip_unless(bool(settings.CELERY_BROKER_URL),
                "needs the Redis broker (CELERY_BROKER_URL)")
    member = MemberFactory(program=program, email="ada@example.com", first_name="Ada")
    wake_client().delete(services.WAKE_KEY)  # no wake-up left over from another test
    queue = f"test-jobs-{uuid.uuid4().hex[:12]}"
    monkeypatch.setattr(tasks.send_due_emails, "delay",  # to this test's queue, as the other test's task
                        lambda: tasks.send_due_emails.apply_async(queue=queue))
    log = tmp_path / "worker.log"
    with worker_process(queue, log, EMAIL_URL="consolemail://") as worker:
        services.notification_enqueue(member=member, kind="points_earned", data={"points": 42},
                                      dedupe_key="points_earned:broker-test")  # commits (autocommit)
        row = Outbox.objects.get(dedupe_key="points_earned:broker-test")
        wait_for(lambda: Outbox.objects.get(pk=row.pk).status == "sent" or worker.poll() is not None, timeout=90,
                 what="the worker to send the email")
        assert worker.poll() is None, f"the worker exited:\n{log.read_text()}"
        wait_for(lambda: "You earned 42 points" in log.read_text(), timeout=30, what="the message in the log")
        assert "notifications.tasks.send_due_emails" in log.read_text()


def test_a_worker_process_woken_through_the_broker_delivers_the_webhook_of_a_commit(program, tmp_path, monkeypatch,
                                                                                    receiver):  # noqa: F811
    from loyalty.events import announce
    from loyalty.queue import wake_client
    from webhooks import services, tasks
    from webhooks.models import WebhookDelivery, WebhookEndpoint

    skip_unless(bool(settings.CELERY_BROKER_URL),
                "needs the Redis broker (CELERY_BROKER_URL)")
    member = MemberFactory(program=program)
    WebhookEndpoint.objects.create(program=program, url=receiver.url, events=["points.earned"])
    wake_client().delete(services.WAKE_KEY)  # no wake-up left over from another test
    queue = f"test-jobs-{uuid.uuid4().hex[:12]}"
    monkeypatch.setattr(tasks.deliver_due_webhooks, "delay",  # to this test's queue, as the other tests' tasks
                        lambda: tasks.deliver_due_webhooks.apply_async(queue=queue))
    log = tmp_path / "worker.log"
    # the receiver listens on loopback
    with worker_process(queue, log, WEBHOOK_ALLOW_PRIVATE_ADDRESSES="true") as worker:
        announce(program=program, type="points.earned", member=member, key="broker-test",
                             payload={"points": 42, "source": {"type": "test"}})  # commits (autocommit)
        row = WebhookDelivery.objects.get()
        wait_for(lambda: WebhookDelivery.objects.get(pk=row.pk).status == "succeeded" or worker.poll() is not None,
                 timeout=90, what="the worker to deliver the webhook")
        assert worker.poll() is None, f"the worker exited:\n{log.read_text()}"
        (request,) = receiver.of_type("points.earned")
        assert request.json["data"]["points"] == 42
        wait_for(lambda: "webhooks.tasks.deliver_due_webhooks" in log.read_text(), timeout=30,
                 what="the task in the log")

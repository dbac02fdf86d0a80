"""Table queues: the email outbox and webhook deliveries are claimed by workers the same way.

A row is due when it is ``pending``, its ``next_attempt_at`` has come and nobody holds a lease on it
(``claimed_until`` empty or past). A worker claims due rows with one compare-and-set ``UPDATE`` that
repeats the "due" condition, sets a lease and a claim token, and counts the attempt; on PostgreSQL
the candidates are first picked ``FOR UPDATE SKIP LOCKED`` so concurrent workers take different rows
instead of queueing on the same ones. Two workers never hold the same row: the second ``UPDATE``
re-reads the row and finds the lease.

Before the side effect (sending an email, posting a webhook) the worker renews its lease with
another compare-and-set on its token: if the lease lapsed and someone else claimed the row, the
renewal matches nothing and the worker leaves the row alone. Finishing is a compare-and-set on the
token too. A worker that dies leaves its lease to lapse; the row is then due again.

Every error of the side effect is a failed attempt (``attempt_run``), recorded by ``attempt_failed``: the
row is due again after its backoff, or ``failed`` once it has had as many attempts as the backoff allows.

New rows are handed to the workers by waking a sweep (``Wake``), not by a task per row: a Celery publish
costs more than the rest of queueing the row.
"""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

import redis
from django.conf import settings
from django.db import models, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.module_loading import import_string
from kombu.exceptions import OperationalError as BrokerUnavailable

from loyalty.cache import RedisOutage
from loyalty.celery import app

logger = logging.getLogger(__name__)

PENDING = "pending"
FAILED = "failed"
WAKE_TTL_MS = 10_000

# The broker's Redis as seen by the wake-ups of this process (``loyalty.cache.RedisOutage``).
broker_outage = RedisOutage("The broker's Redis", "queued emails and webhooks wait in their outbox for the "
                            "minute sweep", errors=(redis.RedisError, BrokerUnavailable))


@functools.lru_cache(maxsize=4)
def _redis_for(url: str) -> redis.Redis:
    timeout = settings.REDIS_TIMEOUT_SECONDS  # one client (and connection pool) per process
    return redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)


def wake_client() -> redis.Redis | None:
    """The broker's Redis, when the broker is Redis."""
    url = app.conf.broker_url or ""
    return _redis_for(url) if url.startswith(("redis://", "rediss://")) else None


class Wake:
    """Wakes a queue's sweep task through Redis at most once per pending wake-up.

    Called after a commit that queued rows (``transaction.on_commit(wake)``): ``SET NX`` on ``key`` (a
    fraction of a Celery publish) decides whether this commit publishes the sweep. The sweep calls
    ``woken()`` before it claims, so a row committed before that is claimed by this sweep and one committed
    after finds the key gone and publishes again: no row waits for the minute sweep, and under load a
    stream of commits publishes one sweep per sweep started rather than one task per row. The TTL bounds
    the wait should a wake-up be lost with a broker that restarts.

    The action that queued the rows has committed: a broker that cannot be reached is logged (once per
    outage) and the rows wait for the minute sweep, and no error reaches the caller. A wake-up whose key was
    set but whose publish failed leaves the key to its TTL.
    """

    def __init__(self, key: str, task: str):
        self.key, self.task = key, task  # the task by dotted path: its module imports the queue's services
        self.__qualname__ = f"Wake({key!r})"  # how on_commit names a callback in its log

    def __call__(self) -> None:
        broker_outage.call(self._wake, fallback=lambda: None)

    def _wake(self) -> None:
        client = wake_client()
        if client is not None and not client.set(self.key, b"1", nx=True, px=WAKE_TTL_MS):
            return  # a wake-up is queued and its sweep has not started: that sweep will claim the rows
        import_string(self.task).delay()

    def woken(self) -> None:
        """Called by a sweep before it claims: later commits must wake it again."""
        client = wake_client()
        if client is None:
            return
        try:
            client.delete(self.key)
        except redis.RedisError as error:  # the key's TTL lapses instead; this sweep still runs
            logger.warning("could not clear the wake-up key %s: %s", self.key, error)


def _due(now: datetime) -> Q:
    return Q(status=PENDING, next_attempt_at__lte=now) & (Q(claimed_until__isnull=True) | Q(claimed_until__lte=now))


def rows_claim(model: type[models.Model], *, now: datetime, lease: timedelta, limit: int = 50,
               only: dict | None = None) -> tuple[uuid.UUID, list]:
    """Claim up to ``limit`` due rows (of those matching ``only``, e.g. ``{"pk": 7}``) for ``lease``;
    answers the token and the claimed rows."""
    token = uuid.uuid4()
    with transaction.atomic():
        candidates = model.objects.filter(_due(now), **(only or {}))
        ids = list(candidates.order_by("next_attempt_at", "pk").select_for_update(skip_locked=True)
                   .values_list("pk", flat=True)[:limit])
        if not ids:
            return token, []
        model.objects.filter(_due(now), pk__in=ids).update(
            claimed_until=now + lease, claim_token=token, attempts=F("attempts") + 1)
    return token, list(model.objects.filter(claim_token=token).order_by("next_attempt_at", "pk"))


def lease_renew(model: type[models.Model], *, pk, token: uuid.UUID, now: datetime, lease: timedelta) -> bool:
    """Extend a lease this worker still holds; False when it lapsed (or the row was finished by another)."""
    return model.objects.filter(pk=pk, claim_token=token, status=PENDING, claimed_until__gt=now).update(
        claimed_until=now + lease) == 1


def claim_finish(model: type[models.Model], *, pk, token: uuid.UUID, **fields) -> bool:
    """Record the outcome of a claimed row and release it; False when this worker no longer held it."""
    return model.objects.filter(pk=pk, claim_token=token, status=PENDING).update(
        claimed_until=None, claim_token=None, **fields) == 1


def attempt_run(side_effect: Callable[[], object], *, what: str,
                expected: tuple[type[Exception], ...] = ()) -> tuple[object, str | None]:
    """Run a claimed row's side effect; answers its result and ``None``, or ``None`` and the error to record.

    Any exception is a failed attempt, not only the ``expected`` ones (logged with their traceback, naming
    the row): one that only a backend knows would otherwise abort the sweep's batch, and leave the row to
    be claimed again at each lease's end, for ever, its attempts never reaching the cap.
    """
    try:
        return side_effect(), None
    except expected as error:
        return None, str(error)
    except Exception as error:
        logger.exception("%s: unexpected error", what)
        return None, f"{type(error).__name__}: {error}"


def attempt_failed(model: type[models.Model], *, row, token: uuid.UUID, error: str, backoff: tuple[timedelta, ...],
                   what: str, **fields) -> str:
    """Record a failed attempt of a claimed row (with ``fields``): due again after ``backoff[attempts - 1]``,
    or ``failed`` after ``len(backoff) + 1`` attempts. Answers the row's new status."""
    if row.attempts > len(backoff):
        logger.warning("%s failed after %s attempts: %s", what, row.attempts, error)
        claim_finish(model, pk=row.pk, token=token, status=FAILED, last_error=error, **fields)
        return FAILED
    claim_finish(model, pk=row.pk, token=token, last_error=error,
                 next_attempt_at=timezone.now() + backoff[row.attempts - 1], **fields)
    return PENDING

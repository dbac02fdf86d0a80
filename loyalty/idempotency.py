"""Exactly-once answers for POS writes, keyed per store.

``idempotent_call`` runs the work at most once per (store, scope, key):

* same key, same request → the first answer again, marked as a replay;
* same key, different request → the scope's conflict error;
* two identical requests at once → the second waits on the unique index for
  the first to commit, then replays its answer (it never does the work twice).

A refusal with ``400`` is never stored (the caller fixes the request and retries
with the same key); other refusals are stored when the scope says so.

Answers to keys the client makes up (``PURGED_SCOPE``: the ``Idempotency-Key`` of a redemption) are
purged once ``IDEMPOTENCY_KEY_RETENTION_HOURS`` old (``idempotency_keys_purge``, daily), so the table
and its unique index grow with the traffic of a week, not with every redemption ever made. Purchases,
returns and events are keyed by the till's external id, which the contract keeps unique for good: their
answers are what a late retry replays, and they stay.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from uuid import UUID

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .errors import DomainError
from .models import PURGED_SCOPE, IdempotencyRecord
from .rows import insert_or_nothing, row_update
from .transactions import all_or_nothing


class _Refused(Exception):
    """Carries a refusal to store out of the transaction of the work it refused, rolling that back."""

    def __init__(self, error: DomainError):
        super().__init__(error)
        self.error = error


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict
    replayed: bool = False


def _default(value):
    if isinstance(value, (Decimal, UUID)):
        return str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    raise TypeError(type(value))


def request_fingerprint(payload) -> str:
    """A digest of the request as understood (after parsing), so ``"12.5"`` and ``12.50`` agree."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=_default)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _claim(*, store, scope: str, key: str, fingerprint: str) -> int | None:
    """Insert the (store, scope, key) row; its id, or None when the row already exists.

    One statement: ``ON CONFLICT DO NOTHING`` waits on the unique index for a concurrent
    twin, as a plain insert would, and then yields instead of raising (no savepoint needed).
    """
    values = {"store": store.pk, "scope": scope, "key": key, "request_hash": fingerprint, "response_status": 0,
              "response_body": {}, "created_at": timezone.now()}
    return insert_or_nothing(IdempotencyRecord, values, unique=("store", "scope", "key"))


def idempotent_call(
    *, store, scope: str, key: str, payload, run: Callable[[], tuple[int, dict]],
    conflict: Callable[[], DomainError], store_refusals: bool = False,
) -> Answer:
    fingerprint = request_fingerprint(payload)

    def replay_or_conflict(record: IdempotencyRecord) -> Answer:
        if record.request_hash != fingerprint:
            raise conflict()
        if record.response_status >= 400:
            body = record.response_body
            raise DomainError(body.get("code", "error"), body.get("detail", ""), status=record.response_status,
                              title=body.get("title"), replayed=True)
        return Answer(record.response_status, record.response_body, replayed=True)

    def claimed() -> int | Answer:
        """The new record's id, or the answer stored under the key: by an earlier request, or by a concurrent
        twin that committed first (the claim waited for it)."""
        record_id = _claim(store=store, scope=scope, key=key, fingerprint=fingerprint)
        if record_id is None:
            return replay_or_conflict(IdempotencyRecord.objects.get(store=store, scope=scope, key=key))
        return record_id

    try:
        with transaction.atomic():
            if isinstance(record_id := claimed(), Answer):
                return record_id
            # Whatever fails inside ``run`` is rolled back whole, the record included, so the services it
            # calls need no savepoints of their own (``loyalty.transactions``).
            try:
                with all_or_nothing():
                    status, body = run()
            except DomainError as error:
                if store_refusals and error.status != 400:
                    raise _Refused(error) from error
                raise
            # The work's last writes that nothing read back (an email, a status log) go with the answer.
            row_update(IdempotencyRecord, record_id, response_status=status, response_body=body)
        return Answer(status, body)
    except _Refused as refused:
        refusal = refused.error
    # A refusal to keep: its work is gone with the record (a savepoint around every request's work would
    # cost two statements of each answer given, to spare refusals this second transaction). The key was
    # free in between: if a twin claimed it meanwhile, its answer is the one, and ours is not stored.
    with transaction.atomic():
        if isinstance(record_id := claimed(), Answer):
            return record_id
        row_update(IdempotencyRecord, record_id, response_status=refusal.status, response_body=refusal.as_problem())
    raise refusal  # after the commit, so the stored refusal stays


def idempotency_keys_purgeable(cutoff: datetime):
    """The stored answers a purge at ``cutoff`` deletes, oldest first. Only ``PURGED_SCOPE``: its partial index
    (``idempotency_purge_idx``) holds just those rows, so finding them does not walk every purchase's record."""
    return IdempotencyRecord.objects.filter(scope=PURGED_SCOPE, created_at__lt=cutoff).order_by("created_at")


def idempotency_keys_purge(*, now: datetime | None = None, batch_size: int = 5000) -> int:
    """Delete the stored answers of ``PURGED_SCOPE`` keys older than the retention, oldest first, in batches
    of ``batch_size`` (each its own short statement, so a purge never holds many row locks); the number
    deleted. Safe to rerun or to run twice at once: a row already gone is simply not counted again."""
    cutoff = (now or timezone.now()) - timedelta(hours=settings.IDEMPOTENCY_KEY_RETENTION_HOURS)
    purged = 0
    while True:
        due = list(idempotency_keys_purgeable(cutoff).values_list("pk", flat=True)[:batch_size])
        if not due:
            return purged
        purged += IdempotencyRecord.objects.filter(pk__in=due, created_at__lt=cutoff).delete()[0]
        if len(due) < batch_size:
            return purged

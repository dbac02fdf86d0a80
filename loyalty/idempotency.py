"""Exactly-once answers for POS writes, keyed per store.

``idempotent_call`` runs the work at most once per (store, scope, key):

* same key, same request → the first answer again, marked as a replay;
* same key, different request → the scope's conflict error;
* two identical requests at once → the second waits on the unique index for
  the first to commit, then replays its answer (it never does the work twice).

A refusal with ``400`` is never stored (the caller fixes the request and retries
with the same key); other refusals are stored when the scope says so.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from uuid import UUID

from django.db import IntegrityError, transaction

from .errors import DomainError
from .models import IdempotencyRecord


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

    with transaction.atomic():
        record = IdempotencyRecord.objects.filter(store=store, scope=scope, key=key).first()
        if record is not None:
            return replay_or_conflict(record)
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(store=store, scope=scope, key=key,
                                                          request_hash=fingerprint)
        except IntegrityError:
            # A concurrent twin committed first (we waited for it on the unique index).
            record = IdempotencyRecord.objects.get(store=store, scope=scope, key=key)
            return replay_or_conflict(record)

        refusal = None
        try:
            with transaction.atomic():
                status, body = run()
        except DomainError as error:
            if not store_refusals or error.status == 400:
                raise  # rolls the record back with everything else
            refusal = error
            status, body = error.status, error.as_problem()
        record.response_status, record.response_body = status, body
        record.save(update_fields=["response_status", "response_body"])
    if refusal is not None:
        raise refusal  # after the commit, so the stored refusal stays
    return Answer(status, body)

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

from django.db import connection, transaction
from django.utils import timezone

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


def _claim(*, store, scope: str, key: str, fingerprint: str) -> int | None:
    """Insert the (store, scope, key) row; its id, or None when the row already exists.

    One statement: ``ON CONFLICT DO NOTHING`` waits on the unique index for a concurrent
    twin, as a plain insert would, and then yields instead of raising (no savepoint needed).
    """
    meta = IdempotencyRecord._meta
    values = {"store": store.pk, "scope": scope, "key": key, "request_hash": fingerprint, "response_status": 0,
              "response_body": {}, "created_at": timezone.now()}
    fields = [meta.get_field(name) for name in values]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in fields)
    unique = ", ".join(quote(meta.get_field(name).column) for name in ("store", "scope", "key"))
    placeholders = ", ".join(["%s"] * len(fields))
    # Names come from the model, values are bound parameters.
    sql = (f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({placeholders}) "  # noqa: S608
           f"ON CONFLICT ({unique}) DO NOTHING RETURNING {quote(meta.pk.column)}")
    params = [field.get_db_prep_save(values[field.name], connection) for field in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return row[0] if row else None


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
        record_id = _claim(store=store, scope=scope, key=key, fingerprint=fingerprint)
        if record_id is None:
            # An earlier request, or a concurrent twin that committed first (we waited for it).
            return replay_or_conflict(IdempotencyRecord.objects.get(store=store, scope=scope, key=key))

        refusal = None
        try:
            if store_refusals:  # a savepoint, so a refusal's partial work goes and its record stays
                with transaction.atomic():
                    status, body = run()
            else:
                status, body = run()  # any refusal rolls everything back, the record included
        except DomainError as error:
            if not store_refusals or error.status == 400:
                raise  # rolls the record back with everything else
            refusal = error
            status, body = error.status, error.as_problem()
        IdempotencyRecord.objects.filter(pk=record_id).update(response_status=status, response_body=body)
    if refusal is not None:
        raise refusal  # after the commit, so the stored refusal stays
    return Answer(status, body)

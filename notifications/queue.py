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
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from django.db import models, transaction
from django.db.models import F, Q

PENDING = "pending"


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

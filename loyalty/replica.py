"""Reports and exports read from a PostgreSQL streaming replica when ``DATABASE_REPLICA_URL`` names one.

A view opts in with ``reads_from_replica``: while it runs (and while its streamed download is read), every
read the ORM makes goes to the replica alias; writes always go to the primary, and migrations run only
there. The replica is asked first how far behind it is (one short query): a replica that cannot be reached
is not an outage for reports, they read from the primary and say so.

Everything else (the POS API, the portal, the staff pages that act on what they show) reads the primary:
a member who has just redeemed must see it, however far the replica lags.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import wraps

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.utils import DatabaseError

REPLICA = "replica"

_reading: ContextVar[str | None] = ContextVar("loyalty_read_alias", default=None)


class ReplicaRouter:
    """Reads go where ``replica_reads`` points them (the primary outside it); writes and migrations to the primary."""

    def db_for_read(self, model, **hints):
        return _reading.get()

    def db_for_write(self, model, **hints):
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints):
        return True  # the replica holds the primary's rows: an object read there is the primary's object

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == DEFAULT_DB_ALIAS


def read_alias() -> str:
    """The database the current reads go to."""
    return _reading.get() or DEFAULT_DB_ALIAS


@dataclass(frozen=True)
class ReadSource:
    """Where a report's figures were read: the primary, or the replica with how many seconds it trails."""

    alias: str = DEFAULT_DB_ALIAS
    lag_seconds: float | None = None
    replica_unreachable: bool = False

    @property
    def from_replica(self) -> bool:
        return self.alias == REPLICA


# Nothing to replay means nothing missing, however old the last replayed transaction is: an idle primary
# would otherwise read as a replica falling further behind every second.
_LAG_SQL = """
SELECT pg_is_in_recovery(),
       CASE WHEN pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn() THEN 0
            ELSE EXTRACT(EPOCH FROM clock_timestamp() - pg_last_xact_replay_timestamp()) END
"""


def replica_source() -> ReadSource:
    """The replica if one is configured and answers, with its lag; else the primary."""
    if REPLICA not in settings.DATABASES:
        return ReadSource()
    try:
        with connections[REPLICA].cursor() as cursor:
            cursor.execute(_LAG_SQL)
            in_recovery, lag = cursor.fetchone()
    except DatabaseError:
        connections[REPLICA].close()  # a dead connection is not reused by the next request
        return ReadSource(replica_unreachable=True)
    return ReadSource(alias=REPLICA, lag_seconds=max(0.0, float(lag or 0)) if in_recovery else 0.0)


@contextmanager
def replica_reads(source: ReadSource | None = None):
    """Reads inside go to ``source`` (by default: the replica if it answers)."""
    source = source or replica_source()
    token = _reading.set(source.alias if source.from_replica else None)
    try:
        yield source
    finally:
        _reading.reset(token)


def _streamed_within(source: ReadSource, chunks) -> Iterator:
    """A streamed body read where the view read: the download is produced after the view has returned."""
    chunks = iter(chunks)
    try:
        while True:
            with replica_reads(source):
                try:
                    chunk = next(chunks)
                except StopIteration:
                    return
            yield chunk
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            with replica_reads(source):
                close()


def reads_from_replica(view):
    """The view (and its streamed body) reads from the replica; ``request.read_source`` says from where."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        with replica_reads() as source:
            request.read_source = source
            response = view(request, *args, **kwargs)
        if getattr(response, "streaming", False):
            response.streaming_content = _streamed_within(source, response.streaming_content)
        return response

    return wrapped

"""Shared by the tests of the table queues (email outbox, webhook deliveries)."""

from datetime import datetime, timedelta


def sweep_at_each_retry(clock, *, sweep, backoff: tuple[timedelta, ...], start: datetime) -> datetime:
    """Move the clock to each retry time of ``backoff`` after ``start`` and run ``sweep`` there; answers the last."""
    at = start
    for wait in backoff:
        at += wait
        clock.move_to(at)
        sweep()
    return at

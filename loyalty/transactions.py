"""Atomic blocks for services.

A service is ``transaction.atomic``: called on its own it is one transaction, and nested in a caller's
transaction it gets a savepoint, so a refusal undoes only its own writes. That savepoint costs two
round trips and is wasted when the caller rolls back everything on any error anyway, as
``loyalty.idempotency.idempotent_call`` does around the work of a POS request. Such a caller runs the
work inside ``all_or_nothing()``; services decorated with ``service_atomic`` then open no savepoint of
their own (Django's ``atomic(savepoint=False)``: an error marks the enclosing block for rollback).

The contract inside ``all_or_nothing()``: an exception out of a ``service_atomic`` function is not
swallowed before it reaches a real savepoint (a plain ``transaction.atomic`` block) or the
``all_or_nothing`` caller, which rolls back. Django enforces it: a query after a swallowed error
raises ``TransactionManagementError``.
"""

from __future__ import annotations

import functools
from contextlib import contextmanager

from django.db import connection, transaction

_DEPTH = "loyalty_all_or_nothing_depth"


@contextmanager
def all_or_nothing():
    """Run the block knowing that the enclosing atomic block is rolled back entirely on any error."""
    if not connection.in_atomic_block:
        raise RuntimeError("all_or_nothing() must run inside an atomic block")
    setattr(connection, _DEPTH, getattr(connection, _DEPTH, 0) + 1)
    try:
        yield
    finally:
        setattr(connection, _DEPTH, getattr(connection, _DEPTH) - 1)


def _savepoint_needed() -> bool:
    return not (connection.in_atomic_block and getattr(connection, _DEPTH, 0) > 0)


def service_atomic(func):
    """``transaction.atomic`` for a service, without a savepoint inside ``all_or_nothing()``."""

    @functools.wraps(func)
    def run(*args, **kwargs):
        with transaction.atomic(savepoint=_savepoint_needed()):
            return func(*args, **kwargs)

    return run


def plan_each_statement() -> None:
    """For the rest of the current transaction, have PostgreSQL plan every statement with its values.

    With prepared statements (``DATABASE_PREPARED_STATEMENTS``), a statement run a tenth time on a connection
    may get PostgreSQL's generic plan, made without seeing its values. For a batch job that runs one statement
    over and over with a list of thousands of ids (``= ANY(%s)``) that plan is a trap: it cannot hash the list,
    so every row a lossy bitmap rechecks is compared with the whole list. At a million members one such batch
    took 15 s instead of 0.44 s, and a nightly rollup went from 11 s to 98 s by its third run. Planning each
    run costs a few milliseconds."""
    if not connection.in_atomic_block:
        raise RuntimeError("plan_each_statement() must run inside an atomic block")
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL plan_cache_mode = force_custom_plan")

"""Atomic blocks for services, and a one-statement insert that yields to an existing row.

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


def insert_or_nothing(model, values: dict, unique: tuple[str, ...]):
    """``INSERT … ON CONFLICT (unique) DO NOTHING RETURNING pk``: the new row's pk, or None if it exists.

    One statement, no savepoint: against a concurrent insert of the same unique values it waits for
    that transaction, as a plain insert would, and then yields (or inserts, if the other rolled back).
    ``values`` maps field names to Python values; the rest of the row takes the columns' defaults.
    """
    meta = model._meta
    fields = [meta.get_field(name) for name in values]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in fields)
    conflict = ", ".join(quote(meta.get_field(name).column) for name in unique)
    placeholders = ", ".join(["%s"] * len(fields))
    # Names come from the model, values are bound parameters.
    sql = (f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({placeholders}) "  # noqa: S608
           f"ON CONFLICT ({conflict}) DO NOTHING RETURNING {quote(meta.pk.column)}")
    params = [field.get_db_prep_save(values[field.name], connection) for field in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return row[0] if row else None

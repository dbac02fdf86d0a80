"""Single-row reads and writes for the POS request path, without the ORM's query compiler.

Building and compiling a queryset costs 1–3 ms of CPU per statement (a member row: 2.7 ms through
``QuerySet.first()`` against 0.2 ms for the same ``SELECT`` sent through the cursor and turned into a
``Member`` with ``Model.from_db``), and a purchase sends over a dozen. These helpers write the SQL from
the model's metadata once per process and database vendor, bind values the way the ORM would
(``get_db_prep_save``) and convert what comes back with the same converters the ORM applies (SQLite's
UUIDs, dates and decimals arrive as text), so rows and instances are identical to the ORM's. Model
signals are not sent: use them only for models that have no receivers.
"""

from __future__ import annotations

import functools

from django.db import connection, transaction


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


@functools.cache
def _select_plan(model, vendor: str, fields: tuple[str, ...] | None):
    """The column list, attribute names and per-column converters for reading ``model`` rows."""
    meta = model._meta
    chosen = [meta.get_field(name) for name in fields] if fields else list(meta.concrete_fields)
    if meta.pk not in chosen:
        chosen.insert(0, meta.pk)
    columns = ", ".join(f"{_quote(meta.db_table)}.{_quote(field.column)}" for field in chosen)
    converters = []
    for index, field in enumerate(chosen):
        column = field.get_col(meta.db_table)
        found = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
        if found:
            converters.append((index, column, found))
    return columns, [field.attname for field in chosen], converters


def rows_select_one(model, where: str, params, *, fields: tuple[str, ...] | None = None, suffix: str = ""):
    """``SELECT <model's columns> FROM <table> WHERE <where> LIMIT 1 <suffix>`` as an instance, or None.

    ``where`` and ``suffix`` are SQL written by the caller (column names, never values); ``params`` are
    bound. ``fields`` limits the columns (the others are deferred, as with ``only()``).
    """
    columns, attnames, converters = _select_plan(model, connection.vendor, fields)
    sql = f"SELECT {columns} FROM {_quote(model._meta.db_table)} WHERE {where} LIMIT 1 {suffix}"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    if converters:
        row = list(row)
        for index, column, functions in converters:
            value = row[index]
            for function in functions:
                value = function(value, column, connection)
            row[index] = value
    return model.from_db(connection.alias, attnames, row)


def rows_exist(model, where: str, params) -> bool:
    """``SELECT 1 … WHERE <where> LIMIT 1``."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT 1 FROM {_quote(model._meta.db_table)} WHERE {where} LIMIT 1", params)  # noqa: S608
        return cursor.fetchone() is not None


def prep(model, field_name: str, value):
    """``value`` bound as the ORM binds it for ``field_name`` (UUIDs as hex on SQLite, JSON adapted…)."""
    return model._meta.get_field(field_name).get_db_prep_save(value, connection)


@functools.cache
def _insert_plan(model, vendor: str, with_pk: bool):
    meta = model._meta
    fields = [field for field in meta.concrete_fields if with_pk or not field.primary_key]
    columns = ", ".join(_quote(field.column) for field in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    sql = f"INSERT INTO {_quote(meta.db_table)} ({columns}) VALUES ({placeholders})"  # noqa: S608
    if not with_pk:
        sql += f" RETURNING {_quote(meta.pk.column)}"
    return sql, fields


def row_insert(obj) -> None:
    """Insert ``obj`` as ``obj.save(force_insert=True)`` would (defaults and ``pre_save`` applied), in one
    statement; an auto-increment primary key is read back with ``RETURNING``."""
    with_pk = obj.pk is not None
    sql, fields = _insert_plan(type(obj), connection.vendor, with_pk)
    params = [field.get_db_prep_save(field.pre_save(obj, True), connection) for field in fields]
    # As ``save()``: an error marks the enclosing atomic block for rollback, so nothing commits after it.
    with transaction.mark_for_rollback_on_error(), connection.cursor() as cursor:
        cursor.execute(sql, params)
        if not with_pk:
            obj.pk = cursor.fetchone()[0]
    obj._state.adding, obj._state.db = False, connection.alias


def row_update(model, pk, **values) -> int:
    """``UPDATE <table> SET <field> = <value>, … WHERE pk = <pk>``; the number of rows changed."""
    meta = model._meta
    fields = [meta.get_field(name) for name in values]
    assignments = ", ".join(f"{_quote(field.column)} = %s" for field in fields)
    params = [field.get_db_prep_save(values[field.name], connection) for field in fields]
    params.append(meta.pk.get_db_prep_value(pk, connection))
    with transaction.mark_for_rollback_on_error(), connection.cursor() as cursor:
        cursor.execute(f"UPDATE {_quote(meta.db_table)} SET {assignments} "  # noqa: S608
                       f"WHERE {_quote(meta.pk.column)} = %s", params)
        return cursor.rowcount

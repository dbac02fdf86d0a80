"""Single-row reads and writes for the POS request path, without the ORM's query compiler.

Building and compiling a queryset costs more CPU than sending its statement and building the instance
(``Model.from_db``) from the row, many times over, and a purchase sends over a dozen (the figures are in
bench/history.md, third round). These helpers write the SQL from
the model's metadata once per process, bind values the way the ORM would (``get_db_prep_save``) and
convert what comes back with the same converters the ORM applies, so rows and instances are identical to
the ORM's. Model signals are not sent, so the writers refuse a model that has ``pre_save`` or ``post_save``
receivers (a cache invalidated on save, say): write those through the ORM.
"""

from __future__ import annotations

import functools
import itertools
import re

from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.db.models.signals import post_save, pre_save
from django.utils.asyncio import async_unsafe


def database():
    """This thread's default database wrapper. ``django.db.connection`` is a proxy that looks it up again (a
    thread-local read) for every attribute, and the ORM's value preparation and converters read several per
    value: a request path that takes the wrapper once and hands it on saves ~90 lookups per purchase."""
    return connections[DEFAULT_DB_ALIAS]


_KEPT = "_loyalty_kept_cursor"


class _Kept:
    """``with statement_cursor(db) as c``: the wrapped kept cursor, not closed on the way out."""

    __slots__ = ("wrapped",)

    def __init__(self, wrapped):
        self.wrapped = wrapped

    def __enter__(self):
        return self.wrapped

    def __exit__(self, *exc_info):
        return False


@async_unsafe
def statement_cursor(db=None):
    """A cursor for one statement, as ``db.cursor()`` gives, over a driver cursor kept on the connection.

    ``db.cursor()`` opens a new driver cursor each time (psycopg copies its adapters into it), wraps it and
    closes it after the statement, which costs about as much CPU as a short statement itself. The kept cursor
    (and its wrapper) serves every statement of the thread's
    connection until the connection is replaced, or its time zone, which the cursor's loaders were set up
    for, changes. Statements are counted, logged and have their errors translated as through
    ``db.cursor()`` (a debug wrapper while queries are logged). Use it as ``with statement_cursor(db) as c:``
    (leaving the block does not close it) and fetch before the next statement."""
    db = db or database()
    db.close_if_health_check_failed()
    if db.connection is None:
        db.ensure_connection()
    kept = db.__dict__.get(_KEPT)
    if kept is None or kept[0] is not db.connection or kept[1] is not db.timezone:
        with db.wrap_database_errors:
            driver_cursor = db.create_cursor()
        kept = db.__dict__[_KEPT] = (db.connection, db.timezone, driver_cursor, _Kept(db.make_cursor(driver_cursor)))
    db.validate_thread_sharing()
    if db.queries_logged:
        return _Kept(db.make_debug_cursor(kept[2]))
    return kept[3]


def placeholders_named(sql: str, prefix: str) -> str:
    """``sql`` with its positional placeholders named ``<prefix>0``, ``<prefix>1``… in order."""
    numbers = itertools.count()
    return re.sub(r"%%|%s", lambda found: found[0] if found[0] == "%%" else f"%({prefix}{next(numbers)})s", sql)


def insert_sent(sql: str, params: list, *, db=None) -> None:
    """Send the ``INSERT`` ``sql`` now; an error marks the enclosing atomic block for rollback, as ``save()``."""
    with transaction.mark_for_rollback_on_error(), statement_cursor(db or database()) as cursor:
        cursor.execute(sql, params)


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


@functools.cache
def _select_plan(model, vendor: str, fields: tuple[str, ...] | None, alias: str):
    """The column list, attribute names and per-column converters for reading ``model`` rows."""
    meta = model._meta
    chosen = [meta.get_field(name) for name in fields] if fields else list(meta.concrete_fields)
    if meta.pk not in chosen:
        chosen.insert(0, meta.pk)
    columns = [f"{_quote(alias)}.{_quote(field.column)}" for field in chosen]
    converters = []
    for index, field in enumerate(chosen):
        column = field.get_col(alias)
        found = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
        if found:
            converters.append((index, column, found))
    return columns, [field.attname for field in chosen], converters


@functools.cache
def _join_plan(model, vendor: str, related: tuple[str, ...]):
    """For ``select_related``-style paths (``"account"``, ``"tier_status__tier"``): the LEFT JOINs, and per
    joined model the relation that links it to its parent (joined models are aliased ``r1``, ``r2``…)."""
    base = model._meta.db_table
    joins, steps, aliases = [], [], {"": base}
    for path in related:
        parent_path, parent_model = "", model
        for name in path.split("__"):
            here = f"{parent_path}__{name}" if parent_path else name
            relation = parent_model._meta.get_field(name)
            if here not in aliases:
                alias = aliases[here] = f"r{len(aliases)}"
                target = relation.related_model
                if relation.concrete:  # forward foreign key or one-to-one: the parent holds the column
                    on = (f"{_quote(alias)}.{_quote(relation.target_field.column)} = "
                          f"{_quote(aliases[parent_path])}.{_quote(relation.column)}")
                else:  # reverse one-to-one: the joined row holds the column
                    on = (f"{_quote(alias)}.{_quote(relation.field.column)} = "
                          f"{_quote(aliases[parent_path])}.{_quote(relation.field.target_field.column)}")
                joins.append(f"LEFT JOIN {_quote(target._meta.db_table)} {_quote(alias)} ON {on}")
                steps.append((here, parent_path, relation, target, alias))
            parent_path, parent_model = here, relation.related_model
    return " ".join(joins), steps


def _converted(row, start: int, converters, db) -> list:
    values = list(row)
    for index, column, functions in converters:
        value = values[start + index]
        for function in functions:
            value = function(value, column, db)
        values[start + index] = value
    return values


def _keys_read_back(model, keys: list, db) -> list:
    """Primary keys as ``RETURNING`` gave them, converted as the ORM converts what an insert returns, so a key is
    the same value (a ``uuid.UUID``, say) whichever way the row was written."""
    _, _, converters = _select_plan(model, db.vendor, (model._meta.pk.name,), model._meta.db_table)
    return [_converted((key,), 0, converters, db)[0] for key in keys] if converters else keys


def rows_as_instances(model, rows) -> list:
    """Rows holding every concrete column of ``model`` in field order (``SELECT <columns>`` written by the
    caller) as instances, converted as the ORM converts them."""
    db = database()
    _, attnames, converters = _select_plan(model, db.vendor, None, model._meta.db_table)
    from_db, alias = model.from_db, db.alias
    return [from_db(alias, attnames, _converted(row, 0, converters, db) if converters else row) for row in rows]


def rows_select_one(model, where: str, params, *, fields: tuple[str, ...] | None = None, suffix: str = "",
                    related: tuple[str, ...] = ()):
    """``SELECT <model's columns> FROM <table> WHERE <where> LIMIT 1 <suffix>`` as an instance, or None.

    ``where`` and ``suffix`` are SQL written by the caller (column names, never values); ``params`` are
    bound. ``fields`` limits the columns (the others are deferred, as with ``only()``). ``related`` reads
    one-to-one and foreign-key relations in the same statement, as ``select_related(*related)`` does
    (a missing row is cached as None); with it, ``where`` must qualify columns with the model's table.
    """
    db = database()
    table, vendor = model._meta.db_table, db.vendor
    columns, attnames, converters = _select_plan(model, vendor, fields, table)
    joins, steps = _join_plan(model, vendor, related) if related else ("", ())
    plans = [_select_plan(target, vendor, None, alias) for _, _, _, target, alias in steps]
    select = ", ".join([*columns, *(column for plan in plans for column in plan[0])])
    sql = f"SELECT {select} FROM {_quote(table)} {joins} WHERE {where} LIMIT 1 {suffix}"  # noqa: S608
    with statement_cursor(db) as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    values = _converted(row, 0, converters, db)
    instance = model.from_db(db.alias, attnames, values[:len(attnames)])
    objects, start = {"": instance}, len(attnames)
    for (path, parent_path, relation, target, _), (target_columns, target_attnames, target_converters) in zip(
            steps, plans, strict=True):
        width = len(target_columns)
        part = _converted(row[start:start + width], 0, target_converters, db)
        start += width
        parent = objects[parent_path]
        child = None if part[0] is None else target.from_db(db.alias, target_attnames, part)
        objects[path] = child
        if parent is None:
            continue
        relation.set_cached_value(parent, child)
        if child is not None and not relation.concrete:  # the joined row's own link back to its parent
            relation.field.set_cached_value(child, parent)
    return instance


def locked_row_suffix(model) -> str:
    """``rows_select_one``'s ``suffix`` that locks the model's row alone (not the rows ``related`` joins)."""
    return f"FOR UPDATE OF {_quote(model._meta.db_table)}"


def rows_select(model, where: str, params, *, order_by: str = "") -> list:
    """``SELECT <model's columns> FROM <table> WHERE <where> [ORDER BY <order_by>]`` as instances (``where`` and
    ``order_by`` are SQL written by the caller, column names only; ``params`` are bound)."""
    db = database()
    table = model._meta.db_table
    columns, _, _ = _select_plan(model, db.vendor, None, table)
    order = f" ORDER BY {order_by}" if order_by else ""
    sql = f"SELECT {', '.join(columns)} FROM {_quote(table)} WHERE {where}{order}"  # noqa: S608
    with statement_cursor(db) as cursor:
        cursor.execute(sql, params)
        return rows_as_instances(model, cursor.fetchall())


def rows_exist(model, where: str, params) -> bool:
    """``SELECT 1 … WHERE <where> LIMIT 1``."""
    with statement_cursor() as cursor:
        cursor.execute(f"SELECT 1 FROM {_quote(model._meta.db_table)} WHERE {where} LIMIT 1", params)  # noqa: S608
        return cursor.fetchone() is not None


def prep(model, field_name: str, value):
    """``value`` bound as the ORM binds it for ``field_name`` (JSON adapted, and so on)."""
    return model._meta.get_field(field_name).get_db_prep_save(value, database())


@functools.cache
def _concrete_names(model, with_pk: bool) -> tuple[str, ...]:
    return tuple(field.name for field in model._meta.concrete_fields if with_pk or not field.primary_key)


@functools.cache
def _insert_plan(model, vendor: str, names: tuple[str, ...], unless_exists: tuple[str, ...], returning: bool,
                 unless_exists_where: str = ""):
    """``INSERT INTO <table> (<names>) VALUES (…) [ON CONFLICT (<unless_exists>) [WHERE …] DO NOTHING]
    [RETURNING pk]``."""
    meta = model._meta
    fields = [meta.get_field(name) for name in names]
    columns = ", ".join(_quote(field.column) for field in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    sql = f"INSERT INTO {_quote(meta.db_table)} ({columns}) VALUES ({placeholders})"  # noqa: S608
    if unless_exists:
        where = f" WHERE {unless_exists_where}" if unless_exists_where else ""
        sql += (f" ON CONFLICT ({', '.join(_quote(meta.get_field(name).column) for name in unless_exists)}){where}"
                " DO NOTHING")
    if returning:
        sql += f" RETURNING {_quote(meta.pk.column)}"
    return sql, fields


class ModelHasReceivers(TypeError):
    """A model with save receivers was given to a writer that sends no signals."""


def _without_receivers(model) -> None:
    """Refuse ``model`` if anything listens for its saves: these writers would silently skip the receiver."""
    if pre_save.has_listeners(model) or post_save.has_listeners(model):
        raise ModelHasReceivers(f"{model.__name__} has pre_save or post_save receivers; write it through the ORM, "
                                "which sends them.")


def row_insert(obj, *, unless_exists: tuple[str, ...] = (), unless_exists_where: str = "") -> bool:
    """Insert ``obj`` as ``obj.save(force_insert=True)`` would (defaults and ``pre_save`` applied), in one
    statement; an auto-increment primary key is read back with ``RETURNING``.

    ``unless_exists`` names the fields of a unique constraint: a row with the same values already there
    (or committed meanwhile by a concurrent insert, which is waited for) means no insert and ``False``,
    where a plain insert would raise and need a savepoint to go on. For a partial unique index,
    ``unless_exists_where`` is its condition (SQL, column names only), which the database needs to find it.
    """
    db = database()
    model, with_pk = type(obj), obj.pk is not None
    _without_receivers(model)
    returning = not with_pk or bool(unless_exists)
    sql, fields = _insert_plan(model, db.vendor, _concrete_names(model, with_pk), unless_exists, returning,
                               unless_exists_where)
    params = [field.get_db_prep_save(field.pre_save(obj, True), db) for field in fields]
    # As ``save()``: an error marks the enclosing atomic block for rollback, so nothing commits after it.
    with transaction.mark_for_rollback_on_error(), statement_cursor(db) as cursor:
        cursor.execute(sql, params)
        if returning:
            row = cursor.fetchone()
            if row is None:
                return False
            obj.pk = _keys_read_back(model, [row[0]], db)[0]
    obj._state.adding, obj._state.db = False, db.alias
    return True


_ROWS_PER_INSERT = 500  # rows per statement: PostgreSQL takes at most 65,535 bound values in one


def rows_insert(objs: list, *, unless_exists: tuple[str, ...] = (), unless_exists_where: str = "") -> list:
    """Insert new rows of one model (auto-increment keys, defaults and ``pre_save`` applied as by ``save()``) in
    one statement per 500, answering the keys of the rows inserted; ``unless_exists`` (and
    ``unless_exists_where``) as for ``row_insert``: a row whose unique values are there already is left out
    of the answer, where ``bulk_create(ignore_conflicts=True)`` cannot tell which rows went in."""
    if not objs:
        return []
    db = database()
    model = type(objs[0])
    _without_receivers(model)
    sql, fields = _insert_plan(model, db.vendor, _concrete_names(model, False), unless_exists, True,
                               unless_exists_where)
    one = f"({', '.join(['%s'] * len(fields))})"
    head, _, tail = sql.partition(f" VALUES {one}")
    chunks = [objs[start:start + _ROWS_PER_INSERT] for start in range(0, len(objs), _ROWS_PER_INSERT)]
    statements = [(f"{head} VALUES {', '.join([one] * len(chunk))}{tail}",
                   [field.get_db_prep_save(field.pre_save(obj, True), db) for obj in chunk for field in fields])
                  for chunk in chunks]
    keys = []
    with transaction.mark_for_rollback_on_error(), statement_cursor(db) as cursor:
        for statement, params in statements:
            cursor.execute(statement, params)
            keys += _keys_read_back(model, [row[0] for row in cursor.fetchall()], db)
    return keys


def insert_or_nothing(model, values: dict, unique: tuple[str, ...]):
    """``INSERT … ON CONFLICT (unique) DO NOTHING RETURNING pk``: the new row's pk, or None if it exists.

    One statement, no savepoint: against a concurrent insert of the same unique values it waits for
    that transaction, as a plain insert would, and then yields (or inserts, if the other rolled back).
    ``values`` maps field names to Python values; the rest of the row takes the columns' defaults.
    """
    db = database()
    _without_receivers(model)
    sql, fields = _insert_plan(model, db.vendor, tuple(values), tuple(unique), True)
    params = [field.get_db_prep_save(values[field.name], db) for field in fields]
    with statement_cursor(db) as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return _keys_read_back(model, [row[0]], db)[0] if row else None


def row_update(model, pk, **values) -> int:
    """``UPDATE <table> SET <field> = <value>, … WHERE pk = <pk>``; the number of rows changed."""
    db, meta = database(), model._meta
    _without_receivers(model)
    fields = [meta.get_field(name) for name in values]
    assignments = ", ".join(f"{_quote(field.column)} = %s" for field in fields)
    params = [field.get_db_prep_save(values[field.name], db) for field in fields]
    params.append(meta.pk.get_db_prep_value(pk, db))
    sql = f"UPDATE {_quote(meta.db_table)} SET {assignments} WHERE {_quote(meta.pk.column)} = %s"  # noqa: S608
    with transaction.mark_for_rollback_on_error(), statement_cursor(db) as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount

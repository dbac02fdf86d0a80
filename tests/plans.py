"""What PostgreSQL would do with a statement, for tests that hold a query to its index."""

import re

from django.db import connection


def covering_plan(sql: str, params) -> str:
    """The plan of ``sql`` (planned, not run) as it would be on a real table, for a test that checks an index
    covers the statement: the test's table is small (a sequential scan would win), and whether PostgreSQL
    prefers the index alone to a bitmap of it depends on VACUUM's visibility map, which a test's transaction
    never gets. Call it inside the test's transaction (the settings are ``SET LOCAL``)."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


def generic_plan(where: str, *, numbers: list[int], types: tuple[str, ...], values: tuple[str, ...],
                 analyze: bool = False, bitmaps: bool = True) -> str:
    """The plan PostgreSQL keeps for ``SELECT id FROM ledger_pointslot WHERE <where>`` once psycopg has prepared it:
    the generic plan, made once for any values. ``where`` has ``%s`` placeholders, bound in order to the
    statement's parameters ``numbers`` (``$1``, ``$2``…, of ``types``); ``values`` are the parameters written out
    as SQL literals (``EXECUTE`` takes no bound parameters). ``analyze`` runs it; ``bitmaps=False`` keeps a
    bitmap scan out of the plan. Call it inside the test's transaction (the settings are ``SET LOCAL``)."""
    order = iter(numbers)
    statement = re.sub(r"%s", lambda _: f"${next(order)}", where)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE ledger_pointslot")
        cursor.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        cursor.execute("SET LOCAL enable_seqscan = off")  # the test's table is small; a real one is not
        if not bitmaps:
            cursor.execute("SET LOCAL enable_bitmapscan = off")
    driver = connection.connection  # PREPARE's own placeholders need the simple query protocol: no parameters
    driver.execute(f"PREPARE planned ({', '.join(types)}) AS SELECT id FROM ledger_pointslot WHERE {statement}")  # noqa: S608
    try:
        explain = "EXPLAIN (ANALYZE, COSTS OFF)" if analyze else "EXPLAIN"
        rows = driver.execute(f"{explain} EXECUTE planned ({', '.join(values)})").fetchall()
        return "\n".join(row[0] for row in rows)
    finally:
        driver.execute("DEALLOCATE planned")

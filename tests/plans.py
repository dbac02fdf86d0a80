"""What PostgreSQL would do with a statement, for tests that hold a query to its index."""

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

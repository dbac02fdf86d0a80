"""The per-earn path of tiers in hand-written SQL: count one activity, sum a window, read a tier id.

Every purchase, event and return counts towards tiers, so this is the hot path. The statements are
built once per process (per metric) and every value travels as a parameter.

Counting one activity (``activity_count``) inserts the ``QualifyingActivity`` row and rewrites the
member's cached qualifying value from the window's sum, and answers the member's tier id, the new
units and whether a manual lock holds:

* PostgreSQL: one statement, a data-modifying CTE. Its sub-selects read the statement's snapshot,
  which may predate a concurrent writer of the same member whose row lock the ``UPDATE`` then waits
  for (READ COMMITTED re-checks only the updated row, not the sum). So the ``UPDATE`` only applies
  to the very row version that snapshot saw (same ``xmin``): every writer of qualifying activity
  rewrites the status row in the same transaction, hence a status row unchanged since the snapshot
  means no activity is missing from the sum. Otherwise it updates nothing and the caller settles
  the member under the row lock, with a fresh sum (as on a member's first activity, when there is
  no status row yet).
* ``portable=True``: an ``INSERT`` and an ``UPDATE … RETURNING``, the plain form the test suite holds the
  one statement to.

Units are integers — points, credits or spend in cents — summed exactly as the set-based
recalculation sums them (``tiers.recalculation``), so both always agree on a member's value.
"""
# ruff: noqa: S608

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import NamedTuple

from loyalty.config_cache import ProgramMemo
from loyalty.rows import database, statement_cursor

from .models import QualifyingActivity, Tier, TierPolicy
from .qualification import Ladder

METRIC_SQL = {  # one activity row's units; ``{t}`` is the row's table alias
    TierPolicy.Metric.POINTS: "{t}.points",
    TierPolicy.Metric.CREDITS: "{t}.credits",
    TierPolicy.Metric.SPEND: "CAST(ROUND({t}.spend * 100) AS BIGINT)",
}


def policy_and_ladder(program_id) -> tuple[TierPolicy, Ladder]:
    """The program's policy and ladder, read now (two queries)."""
    policy = TierPolicy.objects.filter(program_id=program_id).first()
    if policy is None:
        policy = TierPolicy(program_id=program_id)
    return policy, Ladder.of(program_id, policy)


# The program's policy and ladder as of at most PROGRAM_CONFIG_CACHE_SECONDS ago (``loyalty.config_cache``),
# for counting activity and for the tier an earn reads. A stale copy can only delay an upgrade by those
# seconds (until the next activity or the nightly recalculation): an upgrade it suggests is decided again
# on fresh rows before it is written. The tier objects are shared: nothing may change them.
CONFIG = ProgramMemo("tiers", policy_and_ladder, models=(TierPolicy, Tier))


_SPEND = QualifyingActivity._meta.get_field("spend")


class Counted(NamedTuple):
    tier_id: int | None
    units: int
    locked: bool  # a manual tier lock is in force


def _insert_sql(returning: str = "") -> str:
    return ("INSERT INTO tiers_qualifyingactivity (program_id, member_id, occurred_at, points, spend, credits, "
            "source_type, source_id, actor, created_at) VALUES (%(program)s, %(member)s, %(occurred_at)s, "
            "%(points)s, %(spend)s, %(credits)s, %(source_type)s, %(source_id)s, %(actor)s, %(now)s)" + returning)


def _value_sql(units: str, metric: str) -> str:
    """The stored qualifying value of ``units``: spend is kept in currency (``100.0``, a numeric division)."""
    return f"CAST({units} AS NUMERIC) / 100.0" if metric == TierPolicy.Metric.SPEND else units


def _postgresql_sql(metric: str) -> tuple[str, ...]:
    new_units = METRIC_SQL[metric].format(t="tiers_qualifyingactivity")
    units = METRIC_SQL[metric].format(t="qa")
    return (
        "WITH activity AS (" + _insert_sql(f" RETURNING occurred_at, {new_units} AS units") + "), "
        "total AS (SELECT CAST(COALESCE(SUM(counted.units), 0) AS BIGINT) AS units FROM ("
        f"SELECT {units} AS units FROM tiers_qualifyingactivity qa "
        "WHERE qa.member_id = %(member)s AND qa.occurred_at >= %(since)s "
        "UNION ALL SELECT activity.units FROM activity WHERE activity.occurred_at >= %(since)s) counted) "
        f"UPDATE tiers_membertier status SET qualifying_value = {_value_sql('total.units', metric)}, "
        "updated_at = %(now)s FROM total WHERE status.member_id = %(member)s "
        "AND status.xmin = (SELECT seen.xmin FROM tiers_membertier seen WHERE seen.member_id = %(member)s) "
        "RETURNING status.tier_id, total.units, COALESCE(status.locked_until > %(now)s, FALSE)",
    )


def _portable_sql(metric: str) -> tuple[str, ...]:
    units = METRIC_SQL[metric].format(t="qa")
    total = (f"(SELECT COALESCE(SUM({units}), 0) FROM tiers_qualifyingactivity qa "
             "WHERE qa.member_id = %(member)s AND qa.occurred_at >= %(since)s)")
    return (
        _insert_sql(),
        f"UPDATE tiers_membertier SET qualifying_value = {_value_sql(total, metric)}, updated_at = %(now)s "
        "WHERE member_id = %(member)s "
        "RETURNING tier_id, qualifying_value, CASE WHEN locked_until > %(now)s THEN 1 ELSE 0 END",
    )


_STATEMENTS: dict[tuple[bool, str], tuple[str, ...]] = {}


def _count_statements(metric: str, *, portable: bool) -> tuple[str, ...]:
    """The statements that count one activity; the last one answers (tier id, units or value, locked)."""
    key = (portable, metric)
    if key not in _STATEMENTS:
        _STATEMENTS[key] = _portable_sql(metric) if portable else _postgresql_sql(metric)
    return _STATEMENTS[key]


def _uuid(value, db=None):
    return value if (db or database()).features.has_native_uuid_field else value.hex


def activity_count(*, program_id, member_id, metric: str, scale: int, since: datetime, now: datetime,
                   occurred_at: datetime, points: int, spend: Decimal, credits: int, source_type: str,
                   source_id: str, actor: str, portable: bool = False) -> Counted | None:
    """Record the activity and refresh the member's qualifying value over the window from ``since``.

    None when the status row is missing or (PostgreSQL) changed since this statement's snapshot:
    the activity is recorded, and the caller must settle the member's value under the row lock.
    """
    db = database()
    ops = db.ops
    params = {
        "program": _uuid(program_id, db), "member": _uuid(member_id, db), "occurred_at": ops.adapt_datetimefield_value(
            occurred_at), "points": points, "spend": _SPEND.get_db_prep_save(spend, db), "credits": credits,
        "source_type": source_type, "source_id": source_id, "actor": actor,
        "now": ops.adapt_datetimefield_value(now), "since": ops.adapt_datetimefield_value(since),
    }
    *writes, counting = _count_statements(metric, portable=portable)
    with statement_cursor(db) as cursor:
        for statement in writes:
            cursor.execute(statement, params)
        cursor.execute(counting, params)
        row = cursor.fetchone()
    if row is None:
        return None
    tier_id, total, locked = row
    # The portable statement answers the stored value, exact to the cent.
    units = round(Decimal(str(total)) * scale) if portable else total
    return Counted(tier_id=tier_id, units=units, locked=bool(locked))


_SUM_SQL: dict[tuple[str, bool], str] = {}


def window_units(*, member_id, metric: str, since: datetime, until: datetime | None = None) -> int:
    """The member's units from ``since`` (up to ``until``, exclusive), as ``activity_count`` sums them."""
    key = (metric, until is not None)
    if key not in _SUM_SQL:
        _SUM_SQL[key] = (f"SELECT COALESCE(SUM({METRIC_SQL[metric].format(t='qa')}), 0) "
                         "FROM tiers_qualifyingactivity qa WHERE qa.member_id = %(member)s "
                         "AND qa.occurred_at >= %(since)s" + (" AND qa.occurred_at < %(until)s" if until else ""))
    db = database()
    ops = db.ops
    params = {"member": _uuid(member_id, db), "since": ops.adapt_datetimefield_value(since)}
    if until is not None:
        params["until"] = ops.adapt_datetimefield_value(until)
    with statement_cursor(db) as cursor:
        cursor.execute(_SUM_SQL[key], params)
        return int(cursor.fetchone()[0])


_TIER_ID_SQL = "SELECT tier_id FROM tiers_membertier WHERE member_id = %s"


def status_tier_id(*, member_id) -> tuple[bool, int | None]:
    """(whether the member has a status row, its tier id), in one indexed read of one column."""
    db = database()
    with statement_cursor(db) as cursor:
        cursor.execute(_TIER_ID_SQL, [_uuid(member_id, db)])
        row = cursor.fetchone()
    return (False, None) if row is None else (True, row[0])


def tier_in(ladder: Ladder, tier_id: int | None) -> Tier | None:
    return next((t for t in ladder.tiers if t.pk == tier_id), None)

"""The ledger's per-request statements, written once as SQL instead of compiled from querysets per call.

Every purchase and redemption runs these. Through the ORM each statement paid for query building,
compiling and model construction; here the SQL strings are fixed, the values are
prepared by the model fields themselves (``get_db_prep_save``) and rows come back through the backend's
converters into model instances (``Model.from_db``), so what is written and read is exactly what the ORM
would write and read.

Two paths write a posting:

* row by row, when a posting does not fit one statement: one plain statement per row or per table, in
  the order the services always wrote them;
* otherwise one data-modifying ``WITH`` statement writing the new lot, the entry, its movements, the
  lots it changed and the account (``posting_write_one``).

The key claim also reads the account's due lots (and, for a spend, its spendable lots)
in the same statement (``claim``). That read is as fresh as a separate statement after the claim
would be: the claim runs after the account lock was granted, its snapshot is taken when it starts,
and every writer of an account's lots holds that account's lock, so all of them committed before
this snapshot and none can write until this transaction ends. (Reading lots in the lock statement
itself would not be: its snapshot is taken before it waits for the lock.)
"""

from __future__ import annotations

import functools
from datetime import datetime

from django.db import models

from loyalty.rows import database, placeholders_named, row_insert, rows_as_instances, rows_select_one, statement_cursor

from .models import LedgerEntry, LedgerTransaction, LotMovement, PointsAccount, PointsLot


class _Table:
    """A model's concrete columns: its row read into instances, its values prepared for writing."""

    def __init__(self, model):
        self.model = model
        self.table = model._meta.db_table
        self.fields = tuple(model._meta.concrete_fields)
        self.columns = ", ".join(field.column for field in self.fields)

    def field(self, name: str):
        return self.model._meta.get_field(name)

    def qualified(self, alias: str) -> str:
        return ", ".join(f"{alias}.{field.column}" for field in self.fields)

    def instances(self, rows) -> list:
        return rows_as_instances(self.model, rows)


class _Insert:
    """``INSERT INTO table (columns) VALUES (…)``, the values prepared by their fields."""

    def __init__(self, table: _Table, names: tuple[str, ...], suffix: str = ""):
        self.fields = tuple(table.field(name) for name in names)
        self.columns = ", ".join(field.column for field in self.fields)
        self.sql = (f"INSERT INTO {table.table} ({self.columns}) "  # noqa: S608 - names from the model
                    f"VALUES ({', '.join(['%s'] * len(names))}){suffix}")

    def params(self, *values) -> list:
        db = database()
        return [field.get_db_prep_save(value, db) for field, value in zip(self.fields, values, strict=True)]


ACCOUNTS = _Table(PointsAccount)
LOTS = _Table(PointsLot)
_TRANSACTIONS = _Table(LedgerTransaction)
_ENTRIES = _Table(LedgerEntry)

_CLAIM = _Insert(_TRANSACTIONS, ("program", "kind", "idempotency_key", "source_type", "source_id", "actor",
                                 "reason", "reverses", "created_at"),
                 " ON CONFLICT (program_id, idempotency_key) DO NOTHING RETURNING id")
_LOT = _Insert(LOTS, ("program", "account", "amount", "remaining", "earned_at", "available_at", "released",
                      "expires_at", "expired"), " RETURNING id")
_ENTRY = _Insert(_ENTRIES, ("public_id", "transaction", "program", "account", "kind", "points", "available_delta",
                            "pending_delta", "debt_delta", "lot", "expires_at", "description", "created_at"),
                 " RETURNING id")
_MEMBER = PointsAccount._meta.get_field("member")
_DATETIME = PointsLot._meta.get_field("available_at")
_LOT_ID = LotMovement._meta.get_field("lot")

# Releases and expiries that fell due (``_catch_up``), and what a spend may take, in spending order.
# The due lots are found through two indexes, one per way of falling due, each ranged by account and time
# (``lot_pending_due_idx``, ``lot_spending_order_idx``): the generic plan of a prepared ``account_id = %s AND
# (… OR …)`` expects an account to hold a lot or two, walks all of the account's lots and filters, which
# for a member of many years (or a busy till's regular, thousands of pending lots) is every lot they ever
# earned, on every operation. The outer condition is the definition, checked again on the locked row.
_DUE = "(NOT released AND available_at <= %s) OR (NOT expired AND remaining > 0 AND expires_at <= %s)"
_DUE_WHERE = ("id IN (SELECT id FROM ledger_pointslot WHERE account_id = %s AND NOT released AND available_at <= %s"  # noqa: S608
              " UNION ALL SELECT id FROM ledger_pointslot WHERE account_id = %s AND NOT expired AND remaining > 0"
              f" AND expires_at <= %s) AND ({_DUE})")


def _due_params(account_id: int, at) -> list:
    """The values of ``_DUE_WHERE``'s placeholders, in order."""
    return [account_id, at, account_id, at, at, at]

_SPENDABLE_WHERE = "account_id = %s AND released AND NOT expired AND remaining > 0"
_SPENDING_ORDER = "expires_at ASC NULLS LAST, earned_at ASC, id ASC"
# Of those, only the lots a spend of %s points takes from: the ones with fewer points before them in
# spending order (``_consume`` stops there), so a member with many lots is not read whole per spend. Every
# lot holds at least one point, so a spend of P points takes from P lots at most: the running sum is taken
# over the first P in spending order only, which PostgreSQL reads off ``lot_spending_order_idx`` (the
# spending order itself) and stops, where a window over all of them would read and sort every live lot the
# member holds.
_NEEDED = ("id IN (SELECT id FROM (SELECT id, SUM(remaining) OVER (ORDER BY {order} ROWS UNBOUNDED PRECEDING)"
           " - remaining AS before FROM (SELECT id, remaining, expires_at, earned_at FROM ledger_pointslot"
           " WHERE {where}{excluded} ORDER BY {order} LIMIT %s) AS soonest) AS spendable WHERE before < %s)")


def _needed_params(account_id: int, points: int, exclude=()) -> list:
    """The values of ``_needed()``'s placeholders, in order."""
    return [account_id, *exclude, points, points]


_FOR_UPDATE = " FOR UPDATE"


def _dt(value: datetime | None):
    return _DATETIME.get_db_prep_save(value, database())


def _select(sql: str, params) -> list:
    with statement_cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def account_lock(member_id) -> PointsAccount | None:
    """The member's account, locked; None without an account."""
    db = database()
    rows = _select(f"SELECT {ACCOUNTS.columns} FROM ledger_pointsaccount WHERE member_id = %s{_FOR_UPDATE}",  # noqa: S608
                   [_MEMBER.get_db_prep_value(member_id, db)])
    return ACCOUNTS.instances(rows)[0] if rows else None


def accounts_lock(member_ids) -> list[PointsAccount]:
    """The members' accounts, locked lowest id first."""
    db = database()
    ids = [_MEMBER.get_db_prep_value(pk, db) for pk in member_ids]
    placeholders = ", ".join(["%s"] * len(ids))
    return ACCOUNTS.instances(_select(
        f"SELECT {ACCOUNTS.columns} FROM ledger_pointsaccount "  # noqa: S608
        f"WHERE member_id IN ({placeholders}) ORDER BY id{_FOR_UPDATE}", ids))


def transaction_by_key(program_id, idempotency_key: str) -> LedgerTransaction | None:
    """The program's ledger transaction with this idempotency key (the unique index answers it)."""
    db = database()
    return rows_select_one(LedgerTransaction, '"ledger_ledgertransaction"."program_id" = %s AND '
                           '"ledger_ledgertransaction"."idempotency_key" = %s',
                           [_TRANSACTIONS.field("program").get_db_prep_value(program_id, db), idempotency_key])


def lots_among(account_id: int, lot_ids) -> list[PointsLot]:
    """Of ``lot_ids``, the account's lots with points left and not expired, locked, by id (a return takes
    back from the purchase's own lots first)."""
    lot_ids = list(lot_ids)
    if not lot_ids:
        return []
    return LOTS.instances(_select(
        f"SELECT {LOTS.columns} FROM ledger_pointslot WHERE account_id = %s AND id IN "  # noqa: S608
        f"({', '.join(['%s'] * len(lot_ids))}) AND remaining > 0 AND NOT expired ORDER BY id{_FOR_UPDATE}",
        [account_id, *lot_ids]))


def lots_due(account_id: int, now: datetime) -> list[PointsLot]:
    """The account's lots with a release or an expiry due at ``now``, locked, by id."""
    at = _dt(now)
    return LOTS.instances(_select(
        f"SELECT {LOTS.columns} FROM ledger_pointslot WHERE {_DUE_WHERE} ORDER BY id{_FOR_UPDATE}",  # noqa: S608
        _due_params(account_id, at)))


def _needed(excluded: int = 0) -> str:
    return _NEEDED.format(order=_SPENDING_ORDER, where=_SPENDABLE_WHERE,
                          excluded=f" AND id NOT IN ({', '.join(['%s'] * excluded)})" if excluded else "")


def lots_spendable(account_id: int, points: int, *, exclude=()) -> list[PointsLot]:
    """The account's available lots that a spend of ``points`` takes from, locked, soonest-expiring first."""
    return LOTS.instances(_select(
        f"SELECT {LOTS.columns} FROM ledger_pointslot WHERE {_needed(len(exclude))} "  # noqa: S608
        f"ORDER BY {_SPENDING_ORDER}{_FOR_UPDATE}", _needed_params(account_id, points, exclude)))


# The claim, the due lots and (for a spend) the spendable lots, in one statement (module docstring). The
# outer join yields one row with the claim's id when no lot matches; ``part`` 0 rows are the due lots by
# id, ``part`` 1 the spendable lots in spending order. Without a spend the spendable part is left out.
_CLAIM_AND_LOTS = """
WITH claim AS ({claim}),
due AS (SELECT 0 AS part, {columns} FROM ledger_pointslot WHERE {due} FOR UPDATE){spendable}
SELECT (SELECT id FROM claim), lots.part, {qualified}
FROM (VALUES (0)) AS one
LEFT JOIN ({lots}) AS lots ON true
ORDER BY lots.part, CASE WHEN lots.part = 1 THEN lots.expires_at END ASC NULLS LAST,
         CASE WHEN lots.part = 1 THEN lots.earned_at END ASC, lots.id ASC
"""


@functools.cache
def _claim_and_lots(spending: bool) -> str:
    spendable = (f",\nspendable AS (SELECT 1 AS part, {LOTS.columns} FROM ledger_pointslot "  # noqa: S608
                 f"WHERE {_needed()} FOR UPDATE)") if spending else ""
    return _CLAIM_AND_LOTS.format(  # names from the models, values bound
        claim=_CLAIM.sql, columns=LOTS.columns, due=_DUE_WHERE, spendable=spendable,
        qualified=LOTS.qualified("lots"),
        lots="SELECT * FROM due UNION ALL SELECT * FROM spendable" if spending else "SELECT * FROM due")


def claim(*, program_id, kind: str, idempotency_key: str, source_type: str, source_id: str, actor: str,
          reason: str, now: datetime, account_id: int, spend: int = 0, earn=None):
    """Insert the transaction row or yield to the one with the key: ``(id or None, due lots, spendable lots,
    earned)``.

    The lots (the spendable ones a spend of ``spend`` points takes from, if any) are read in the same
    statement. ``earn``, a posting that
    ``earns_with_claim``, is written by the same statement too when the key is new and no lot is due;
    ``earned`` says whether it was (its new lot then has its id).
    """
    params = _CLAIM.params(program_id, kind, idempotency_key, source_type, source_id, actor, reason, None, now)
    if earn is not None:
        return _claim_and_earn(params, now, earn)
    at = _dt(now)
    rows = _select(_claim_and_lots(bool(spend)),
                   [*params, *_due_params(account_id, at), *(_needed_params(account_id, spend) if spend else [])])
    lots = LOTS.instances(row[2:] for row in rows if row[1] is not None)
    due_count = sum(1 for row in rows if row[1] == 0)
    return rows[0][0], lots[:due_count], (lots[due_count:] if spend else None), False


def earns_with_claim(posting) -> bool:
    """An earn whose posting is its new lot, entry and balance alone (no debt repaid from the lot, which would
    be a movement of the new lot) can be written by the claim's statement (``claim(earn=…)``)."""
    lot = posting.lot
    return lot is not None and lot.pk is None and not posting.movements


def _typed(field) -> str:
    """A bound value cast to its column's type: in ``INSERT … SELECT`` the server does not take a parameter's
    type from the column, and an untyped ``NULL`` would be text. Strings are left to the column's own check
    (a cast to ``varchar(n)`` would cut them short)."""
    if isinstance(field, (models.CharField, models.TextField)):
        return ""
    return f"::{field.db_type(database())}"


# A posting's balance change, in the one-statement forms (named parameters, as ``_posting_params`` names them).
_ACCOUNT_POSTING = ("UPDATE ledger_pointsaccount SET available = available + %(available)s, pending = pending + "
                    "%(pending)s, debt = debt + %(debt)s, updated_at = %(now)s WHERE id = %(account)s")

# The claim, the due lots, and the earn's new lot, entry and balance, in one statement: the earn is written
# only when the claim inserted its row and no lot is due (a release or expiry falls due first, and a release
# may repay debt that the earn would otherwise repay: then the caller catches up and posts on its own).
_CLAIM_AND_EARN = """
WITH claim AS ({claim}),
due AS (SELECT 0 AS part, {columns} FROM ledger_pointslot WHERE {due} FOR UPDATE),
new_lot AS (
    INSERT INTO ledger_pointslot ({lot_columns})
    SELECT {lot_values} FROM claim WHERE NOT EXISTS (SELECT 1 FROM due)
    RETURNING id
),
entry AS (
    INSERT INTO ledger_ledgerentry ({entry_columns})
    SELECT {entry_values} FROM claim, new_lot
    RETURNING id
),
account AS ({account_update} AND EXISTS (SELECT 1 FROM entry))
SELECT (SELECT id FROM claim), (SELECT id FROM new_lot), lots.part, {qualified}
FROM (VALUES (0)) AS one
LEFT JOIN (SELECT * FROM due) AS lots ON true
ORDER BY lots.id
"""
_LOT_NAMES = ("lot_program", "account", "amount", "lot_remaining", "earned_at", "available_at", "released",
              "lot_expires_at", "expired")
_ENTRY_NAMES = ("public_id", None, "program", "account", "kind", "points", "available", "pending", "debt", None,
                "expires_at", "description", "now")


@functools.cache
def _claim_and_earn_sql() -> str:
    def values(insert: _Insert, names, computed: dict) -> str:
        return ", ".join(computed[index] if name is None else f"%({name})s{_typed(field)}"
                         for index, (field, name) in enumerate(zip(insert.fields, names, strict=True)))

    return _CLAIM_AND_EARN.format(  # names from the models, values bound
        claim=placeholders_named(_CLAIM.sql, "claim_"), columns=LOTS.columns,
        due=placeholders_named(_DUE_WHERE, "due_"), lot_columns=_LOT.columns,
        lot_values=values(_LOT, _LOT_NAMES, {}), entry_columns=_ENTRY.columns,
        entry_values=values(_ENTRY, _ENTRY_NAMES, {1: "claim.id", 9: "new_lot.id"}), account_update=_ACCOUNT_POSTING,
        qualified=LOTS.qualified("lots"))


def _claim_and_earn(claim_params: list, now: datetime, posting):
    at = _dt(now)
    params = {**{f"claim_{index}": value for index, value in enumerate(claim_params)},
              **{f"due_{index}": value for index, value in enumerate(_due_params(posting.account.pk, at))},
              **_posting_params(None, posting, now)}
    rows = _select(_claim_and_earn_sql(), params)
    pk, lot_id = rows[0][0], rows[0][1]
    if lot_id is not None:
        _lot_written(posting.lot, lot_id)
    due = LOTS.instances(row[3:] for row in rows if row[2] is not None)
    return pk, due, None, lot_id is not None


def _entry_params(txn, posting, now: datetime, lot_id) -> list:
    return _ENTRY.params(LedgerEntry.public_id.field.default(), txn.pk, txn.program_id, posting.account.pk,
                         posting.kind, posting.points, posting.available, posting.pending, posting.debt, lot_id,
                         posting.expires_at, posting.description[:200], now)


_ACCOUNT_UPDATE = ("UPDATE ledger_pointsaccount SET available = available + %s, pending = pending + %s, "
                   "debt = debt + %s, updated_at = %s WHERE id = %s")
_LOT_UPDATE = "UPDATE ledger_pointslot SET remaining = %s, released = %s, expired = %s WHERE id = %s"


def posting_write(txn, posting, now: datetime) -> None:
    """Portable: the posting's new lot (if not written yet), entry, movements and account, one statement each.

    The lots it took points from are the caller's to write (``lots_write``): a lot may be in several
    postings of one transaction.
    """
    lot = posting.lot
    if lot is not None and lot.pk is None:
        row_insert(lot)
    with statement_cursor() as cursor:
        cursor.execute(_ENTRY.sql, _entry_params(txn, posting, now, lot.pk if lot is not None else None))
        entry_id = cursor.fetchone()[0]
        moved = [(entry_id, moved_lot.pk, points) for moved_lot, points in posting.movements if points]
        if moved:
            cursor.execute(
                "INSERT INTO ledger_lotmovement (entry_id, lot_id, points) VALUES "  # noqa: S608
                + ", ".join(["(%s, %s, %s)"] * len(moved)), [value for row in moved for value in row])
        cursor.execute(_ACCOUNT_UPDATE, [posting.available, posting.pending, posting.debt, _dt(now),
                                         posting.account.pk])


def lots_write(lots) -> None:
    with statement_cursor() as cursor:
        for lot in lots:
            cursor.execute(_LOT_UPDATE, [lot.remaining, lot.released, lot.expired, lot.pk])


def fits_one_statement(posting) -> bool:
    """A new lot's id is known only inside the statement, so no movement may point at it."""
    lot = posting.lot
    return not (lot is not None and lot.pk is None and posting.movements)


_NEW_LOT = f"""
new_lot AS (
    INSERT INTO ledger_pointslot ({_LOT.columns})
    VALUES (%(lot_program)s, %(account)s, %(amount)s, %(lot_remaining)s, %(earned_at)s, %(available_at)s,
            %(released)s, %(lot_expires_at)s, %(expired)s)
    RETURNING id
),"""  # noqa: S608 - names from the model, values bound

_POSTING = """
WITH {new_lot}
entry AS (
    INSERT INTO ledger_ledgerentry ({entry_columns})
    VALUES (%(public_id)s, %(transaction)s, %(program)s, %(account)s, %(kind)s, %(points)s, %(available)s,
            %(pending)s, %(debt)s, {lot_id}, %(expires_at)s, %(description)s, %(now)s)
    RETURNING id
),{movements}{lots} account AS ({account_update})
SELECT {new_lot_id}
"""
_MOVEMENTS = """ movements AS (
    INSERT INTO ledger_lotmovement (entry_id, lot_id, points)
    SELECT entry.id, moved.lot_id, moved.points FROM entry, {rows} AS moved (lot_id, points)
),"""
_LOTS = """ lots AS (
    UPDATE ledger_pointslot l SET remaining = d.remaining, released = d.released, expired = d.expired
    FROM {rows} AS d (id, remaining, released, expired)
    WHERE l.id = d.id
),"""
_MOVEMENT_TYPES = ("bigint", "bigint")
_LOT_TYPES = ("bigint", "bigint", "boolean", "boolean")
# A posting's lots go in as a VALUES list up to this many, as arrays beyond. PostgreSQL guesses an array
# parameter at 100 elements, so a statement with one looks dearer as a generic plan than as a custom plan
# for the few it holds, and is planned at every run; a VALUES
# list has the row count in its text, and is planned once per connection and count.
_LISTED = 8


def _rows_sql(name: str, types: tuple[str, ...], count: int) -> str:
    if count <= _LISTED:
        return "(VALUES " + ", ".join(
            "(" + ", ".join(f"%({name}_{i}_{j})s::{kind}" for j, kind in enumerate(types)) + ")"
            for i in range(count)) + ")"
    return "unnest(" + ", ".join(f"%({name}_{j})s::{kind}[]" for j, kind in enumerate(types)) + ")"


def _rows_params(name: str, rows: list[tuple]) -> dict:
    if len(rows) <= _LISTED:
        return {f"{name}_{i}_{j}": value for i, row in enumerate(rows) for j, value in enumerate(row)}
    return {f"{name}_{j}": list(column) for j, column in enumerate(zip(*rows, strict=True))}


@functools.cache
def _posting_sql(new_lot: bool, moved: int, dirty: int) -> str:
    """The posting statement with only the parts it needs, for ``moved`` lot movements and ``dirty`` lots."""
    return _POSTING.format(
        new_lot=_NEW_LOT if new_lot else "", entry_columns=_ENTRY.columns,
        lot_id="(SELECT id FROM new_lot)" if new_lot else "%(lot)s",
        new_lot_id="(SELECT id FROM new_lot)" if new_lot else "NULL",
        movements=_MOVEMENTS.format(rows=_rows_sql("moved", _MOVEMENT_TYPES, moved)) if moved else "",
        lots=_LOTS.format(rows=_rows_sql("lot", _LOT_TYPES, dirty)) if dirty else "", account_update=_ACCOUNT_POSTING)


def posting_write_one(txn, posting, now: datetime) -> None:
    """PostgreSQL: what ``posting_write`` and ``lots_write`` write for one posting, as one statement."""
    lot = posting.lot
    new = lot is not None and lot.pk is None
    dirty = {moved.pk: moved for moved, _ in posting.movements}
    moved = [(moved.pk, points) for moved, points in posting.movements if points]
    params = _posting_params(txn.pk, posting, now)
    params.update(_rows_params("moved", moved))
    params.update(_rows_params("lot", [(pk, d.remaining, d.released, d.expired) for pk, d in dirty.items()]))
    rows = _select(_posting_sql(new, min(len(moved), _LISTED + 1), min(len(dirty), _LISTED + 1)), params)
    if new:
        _lot_written(lot, rows[0][0])


def _posting_params(transaction_id, posting, now: datetime) -> dict:
    """The named values of a posting's one-statement forms: its entry, balance change and new lot (if any)."""
    lot = posting.lot
    params = {
        "public_id": LedgerEntry.public_id.field.default(), "transaction": transaction_id,
        "program": posting.account.program_id, "account": posting.account.pk, "kind": posting.kind,
        "points": posting.points, "available": posting.available, "pending": posting.pending, "debt": posting.debt,
        "lot": lot.pk if lot is not None else None, "expires_at": posting.expires_at,
        "description": posting.description[:200], "now": now,
    }
    if lot is not None and lot.pk is None:
        params.update(lot_program=lot.program_id, amount=lot.amount, lot_remaining=lot.remaining,
                      earned_at=lot.earned_at, available_at=lot.available_at, released=lot.released,
                      lot_expires_at=lot.expires_at, expired=lot.expired)
    return params


def _lot_written(lot, pk) -> None:
    lot.pk = pk
    lot._state.adding, lot._state.db = False, database().alias

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.db.models import Count, F, Q, Sum, Value
from django.db.models.functions import Coalesce, TruncDate, TruncMonth

from loyalty.rows import prep, rows_select_one, statement_cursor

from .models import Kind, LedgerEntry, PointsAccount, PointsLot, VerificationRun


def account_balance_get(*, member, fresh: bool = False) -> dict:
    """The contract's balance object: spendable ``available`` (may be negative after a return) and ``pending``.

    ``fresh`` reads the account from the database instead of the copy cached on
    ``member`` (use it after moving points through the same member object).
    """
    if fresh:
        account = rows_select_one(PointsAccount, '"ledger_pointsaccount"."member_id" = %s',
                                  [prep(PointsAccount, "member", member.pk)])
    else:
        try:
            account = member.account
        except PointsAccount.DoesNotExist:
            account = None
    if account is None:
        return {"available": 0, "pending": 0}
    return {"available": account.spendable, "pending": account.pending}


def transaction_lot_ids(*, transaction_id) -> list[int]:
    """The lots a ledger transaction's entries point at (a purchase's earn: the lots its points went into)."""
    with statement_cursor() as cursor:
        cursor.execute("SELECT lot_id FROM ledger_ledgerentry WHERE transaction_id = %s AND lot_id IS NOT NULL",
                       [transaction_id])
        return [row[0] for row in cursor.fetchall()]


def entry_list(*, member):
    """A member's statement, newest first (served by ``entry_activity_idx``)."""
    return LedgerEntry.objects.filter(account__member=member).order_by("-created_at", "-id").only(
        "id", "public_id", "kind", "points", "created_at", "description", "expires_at"
    )


# --- a program's figures --------------------------------------------------------------------

ISSUED_KINDS = (Kind.EARN, Kind.BONUS)  # what the liability report counts as earned: purchases, events, bonuses
# What a member does themselves (a purchase, a return, a redemption, sending points), as opposed to what the
# platform or staff do to their account (releases, expiry, bonuses, adjustments).
ACTIVITY_KINDS = (Kind.EARN, Kind.REDEEM, Kind.RETURN, Kind.TRANSFER_OUT)


@dataclass(frozen=True)
class LedgerDay:
    """One local day of a program's ledger."""

    issued: int = 0  # points earned and bonuses credited
    redeemed: int = 0  # points spent on rewards (refunds of cancelled redemptions not netted)
    expired: int = 0
    net: int = 0  # the change in what members hold: available + pending - debt, every kind of entry
    active: int = 0  # members with an activity of their own that day


def ledger_days(*, program, start: datetime, end: datetime) -> dict[date, LedgerDay]:
    """The program's ledger per local day (its time zone) for entries booked in ``[start, end)``; days
    without entries are absent.

    One grouped scan of the entries booked in the range (``entry_booked_brin_idx`` skips the rest of the
    ledger). A day is the date an entry was booked, as in the liability report, whatever the date of the
    purchase behind it.
    """
    rows = (
        LedgerEntry.objects.filter(program=program, created_at__gte=start, created_at__lt=end)
        .annotate(day=TruncDate("created_at", tzinfo=program.zone))
        .order_by().values("day")
        .annotate(issued=Sum("points", filter=Q(kind__in=ISSUED_KINDS)),
                  redeemed=Sum("points", filter=Q(kind=Kind.REDEEM)),
                  expired=Sum("points", filter=Q(kind=Kind.EXPIRE)),
                  net=Sum("points"),
                  active=Count("account", distinct=True, filter=Q(kind__in=ACTIVITY_KINDS)))
    )
    return {row["day"]: LedgerDay(issued=row["issued"] or 0, redeemed=-(row["redeemed"] or 0),
                                  expired=-(row["expired"] or 0), net=row["net"] or 0, active=row["active"])
            for row in rows}


def points_outstanding(*, program) -> int:
    """What the program's members hold now: available + pending - debt over its accounts (the liability
    report's closing points for today). One aggregate over the program's accounts."""
    totals = PointsAccount.objects.filter(program=program).aggregate(
        held=Coalesce(Sum(F("available") + F("pending") - F("debt")), Value(0)))
    return totals["held"]


def verification_latest() -> VerificationRun | None:
    """The latest recorded ``ledger_verify`` run, or None before the first."""
    return VerificationRun.objects.order_by("-finished_at", "-id").first()

def account_open_lots(*, account, limit: int = 200) -> list[PointsLot]:
    """The account's lots still holding points, soonest-expiring first (``lot_spending_order_idx``): what is
    pending until when, and what expires when."""
    return list(PointsLot.objects.filter(account=account, remaining__gt=0, expired=False)
                .order_by("expires_at", "earned_at", "id")[:limit])


def statement_page(*, account, offset: int, limit: int, kinds=None) -> tuple[list[LedgerEntry], int]:
    """``limit`` entries of the account's statement from ``offset`` (newest first) with their transactions, and
    the sum of the points of the ``offset`` newer entries (to carry a running total down the page). ``kinds``:
    only entries of these kinds."""
    entries = LedgerEntry.objects.filter(account=account)
    if kinds is not None:
        entries = entries.filter(kind__in=list(kinds))
    entries = entries.select_related("transaction").order_by("-created_at", "-id")
    newer = 0
    if offset:
        newer = entries.values("points")[:offset].aggregate(total=Coalesce(Sum("points"), Value(0)))["total"]
    return list(entries[offset:offset + limit]), newer


def statement_position(*, account, transaction_id) -> int | None:
    """How many of the account's entries are newer than its entry of ``transaction_id`` (None: it has none)."""
    entry = LedgerEntry.objects.filter(account=account, transaction_id=transaction_id).order_by("-id").first()
    if entry is None:
        return None
    return LedgerEntry.objects.filter(account=account).filter(
        Q(created_at__gt=entry.created_at) | Q(created_at=entry.created_at, id__gt=entry.id)).count()


def lot_origins(*, lot_ids) -> dict[int, LedgerEntry]:
    """The entry (with its transaction) that created each lot: where released or expired points came from."""
    return {entry.lot_id: entry for entry in LedgerEntry.objects.filter(lot_id__in=list(lot_ids))
            .select_related("transaction")}


# --- verification ----------------------------------------------------------------------------


@dataclass
class LedgerReport:
    """What ``ledger_verify`` found: accounts whose caches disagree, lots whose numbers do not add up."""

    accounts_checked: int = 0
    lots_checked: int = 0
    accounts: list[dict] = field(default_factory=list)  # {"account", "member", "problems": {...}}
    lots: list[dict] = field(default_factory=list)  # {"lot", "account", "amount", "remaining", "moved", "problems"}

    @property
    def ok(self) -> bool:
        return not self.accounts and not self.lots


def _account_problems(account: dict, entries: dict, lots: dict) -> dict:
    cached = {name: account[name] for name in ("available", "pending", "debt")}
    problems = {}
    for name, value in cached.items():
        if entries[name] != value:
            problems[f"{name}_entries"] = {"cached": value, "entries": entries[name]}
        if name in lots and lots[name] != value:
            problems[f"{name}_lots"] = {"cached": value, "lots": lots[name]}
    total = cached["available"] + cached["pending"] - cached["debt"]
    if entries["points"] != total:
        problems["statement"] = {"cached": total, "entries": entries["points"]}
    if cached["debt"] > 0 and cached["available"] > 0:
        problems["debt_with_available"] = {"debt": cached["debt"], "available": cached["available"]}
    return problems


def _verify_batch(report: LedgerReport, accounts: list[dict]) -> None:
    """Four aggregate queries for a batch of accounts with consecutive ids, whatever their size."""
    low, high = accounts[0]["id"], accounts[-1]["id"]
    in_range = {"account_id__gte": low, "account_id__lte": high}
    zero = Value(0)
    entry_sums = {
        row["account_id"]: row
        for row in LedgerEntry.objects.filter(**in_range).order_by().values("account_id").annotate(
            available=Coalesce(Sum("available_delta"), zero), pending=Coalesce(Sum("pending_delta"), zero),
            debt=Coalesce(Sum("debt_delta"), zero), points=Coalesce(Sum("points"), zero),
        )
    }
    lot_sums = {
        row["account_id"]: row
        for row in PointsLot.objects.filter(**in_range).order_by().values("account_id").annotate(
            available=Coalesce(Sum("remaining", filter=Q(released=True)), zero),
            pending=Coalesce(Sum("remaining", filter=Q(released=False)), zero),
            lots=Count("id"),
        )
    }
    no_entries = {"available": 0, "pending": 0, "debt": 0, "points": 0}
    no_lots = {"available": 0, "pending": 0, "lots": 0}
    for account in accounts:
        lots = lot_sums.get(account["id"], no_lots)
        report.lots_checked += lots["lots"]
        if problems := _account_problems(account, entry_sums.get(account["id"], no_entries), lots):
            report.accounts.append({"account": account["id"], "member": str(account["member_id"]),
                                    "problems": problems})
    bad_lots = (
        PointsLot.objects.filter(**in_range).order_by("pk")
        .annotate(moved=Coalesce(Sum("movements__points"), zero))
        .filter(Q(remaining__lt=0) | Q(remaining__gt=F("amount")) | ~Q(remaining=F("amount") + F("moved"))
                | Q(expired=True, remaining__gt=0))
        .values("pk", "account_id", "amount", "remaining", "moved", "expired")
    )
    wanted = {account["id"] for account in accounts}  # a narrowed check skips other accounts in the range
    for lot in bad_lots:
        if lot["account_id"] not in wanted:
            continue
        problems = []
        if lot["remaining"] < 0:
            problems.append("below_zero")
        if lot["remaining"] > lot["amount"]:
            problems.append("above_amount")
        if lot["remaining"] != lot["amount"] + lot["moved"]:
            problems.append("movements_disagree")
        if lot["expired"] and lot["remaining"] > 0:
            problems.append("expired_with_points")
        report.lots.append({"lot": lot["pk"], "account": lot["account_id"], "amount": lot["amount"],
                            "remaining": lot["remaining"], "moved": lot["moved"], "problems": problems})


def ledger_verify_report(*, accounts=None, batch_size: int = 5000) -> LedgerReport:
    """Recompute every account from its entries and from its lots, set-based, in batches of accounts.

    Each batch costs the same few aggregate queries however many entries it
    holds; ``accounts`` narrows the check to a queryset of ``PointsAccount``.
    """
    report = LedgerReport()
    queryset = (accounts if accounts is not None else PointsAccount.objects.all()).order_by("pk")
    last = None
    while True:
        page = queryset if last is None else queryset.filter(pk__gt=last)
        batch = list(page.values("id", "member_id", "available", "pending", "debt")[:batch_size])
        if not batch:
            break
        report.accounts_checked += len(batch)
        _verify_batch(report, batch)
        if len(batch) < batch_size:
            break
        last = batch[-1]["id"]
    return report


def account_drift(*, account: PointsAccount) -> dict | None:
    """What the account's cached balances say against its entries and lots; None when they agree."""
    report = ledger_verify_report(accounts=PointsAccount.objects.filter(pk=account.pk))
    problems = dict(report.accounts[0]["problems"]) if report.accounts else {}
    if report.lots:
        problems["lots"] = report.lots
    return problems or None


# --- reports and exports ---------------------------------------------------------------------


def account_balances(*, member_ids) -> dict:
    """``{member_id: (available, pending)}`` as the POS API gives them (available net of debt), one query."""
    rows = PointsAccount.objects.filter(member_id__in=list(member_ids)).values_list(
        "member_id", "available", "pending", "debt")
    return {member_id: (available - debt, pending) for member_id, available, pending, debt in rows}


def _points(condition: Q):
    return Coalesce(Sum("points", filter=condition), Value(0))


def liability_totals(*, program_id, start_at, end_at) -> dict[str, int]:
    """The program's statement totals: before ``start_at`` (opening), by kind from ``start_at`` up to
    ``end_at`` (signed, as booked), and before ``end_at`` (closing). An entry counts when it was booked.

    Releases move points from pending to available and show 0; a transfer's two entries are booked
    together and cancel out, so ``closing - opening`` is the sum of the kinds named here.
    """
    in_range = Q(created_at__gte=start_at)
    return LedgerEntry.objects.filter(program_id=program_id, created_at__lt=end_at).aggregate(
        opening=_points(Q(created_at__lt=start_at)),
        earned=_points(in_range & Q(kind__in=[Kind.EARN, Kind.BONUS])),
        returned=_points(in_range & Q(kind=Kind.RETURN)),
        redeemed=_points(in_range & Q(kind=Kind.REDEEM)),
        refunded=_points(in_range & Q(kind=Kind.REFUND)),
        expired=_points(in_range & Q(kind=Kind.EXPIRE)),
        adjusted=_points(in_range & Q(kind=Kind.ADJUST)),
        closing=Coalesce(Sum("points"), Value(0)),
    )


def liability_by_day(*, program_id, start_at, end_at, zone) -> dict:
    """``{local date: {kind: signed points}}`` for the entries booked from ``start_at`` up to ``end_at``."""
    rows = (LedgerEntry.objects.filter(program_id=program_id, created_at__gte=start_at, created_at__lt=end_at)
            .annotate(day=TruncDate("created_at", tzinfo=zone)).order_by().values("day", "kind")
            .annotate(points=Sum("points")).values_list("day", "kind", "points"))
    days: dict = {}
    for day, kind, points in rows:
        days.setdefault(day, {})[kind] = points
    return days


def ledger_daily_totals(*, program_id, start_at, end_at, zone) -> list[tuple]:
    """``[(local date, kind, signed points, entries)]`` of the program's entries booked from ``start_at`` up to
    ``end_at``: one grouped read, what the analytics rollups store."""
    return list(
        LedgerEntry.objects.filter(program_id=program_id, created_at__gte=start_at, created_at__lt=end_at)
        .annotate(day=TruncDate("created_at", tzinfo=zone)).order_by().values("day", "kind")
        .annotate(points=Sum("points"), entries=Count("id")).values_list("day", "kind", "points", "entries"))


def ledger_kind_totals(*, program_id, end_at) -> dict[str, int]:
    """``{kind: signed points}`` of every entry of the program booked before ``end_at``."""
    return dict(LedgerEntry.objects.filter(program_id=program_id, created_at__lt=end_at).order_by().values("kind")
                .annotate(points=Sum("points")).values_list("kind", "points"))


def first_entry_at(*, program_id):
    """When the program's first ledger entry was booked (``None``: it has none)."""
    return LedgerEntry.objects.filter(program_id=program_id).order_by("id").values_list("created_at", flat=True) \
        .first()


def points_expiring_by_month(*, program_id, after, until, zone) -> list[tuple]:
    """``[(first day of the local month, points, accounts)]`` of the points that expire after ``after`` up to
    ``until``: what is left in lots not expired yet, pending ones included."""
    return list(
        PointsLot.objects.filter(program_id=program_id, expired=False, remaining__gt=0, expires_at__gt=after,
                                 expires_at__lte=until)
        .annotate(month=TruncMonth("expires_at", tzinfo=zone)).order_by("month").values("month")
        .annotate(points=Sum("remaining"), accounts=Count("account_id", distinct=True))
        .values_list("month", "points", "accounts")
    )


ENTRY_EXPORT_FIELDS = (
    "created_at", "public_id", "account__member_id", "account__member__card_number", "kind", "points",
    "available_delta", "pending_delta", "debt_delta", "expires_at", "description", "transaction__source_type",
    "transaction__source_id", "transaction__idempotency_key", "transaction__actor", "transaction__reason",
)


def entry_export_rows(*, program_id, start_at=None, end_at=None):
    """The program's entries in booking order as tuples of ``ENTRY_EXPORT_FIELDS`` (a lazy queryset: iterate
    it with ``.iterator()`` to read through a server-side cursor)."""
    entries = LedgerEntry.objects.filter(program_id=program_id)
    if start_at is not None:
        entries = entries.filter(created_at__gte=start_at)
    if end_at is not None:
        entries = entries.filter(created_at__lt=end_at)
    # Ids rise with booking time: the primary key's order needs no sort of a large table.
    return entries.order_by("id").values_list(*ENTRY_EXPORT_FIELDS)


def transfer_sent_points(*, account, start: datetime, end: datetime) -> int:
    """Points the account sent to other members in ``[start, end)`` (``entry_activity_idx``): what a daily
    transfer limit counts."""
    sent = (LedgerEntry.objects.filter(account=account, kind=Kind.TRANSFER_OUT, created_at__gte=start,
                                       created_at__lt=end)
            .aggregate(points=Coalesce(Sum("points"), Value(0)))["points"])
    return -sent


def program_day(*, program, at: datetime) -> tuple[datetime, datetime]:
    """The program-local calendar day containing ``at``, as ``[start, end)``."""
    zone = program.zone
    day = at.astimezone(zone).date()
    return datetime.combine(day, time(0), zone), datetime.combine(day + timedelta(days=1), time(0), zone)


def transfer_left_today(*, program, account, now: datetime) -> int | None:
    """Points the account may still send today under the program's daily limit (None: no limit)."""
    limit = program.transfer_daily_limit
    if limit is None:
        return None
    start, end = program_day(program=program, at=now)
    return max(limit - transfer_sent_points(account=account, start=start, end=end), 0)


def transfer_sent_get(*, sender, idempotency_key: str) -> tuple[int, object] | None:
    """A transfer ``sender`` made under ``idempotency_key``: ``(points, recipient member)``, else None."""
    entries = list(LedgerEntry.objects.filter(
        transaction__program_id=sender.program_id, transaction__idempotency_key=idempotency_key,
        transaction__kind=Kind.TRANSFER_OUT).select_related("account__member"))
    sent = next((e for e in entries if e.kind == Kind.TRANSFER_OUT and e.account.member_id == sender.pk), None)
    received = next((e for e in entries if e.kind == Kind.TRANSFER_IN), None)
    if sent is None or received is None:
        return None
    return -sent.points, received.account.member


def bonus_entries(*, account, source_type: str):
    """The account's bonus entries of one source (``referral``, ``signup``, …), newest first, with their
    transaction (whose ``source_id`` names what earned them)."""
    return (LedgerEntry.objects.filter(account=account, kind=Kind.BONUS, transaction__source_type=source_type)
            .select_related("transaction").order_by("-created_at", "-id"))


def members_with_kind(*, member_ids, kind: str) -> set:
    """Which of ``member_ids`` have at least one ledger entry of ``kind`` (``earn``: their first points)."""
    return set(LedgerEntry.objects.filter(account__member_id__in=list(member_ids), kind=kind)
               .values_list("account__member_id", flat=True).distinct())


# --- a member's own data (the portal's "Download my data") -------------------------------------

def member_entries_export(*, member):
    """Every entry of the member's statement, oldest first, as dicts (a lazy queryset: iterate it with
    ``.iterator()``; ``entry_activity_idx`` serves the order, read backwards)."""
    return (LedgerEntry.objects.filter(account__member=member).order_by("created_at", "id")
            .values("public_id", "kind", "points", "created_at", "expires_at", "description",
                    "transaction__source_type"))


def member_lots_export(*, member):
    """The member's lots (each earn's points: pending until, expiring when, what is left), oldest first, as dicts
    (a lazy queryset)."""
    return (PointsLot.objects.filter(account__member=member).order_by("earned_at", "id")
            .values("id", "amount", "remaining", "earned_at", "available_at", "released", "expires_at", "expired"))


# --- read by analytics: points accounting ---

# Each issue month's points as they move, from the lots: credited into new lots (purchases, events, bonuses, a
# positive adjustment), taken out by a redemption or by expiry, or taken back (a return, a negative adjustment,
# a debt a return left repaid out of new points). A transfer takes points out of the sender's lots and puts
# them into new lots of the same issue month (the lot keeps its ``earned_at``), so it is left out on both
# sides; a refund gives a spend's points back into new lots of the issue months the spend took them from,
# read through the spend's own movements.
_LOT_FLOWS_SQL = """
WITH booked AS (
    SELECT id, kind, lot_id, transaction_id, created_at FROM ledger_ledgerentry
    WHERE program_id = %(program)s AND created_at >= %(start)s AND created_at < %(end)s
), flows AS (
    SELECT b.created_at, l.earned_at, l.amount AS issued, 0::bigint AS redeemed, 0::bigint AS expired,
           0::bigint AS reversed
    FROM booked b JOIN ledger_pointslot l ON l.id = b.lot_id
    WHERE b.kind IN ('earn', 'bonus', 'adjust')
    UNION ALL
    SELECT b.created_at, l.earned_at, 0,
           CASE WHEN b.kind = 'redeem' THEN -m.points ELSE 0 END,
           CASE WHEN b.kind = 'expire' THEN -m.points ELSE 0 END,
           CASE WHEN b.kind IN ('redeem', 'expire') THEN 0 ELSE -m.points END
    FROM booked b JOIN ledger_lotmovement m ON m.entry_id = b.id JOIN ledger_pointslot l ON l.id = m.lot_id
    WHERE b.kind <> 'transfer_out' AND m.points <> 0
    UNION ALL
    SELECT b.created_at, l.earned_at, 0,
           CASE WHEN s.kind = 'redeem' THEN m.points ELSE 0 END, 0,
           CASE WHEN s.kind = 'redeem' THEN 0 ELSE m.points END
    FROM booked b JOIN ledger_ledgertransaction t ON t.id = b.transaction_id
    JOIN ledger_ledgerentry s ON s.transaction_id = t.reverses_id
    JOIN ledger_lotmovement m ON m.entry_id = s.id JOIN ledger_pointslot l ON l.id = m.lot_id
    WHERE b.kind = 'refund'
)
SELECT (created_at AT TIME ZONE %(zone)s)::date AS day,
       date_trunc('month', earned_at AT TIME ZONE %(zone)s)::date AS issue_month,
       SUM(issued)::bigint, SUM(redeemed)::bigint, SUM(expired)::bigint, SUM(reversed)::bigint
FROM flows GROUP BY 1, 2 ORDER BY 1, 2
"""


def lot_flows_daily(*, program_id, start_at, end_at, zone) -> list[tuple]:
    """``[(local day booked, first day of the issue month, issued, redeemed, expired, reversed)]`` for the
    program's entries booked from ``start_at`` up to ``end_at``: how the points of each issue month (the local
    month their lot was earned in) moved, day by day, in points (redeemed net of refunds). Over every day, an
    issue month's ``issued − redeemed − expired − reversed`` is what its lots hold now.

    One grouped statement over the entries booked in the range (``entry_booked_brin_idx``), their lot
    movements (by entry) and lots (by id)."""
    with statement_cursor() as cursor:
        cursor.execute(_LOT_FLOWS_SQL, {"program": program_id, "start": start_at, "end": end_at, "zone": str(zone)})
        return cursor.fetchall()


def lots_held_by_issue_month(*, program_id, zone) -> dict[date, int]:
    """``{first day of the local issue month: points}`` the program's lots hold now (pending ones included): what
    each issue month still has open, as the ledger's lots say."""
    rows = (PointsLot.objects.filter(program_id=program_id, remaining__gt=0)
            .annotate(month=TruncMonth("earned_at", tzinfo=zone)).order_by().values("month")
            .annotate(points=Sum("remaining")).values_list("month", "points"))
    return {(month.date() if isinstance(month, datetime) else month): points for month, points in rows}


def last_entry_at(*, program_id):
    """When the program's latest ledger entry was booked (``None``: it has none); ids rise with booking time."""
    return LedgerEntry.objects.filter(program_id=program_id).order_by("-id").values_list("created_at", flat=True) \
        .first()

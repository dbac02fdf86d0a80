"""Every movement of points.

Each public function is one database transaction that locks the accounts it
touches (in primary-key order, so two transfers in opposite directions cannot
deadlock), first catches the account up with time (releases and expiries that
fell due, in the order they fell due), is idempotent by its key, and keeps the
cached balances equal to the entries and to the lots.

Bookkeeping, checked by ``manage.py ledger_verify``:

* per account, the sums of the entries' ``available_delta``/``pending_delta``/
  ``debt_delta`` equal the cached ``available``/``pending``/``debt``;
* released lots' ``remaining`` sum to ``available``, pending lots' to ``pending``;
* a lot's ``amount`` plus its movements equals its ``remaining``;
* the statement (``points`` of the entries) sums to ``available + pending - debt``,
  which is why a release, a move from pending to available, shows 0 points.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import SimpleNamespace

from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q, Sum
from django.utils import timezone

from loyalty.errors import DomainError
from loyalty.rows import row_insert
from loyalty.transactions import plan_each_statement, service_atomic

from . import sql
from .models import Kind, LedgerEntry, LedgerTransaction, PointsAccount, PointsLot, VerificationRun
from .selectors import LedgerReport, ledger_verify_report, transfer_left_today
from .signals import points_expired

logger = logging.getLogger(__name__)

RELEASE_ACTOR = "system:release"
EXPIRY_ACTOR = "system:expiry"
FORFEIT_ACTOR = "system:account-closed"


def account_open(*, member) -> PointsAccount:
    account, _ = PointsAccount.objects.get_or_create(member=member, defaults={"program_id": member.program_id})
    return account


def account_open_new(*, member) -> PointsAccount:
    """The account of a member inserted in the caller's transaction: none can exist yet (nobody else sees the
    member before it commits), so one insert, without ``account_open``'s read and savepoint."""
    account = PointsAccount(program_id=member.program_id, member=member)  # also cached as member.account
    row_insert(account)
    return account


def _select_locked(member_ids: set) -> dict:
    return {account.member_id: account for account in sql.accounts_lock(member_ids)}


def _lock_accounts(*members) -> list[PointsAccount]:
    """Lock the members' accounts, lowest account id first: one query when they all exist (the rule)."""
    ids = {m.pk for m in members}
    accounts = _select_locked(ids)
    if len(accounts) < len(ids):  # only a member enrolled before accounts existed
        for member in members:
            if member.pk not in accounts:
                account_open(member=member)
        accounts = _select_locked(ids)
    return [accounts[m.pk] for m in members]


def _locked_of(member, account: PointsAccount) -> PointsAccount:
    if account.member_id != member.pk:
        raise ValueError("locked is another member's account")
    return account


def _replay(program_id, idempotency_key: str) -> LedgerTransaction | None:
    txn = sql.transaction_by_key(program_id, idempotency_key)
    if txn is not None:
        txn.replayed = True
    return txn


class _KeyTaken(Exception):
    """Another transaction committed the same idempotency key first (only possible across accounts)."""

    def __init__(self, program_id, idempotency_key: str):
        super().__init__(idempotency_key)
        self.program_id = program_id
        self.idempotency_key = idempotency_key


def _exactly_once(service):
    """Run ``service`` atomically; if a concurrent caller committed its key first, answer with theirs.

    Calls for one account are serialised by the account lock and find the key
    by ``_replay``; this covers the same key racing on two different accounts,
    where the unique constraint decides.
    """
    atomic_service = transaction.atomic(service)

    @functools.wraps(service)
    def run(**kwargs):
        try:
            return atomic_service(**kwargs)
        except _KeyTaken as taken:
            if taken.idempotency_key != kwargs.get("idempotency_key"):
                raise
            txn = _replay(taken.program_id, taken.idempotency_key)
            if txn is None:
                raise
            return txn

    return run


def _claimed_once(service):
    """Atomic, for services that claim their key first (``_claim``): a key taken by a concurrent caller is
    found by the claim itself, so there is nothing to catch, and no savepoint inside ``all_or_nothing()``."""
    return service_atomic(service)


def _claim(*, account: PointsAccount, kind: str, idempotency_key: str, source_type: str, source_id: str,
           actor: str, reason: str, now: datetime, spend: int = 0, earn: _Posting | None = None):
    """Insert the transaction row for ``idempotency_key`` (caller holds the account lock), or answer the one
    that exists, marked ``replayed``.

    One statement (``INSERT … ON CONFLICT DO NOTHING RETURNING``): a concurrent caller with the same key
    on another account is waited for on the unique index, and its transaction is answered if it
    commits. It replaces a read of the key plus a savepoint around a plain insert.

    Answers ``(transaction, due lots, spendable lots, earned)``; on PostgreSQL the same statement reads the
    lots for ``_catch_up`` and (``spend`` points) ``_consume`` (see ``ledger/sql.py``), elsewhere they are
    ``None`` and read when needed. ``earn``, a posting ``sql.earns_with_claim`` accepts, is written by that
    statement too when the key is new and no lot is due (``earned``); otherwise nothing of it is written.
    """
    program_id = account.program_id
    pk, due, spendable, earned = sql.claim(
        program_id=program_id, kind=kind, idempotency_key=idempotency_key, source_type=source_type,
        source_id=str(source_id), actor=actor, reason=reason, now=now, account_id=account.pk, spend=spend, earn=earn)
    if pk is None:  # the key's row has committed (the claim waited for it): answer it
        txn = _replay(program_id, idempotency_key)
        if txn is None:
            raise LedgerTransaction.DoesNotExist(idempotency_key)
        return txn, None, None, False
    txn = LedgerTransaction(id=pk, program_id=program_id, kind=kind, idempotency_key=idempotency_key,
                            source_type=source_type, source_id=str(source_id), actor=actor, reason=reason,
                            reverses=None, created_at=now)
    txn._state.adding, txn._state.db = False, connection.alias
    txn.replayed = False
    if earned:
        _applied([earn], now)
    return txn, due, spendable, earned


def _hand_back(member, account: PointsAccount) -> None:
    """Leave the locked account, as this transaction leaves it, on ``member.account``: callers answer the
    new balance from it without reading the account again (exact while the lock is held, until commit)."""
    member.account = account


@dataclass
class _Posting:
    """The effect of one operation on one account, built up and then written once."""

    account: PointsAccount
    kind: str
    points: int = 0
    available: int = 0
    pending: int = 0
    debt: int = 0
    lot: PointsLot | None = None
    expires_at: datetime | None = None
    description: str = ""
    movements: list[tuple[PointsLot, int]] = field(default_factory=list)

    def take(self, lot: PointsLot, points: int) -> None:
        """Take ``points`` out of ``lot``, from whichever bucket the lot is counted in."""
        lot.remaining -= points
        self.movements.append((lot, -points))
        if lot.released:
            self.available -= points
        else:
            self.pending -= points

    def repay_debt_from(self, lot: PointsLot) -> None:
        """Points becoming available first pay off debt left by returns of spent points.

        Call it after the lot's points were counted in ``self.available``.
        """
        debt = self.account.debt + self.debt
        repay = min(debt, lot.remaining)
        if repay > 0:
            lot.remaining -= repay
            self.movements.append((lot, -repay))
            self.available -= repay
            self.debt -= repay

    def touched(self) -> set[int]:
        return {lot.pk for lot, _ in self.movements}


def _post(*, program_id, kind: str, idempotency_key: str, source_type: str, source_id: str, actor: str,
          reason: str, postings: list[_Posting], reverses: LedgerTransaction | None = None,
          now: datetime, txn: LedgerTransaction | None = None) -> LedgerTransaction:
    """Write the postings under ``txn`` (already claimed by ``_claim``) or under a new transaction row.

    A posting's ``lot`` not yet written (no id) is written with it; the lots it took points from are
    written as they are in memory."""
    if txn is None:
        try:
            with transaction.atomic():
                txn = LedgerTransaction.objects.create(
                    program_id=program_id, kind=kind, idempotency_key=idempotency_key, source_type=source_type,
                    source_id=str(source_id), actor=actor, reason=reason, reverses=reverses, created_at=now,
                )
        except IntegrityError:
            raise _KeyTaken(program_id, idempotency_key) from None
    if len(postings) == 1 and sql.fits_one_statement(postings[0]):
        sql.posting_write_one(txn, postings[0], now)
    else:
        dirty_lots: dict[int, PointsLot] = {}
        for posting in postings:
            sql.posting_write(txn, posting, now)
            for lot, _ in posting.movements:
                dirty_lots[lot.pk] = lot
        sql.lots_write(dirty_lots.values())
    _applied(postings, now)
    txn.replayed = False
    return txn


def _applied(postings: list[_Posting], now: datetime) -> None:
    """The written postings' effect on the accounts in memory (they are locked: exact until commit)."""
    for posting in postings:
        account = posting.account
        account.available += posting.available
        account.pending += posting.pending
        account.debt += posting.debt
        account.updated_at = now


def _lot(*, account: PointsAccount, amount: int, earned_at: datetime, available_at: datetime,
         expires_at: datetime | None, now: datetime) -> PointsLot:
    """A new lot, not written yet: as a posting's ``lot``, ``_post`` writes it with the entry."""
    return PointsLot(program_id=account.program_id, account=account, amount=amount, remaining=amount,
                     earned_at=earned_at, available_at=available_at, released=available_at <= now,
                     expires_at=expires_at)


def _new_lot(*, account: PointsAccount, amount: int, earned_at: datetime, available_at: datetime,
             expires_at: datetime | None, now: datetime) -> PointsLot:
    lot = _lot(account=account, amount=amount, earned_at=earned_at, available_at=available_at,
               expires_at=expires_at, now=now)
    row_insert(lot)
    return lot


def _spendable_lots(account: PointsAccount, points: int, *, exclude: set[int] = frozenset()) -> list[PointsLot]:
    """The available lots, locked, that taking ``points`` in spending order takes from (all, if they fall short)."""
    return sql.lots_spendable(account.pk, points, exclude=sorted(exclude))


def _consume(posting: _Posting, points: int, lots) -> int:
    """Take up to ``points`` from ``lots`` in order; returns what could not be taken."""
    left = points
    if left == 0:
        return 0
    for lot in lots:
        taken = min(lot.remaining, left)
        if taken:
            posting.take(lot, taken)
            left -= taken
        if left == 0:
            break
    return left


def _require_positive(points: int) -> None:
    if not isinstance(points, int) or isinstance(points, bool) or points <= 0:
        raise DomainError.invalid("points", "Points must be a positive whole number.")


def _insufficient(needed: int, account: PointsAccount) -> DomainError:
    return DomainError("insufficient_points", f"Needs {needed} points; {account.spendable} available.",
                       title="Insufficient points")


# --- time: release and expiry, caught up lazily by every operation and by the batch jobs ----------


def _release_lot(*, account: PointsAccount, lot: PointsLot, now: datetime, actor: str) -> bool:
    """Move a pending lot's points to available (paying debt first). True when points moved."""
    lot.released = True
    if lot.remaining == 0:
        PointsLot.objects.filter(pk=lot.pk).update(released=True)
        return False
    moved = lot.remaining
    posting = _Posting(account=account, kind=Kind.RELEASE, points=0, pending=-moved, available=moved,
                       description=f"{moved} points released")
    posting.movements.append((lot, 0))  # no points leave the lot; this marks it dirty so ``released`` is written
    posting.repay_debt_from(lot)
    _post(program_id=account.program_id, kind=Kind.RELEASE, idempotency_key=f"release:lot:{lot.pk}",
          source_type="lot", source_id=str(lot.pk), actor=actor, reason="", postings=[posting], now=now)
    return True


def _expire_lot(*, account: PointsAccount, lot: PointsLot, now: datetime, actor: str) -> bool:
    """Expire exactly what is left in the lot, once. True when points expired."""
    if lot.expired or lot.remaining == 0:
        return False
    posting = _Posting(account=account, kind=Kind.EXPIRE, points=-lot.remaining, description="Points expired")
    posting.take(lot, lot.remaining)
    lot.expired = True
    _post(program_id=account.program_id, kind=Kind.EXPIRE, idempotency_key=f"expire:lot:{lot.pk}",
          source_type="lot", source_id=str(lot.pk), actor=actor, reason="", postings=[posting], now=now)
    return True


def _catch_up(*, account: PointsAccount, now: datetime, release_actor: str = RELEASE_ACTOR,
              expiry_actor: str = EXPIRY_ACTOR, due: list[PointsLot] | None = None,
              announce: bool = True) -> tuple[int, int]:
    """Apply the releases and expiries that fell due, in the order they fell due (caller holds the lock).

    Order matters only through debt: a lot released before it expired pays debt
    first and then expires what is left; a lot that expired while pending never
    becomes available. On a tie, expiry wins. Returns (released, expired) lot counts.

    ``due``: the due lots, locked, by id, when the caller read them already under the lock (``_claim``).
    ``announce``: publish ``points.expired`` for what expired here; the expiry job passes False, as it
    announces each batch at once (the daily job would not see these lots again, so nothing else would).
    """
    if due is None:
        due = sql.lots_due(account.pk, now)
    events = []
    for lot in due:
        if not lot.released and lot.available_at <= now:
            events.append((lot.available_at, 1, lot.pk, lot))
        if not lot.expired and lot.remaining > 0 and lot.expires_at is not None and lot.expires_at <= now:
            events.append((lot.expires_at, 0, lot.pk, lot))
    events.sort(key=lambda event: event[:3])
    released = expired = 0
    lost: dict[int, int] = {}  # lot id → points it lost
    for _, is_release, _, lot in events:
        if is_release:
            released += _release_lot(account=account, lot=lot, now=now, actor=release_actor)
        elif (points := lot.remaining) and _expire_lot(account=account, lot=lot, now=now, actor=expiry_actor):
            expired += 1
            lost[lot.pk] = points
    if announce and lost:
        _expired_announce(account, lost, now=now)
    return released, expired


def _expired_announce(account: PointsAccount, lost: dict[int, int], *, now: datetime) -> None:
    """``points.expired`` for lots that expired as another operation caught their account up.

    Each lot expires once (its ledger key is ``expire:lot:<id>``), so an event id derived from the lots
    is announced once, whichever transaction got there first.
    """
    points_expired.send(sender=PointsAccount, expired=[(account, sum(lost.values()))],
                        run_key="expiry:lots:" + ",".join(map(str, sorted(lost))), now=now)


# --- earning -------------------------------------------------------------------------------


@_claimed_once
def points_earn(
    *, member, points: int, idempotency_key: str, source_type: str, source_id: str = "", actor: str,
    occurred_at: datetime | None = None, available_at: datetime | None = None,
    expires_at: datetime | None = None, kind: str = Kind.EARN, description: str = "", reason: str = "",
    locked: PointsAccount | None = None,
) -> LedgerTransaction:
    """Credit ``points`` into a new lot: pending until ``available_at``, expiring at ``expires_at``.

    Leaves the account with its new balance on ``member.account`` (replayed or not). ``locked`` is the
    member's account as ``account_lock`` answered it earlier in the caller's
    transaction (not locked again)."""
    _require_positive(points)
    (account,) = (_locked_of(member, locked),) if locked is not None else _lock_accounts(member)
    now = timezone.now()
    occurred_at = occurred_at or now

    def earning() -> _Posting:
        lot = _lot(account=account, amount=points, earned_at=occurred_at, available_at=available_at or now,
                   expires_at=expires_at, now=now)
        posting = _Posting(account=account, kind=kind, points=points, lot=lot, expires_at=expires_at,
                           description=description)
        if lot.released:
            posting.available += points
            posting.repay_debt_from(lot)
        else:
            posting.pending += points
        return posting

    # Written by the claim's statement when nothing falls due first (the usual case): one round trip less.
    ahead = earning()
    txn, due, _, earned = _claim(account=account, kind=kind, idempotency_key=idempotency_key,
                                 source_type=source_type, source_id=source_id, actor=actor, reason=reason, now=now,
                                 earn=ahead if sql.earns_with_claim(ahead) else None)
    _hand_back(member, account)
    if txn.replayed or earned:
        return txn
    _catch_up(account=account, now=now, due=due)
    return _post(program_id=account.program_id, kind=kind, idempotency_key=idempotency_key,
                 source_type=source_type, source_id=source_id, actor=actor, reason=reason,
                 postings=[earning()], now=now, txn=txn)


# --- spending ------------------------------------------------------------------------------


@_claimed_once
def points_spend(
    *, member, points: int, idempotency_key: str, source_type: str, source_id: str = "", actor: str,
    kind: str = Kind.REDEEM, description: str = "", reason: str = "", locked: PointsAccount | None = None,
) -> LedgerTransaction:
    """Debit ``points`` from available lots, soonest-expiring first; never below zero.

    A refused spend (``insufficient_points``) rolls back and changes nothing (its claimed key included).
    Leaves the account with its new balance on ``member.account`` when it answers. ``locked`` is the
    member's account as ``account_lock`` answered it earlier in the caller's transaction (not locked again).
    """
    _require_positive(points)
    (account,) = (_locked_of(member, locked),) if locked is not None else _lock_accounts(member)
    now = timezone.now()
    txn, due, spendable, _ = _claim(account=account, kind=kind, idempotency_key=idempotency_key,
                                    source_type=source_type, source_id=source_id, actor=actor, reason=reason,
                                    now=now, spend=points)
    if txn.replayed:
        _hand_back(member, account)
        return txn
    _catch_up(account=account, now=now, due=due)
    if account.spendable < points:
        raise _insufficient(points, account)
    if due:  # read before the catch-up changed these lots
        spendable = _spendable_lots(account, points)
    posting = _Posting(account=account, kind=kind, points=-points, description=description)
    left = _consume(posting, points, spendable)
    if left:  # ledger_verify would report the same disagreement
        raise AssertionError(f"account {account.pk}: cached available disagrees with its lots")
    txn = _post(program_id=account.program_id, kind=kind, idempotency_key=idempotency_key,
                source_type=source_type, source_id=source_id, actor=actor, reason=reason,
                postings=[posting], now=now, txn=txn)
    _hand_back(member, account)
    return txn


@_claimed_once
def points_reverse_return(
    *, member, points: int, idempotency_key: str, source_type: str, source_id: str = "", actor: str,
    from_lots: list[int], description: str = "",
) -> LedgerTransaction:
    """Take back points a returned purchase earned.

    First from the purchase's own lots (pending or available), then from other
    available points, and what is left becomes debt: the member had already
    spent it, so the spendable balance goes below zero. The key is claimed first, as a spend claims it
    (one statement that also reads the due lots on PostgreSQL; no savepoint inside ``all_or_nothing()``).
    """
    _require_positive(points)
    (account,) = _lock_accounts(member)
    now = timezone.now()
    txn, due, _, _ = _claim(account=account, kind=Kind.RETURN, idempotency_key=idempotency_key,
                            source_type=source_type, source_id=source_id, actor=actor, reason="", now=now)
    if txn.replayed:
        return txn
    _catch_up(account=account, now=now, due=due)
    posting = _Posting(account=account, kind=Kind.RETURN, points=-points, description=description)
    left = _consume(posting, points, sql.lots_among(account.pk, from_lots))
    # The own lots just taken are changed in memory only: keep them out of the second read.
    left = _consume(posting, left, _spendable_lots(account, left, exclude=posting.touched()))
    posting.debt += left
    return _post(program_id=account.program_id, kind=Kind.RETURN, idempotency_key=idempotency_key,
                 source_type=source_type, source_id=source_id, actor=actor, reason="", postings=[posting],
                 now=now, txn=txn)


_NOT_REFUNDABLE = {Kind.RETURN, Kind.EXPIRE, Kind.TRANSFER_OUT, Kind.RELEASE, Kind.REFUND}


@_exactly_once
def points_refund(*, spend: LedgerTransaction, idempotency_key: str, actor: str, source_type: str,
                  source_id: str = "", description: str = "") -> LedgerTransaction:
    """Give back exactly what a spend took, into lots with the same expiry dates it took them from.

    A spend is refunded at most once, whatever the key: a second refund answers
    the first (marked ``replayed``). Points whose expiry date has passed since
    the spend expire at once.
    """
    entry = spend.entries.select_related("account__member").get()
    if entry.points >= 0 or entry.kind in _NOT_REFUNDABLE or entry.pending_delta or entry.debt_delta:
        raise ValueError("only a spend of available points can be refunded")
    (account,) = _lock_accounts(entry.account.member)
    if existing := _replay(account.program_id, idempotency_key):
        return existing
    if earlier := spend.reversals.filter(kind=Kind.REFUND).first():
        earlier.replayed = True
        return earlier
    now = timezone.now()
    _catch_up(account=account, now=now)
    posting = _Posting(account=account, kind=Kind.REFUND, points=-entry.points, description=description)
    for movement in entry.movements.select_related("lot").order_by("pk"):
        lot = _new_lot(account=account, amount=-movement.points, earned_at=movement.lot.earned_at,
                       available_at=now, expires_at=movement.lot.expires_at, now=now)
        posting.available += lot.amount
        posting.repay_debt_from(lot)
    txn = _post(program_id=account.program_id, kind=Kind.REFUND, idempotency_key=idempotency_key,
                source_type=source_type, source_id=source_id, actor=actor, reason="", postings=[posting],
                reverses=spend, now=now)
    _catch_up(account=account, now=now)
    return txn


# --- staff ---------------------------------------------------------------------------------


@_exactly_once
def points_adjust(
    *, member, points: int, reason: str, actor: str, idempotency_key: str,
    expires_in: timedelta | None = None,
) -> LedgerTransaction:
    """A manual correction by staff: positive credits a new lot, negative debits available points."""
    if not isinstance(points, int) or isinstance(points, bool) or points == 0:
        raise DomainError.invalid("points", "Give a non-zero whole number of points.")
    if not (reason or "").strip():
        raise DomainError.invalid("reason", "Every manual adjustment needs a reason.")
    (account,) = _lock_accounts(member)
    if existing := _replay(account.program_id, idempotency_key):
        return existing
    now = timezone.now()
    _catch_up(account=account, now=now)
    posting = _Posting(account=account, kind=Kind.ADJUST, points=points, description=reason.strip())
    if points > 0:
        expires_at = now + expires_in if expires_in else None
        lot = _new_lot(account=account, amount=points, earned_at=now, available_at=now, expires_at=expires_at,
                       now=now)
        posting.lot, posting.expires_at = lot, expires_at
        posting.available += points
        posting.repay_debt_from(lot)
    else:
        if account.spendable < -points:
            raise _insufficient(-points, account)
        if _consume(posting, -points, _spendable_lots(account, -points)):
            raise AssertionError(f"account {account.pk}: cached available disagrees with its lots")
    return _post(program_id=account.program_id, kind=Kind.ADJUST, idempotency_key=idempotency_key,
                 source_type="staff", source_id="", actor=actor, reason=reason.strip(), postings=[posting],
                 now=now)


@_exactly_once
def points_transfer(
    *, sender, recipient, points: int, idempotency_key: str, actor: str, reason: str = "",
) -> LedgerTransaction:
    """Move available points between two members of one program; they keep their expiry dates."""
    _require_positive(points)
    if sender.pk == recipient.pk:
        raise DomainError.invalid("recipient", "Points cannot be transferred to the same member.")
    if sender.program_id != recipient.program_id:
        raise DomainError("member_not_found", "No member matches this reference in the program.",
                          title="Member not found")
    source, target = _lock_accounts(sender, recipient)
    if existing := _replay(source.program_id, idempotency_key):
        return existing
    now = timezone.now()
    _catch_up(account=source, now=now)
    _catch_up(account=target, now=now)
    if source.spendable < points:
        raise _insufficient(points, source)
    out = _Posting(account=source, kind=Kind.TRANSFER_OUT, points=-points, description=reason or "Points sent")
    if _consume(out, points, _spendable_lots(source, points)):
        raise AssertionError(f"account {source.pk}: cached available disagrees with its lots")
    into = _Posting(account=target, kind=Kind.TRANSFER_IN, points=points, description=reason or "Points received")
    for lot, taken in out.movements:
        new_lot = _new_lot(account=target, amount=-taken, earned_at=lot.earned_at, available_at=now,
                           expires_at=lot.expires_at, now=now)
        into.available += new_lot.amount
        into.repay_debt_from(new_lot)
    return _post(program_id=source.program_id, kind=Kind.TRANSFER_OUT, idempotency_key=idempotency_key,
                 source_type="transfer", source_id="", actor=actor, reason=reason, postings=[out, into], now=now)


@transaction.atomic
def points_transfer_member(
    *, sender, recipient, points: int, idempotency_key: str, actor: str,
) -> LedgerTransaction:
    """A member's own transfer to another member of the program (family pooling), within the program's rules.

    ``Program.transfer_daily_limit`` caps the points one sender sends per program-local day (None: no cap,
    0: transfers are off); both members must be active. Both accounts are locked before the day's total is
    read, so two transfers of one sender at once cannot both slip under the limit; a key already used
    answers its transfer (marked ``replayed``) before any limit is looked at, so a second submit of one
    form is the first transfer, not a refusal.
    """
    program = sender.program
    limit = program.transfer_daily_limit
    if limit == 0:
        raise DomainError("transfers_off", "This program does not allow transfers between members.",
                          title="Transfers off")
    _require_positive(points)
    if sender.pk == recipient.pk:
        raise DomainError.invalid("recipient", "Points cannot be transferred to the same member.")
    if sender.program_id != recipient.program_id or recipient.is_suspended:
        raise DomainError("member_not_found", "No member matches this reference in the program.",
                          title="Member not found")
    if sender.is_suspended:
        raise DomainError("member_suspended", "This member is suspended and cannot earn or redeem points.",
                          title="Member suspended")
    source, _ = _lock_accounts(sender, recipient)
    if existing := _replay(source.program_id, idempotency_key):
        return existing
    left = transfer_left_today(program=program, account=source, now=timezone.now())
    if left is not None and points > left:
        raise DomainError("transfer_limit_reached",
                          f"At most {limit} points a day may be transferred; {left} left today.",
                          title="Transfer limit reached", extra={"limit": limit, "left": left})
    return points_transfer(sender=sender, recipient=recipient, points=points, idempotency_key=idempotency_key,
                           actor=actor)


# --- time-driven ---------------------------------------------------------------------------


@transaction.atomic
def account_expire(*, member, now: datetime | None = None, actor: str = EXPIRY_ACTOR) -> int:
    """Expire the member's lots past their date (catching up releases that fell due before them).

    Returns the number of lots expired.
    """
    (account,) = _lock_accounts(member)
    return _catch_up(account=account, now=now or timezone.now(), expiry_actor=actor)[1]


@transaction.atomic
def account_release(*, member, now: datetime | None = None, actor: str = RELEASE_ACTOR) -> int:
    """Release the member's pending lots that are due (catching up expiries that fell due before them).

    Returns the number of lots released.
    """
    (account,) = _lock_accounts(member)
    return _catch_up(account=account, now=now or timezone.now(), release_actor=actor)[0]


@transaction.atomic
def account_forfeit(*, member, actor: str = FORFEIT_ACTOR, now: datetime | None = None) -> int:
    """The points of a closed account lapse: everything left in its lots, available or pending, leaves in one
    ``expire`` transaction (the roll-forward counts it with expired points), so that nobody's liability keeps
    points nobody can spend. Debt left by a return stays on the books as it was. Returns the points forfeited;
    a second call finds nothing left and posts nothing."""
    (account,) = _lock_accounts(member)
    now = now or timezone.now()
    _catch_up(account=account, now=now)
    lots = list(PointsLot.objects.select_for_update().filter(account=account, remaining__gt=0, expired=False)
                .order_by("id"))
    if not lots:
        return 0
    posting = _Posting(account=account, kind=Kind.EXPIRE, description="Points forfeited: the account was closed")
    for lot in lots:
        posting.take(lot, lot.remaining)
        lot.expired = True
    posting.points = sum(points for _, points in posting.movements)
    _post(program_id=account.program_id, kind=Kind.EXPIRE, idempotency_key=f"forfeit:account:{account.pk}",
          source_type="account", source_id=str(account.pk), actor=actor, reason="The member closed their account.",
          postings=[posting], now=now)
    return -posting.points


def account_lock(*, member) -> PointsAccount:
    """Lock a member's account for the caller's transaction, so checks made before moving points
    (per-member limits, say) cannot race another request of the same member."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("account_lock must be called inside a transaction")
    found = sql.account_lock(member.pk)
    if found is None:  # only a member enrolled before accounts existed
        account_open(member=member)
        found = sql.account_lock(member.pk)
    return found


# --- batch jobs: release and expiry over every account ------------------------------------------
#
# Each batch is one transaction over a range of account ids: it locks the range's accounts that have
# due lots (lowest id first, skipping accounts another worker or request holds: every writer of lots
# locks the account first, so this order cannot deadlock), re-reads their due lots under the lock,
# and writes, on PostgreSQL, with one set-based statement exactly what ``_catch_up`` would write:
# the same transactions (``release:lot:<id>`` / ``expire:lot:<id>``), entries, movements, lot flags
# and balances. Accounts where order matters (debt to repay on release, a lot whose release and expiry
# both fell due) and every account on other databases go through ``_catch_up`` itself. A lot leaves
# the due set in the batch that handles it, so a rerun or a second worker finds nothing more to do,
# and a run stopped between batches is finished by the next one; accounts skipped because they were
# locked are retried, waiting for the lock, before the run ends.


@dataclass
class LotRun:
    """What one run of a batch job did."""

    lots: int = 0  # lots released or expired (with points moved)
    points: int = 0  # points moved by the set-based statements (lots handled one by one are not summed)
    accounts: int = 0  # accounts locked and caught up
    batches: int = 0
    one_by_one: int = 0  # accounts that went through ``_catch_up``


# Each due lot gets its transaction and entry ids up front (``nextval``), so every insert reads the one
# ``due`` list directly: no joins between the statement's parts, whatever their size.
_RELEASE_SQL = """
WITH due AS (
    SELECT l.*, nextval((SELECT pg_get_serial_sequence('ledger_ledgertransaction', 'id'))::regclass) AS txn_id,
           nextval((SELECT pg_get_serial_sequence('ledger_ledgerentry', 'id'))::regclass) AS entry_id
    FROM (SELECT id, program_id, account_id, remaining FROM ledger_pointslot
          WHERE account_id = ANY(%(accounts)s) AND NOT released AND available_at <= %(now)s
          ORDER BY id) l
), moving AS (
    SELECT * FROM due WHERE remaining > 0  -- an empty lot (expired while pending) is only marked
), txns AS (
    INSERT INTO ledger_ledgertransaction (id, program_id, kind, idempotency_key, source_type, source_id, actor,
                                          reason, reverses_id, created_at)
    SELECT txn_id, program_id, 'release', 'release:lot:' || id, 'lot', id::text, %(actor)s, '', NULL, %(now)s
    FROM moving
), entries AS (
    INSERT INTO ledger_ledgerentry (id, public_id, transaction_id, program_id, account_id, kind, points,
                                    available_delta, pending_delta, debt_delta, lot_id, expires_at, description,
                                    created_at)
    SELECT entry_id, gen_random_uuid(), txn_id, program_id, account_id, 'release', 0, remaining, -remaining, 0,
           NULL, NULL, remaining || ' points released', %(now)s
    FROM moving
), lots AS (
    UPDATE ledger_pointslot l SET released = true FROM due WHERE l.id = due.id
), accounts AS (
    UPDATE ledger_pointsaccount a
    SET available = a.available + s.points, pending = a.pending - s.points, updated_at = %(now)s
    FROM (SELECT account_id, SUM(remaining) AS points FROM moving GROUP BY account_id) s
    WHERE a.id = s.account_id
)
SELECT COUNT(*), COALESCE(SUM(remaining), 0) FROM moving
"""

_EXPIRE_SQL = """
WITH due AS (
    SELECT l.*, nextval((SELECT pg_get_serial_sequence('ledger_ledgertransaction', 'id'))::regclass) AS txn_id,
           nextval((SELECT pg_get_serial_sequence('ledger_ledgerentry', 'id'))::regclass) AS entry_id,
           CASE WHEN released THEN remaining ELSE 0 END AS available,
           CASE WHEN released THEN 0 ELSE remaining END AS pending
    FROM (SELECT id, program_id, account_id, remaining, released FROM ledger_pointslot
          WHERE account_id = ANY(%(accounts)s) AND NOT expired AND remaining > 0 AND expires_at <= %(now)s
          ORDER BY id) l
), txns AS (
    INSERT INTO ledger_ledgertransaction (id, program_id, kind, idempotency_key, source_type, source_id, actor,
                                          reason, reverses_id, created_at)
    SELECT txn_id, program_id, 'expire', 'expire:lot:' || id, 'lot', id::text, %(actor)s, '', NULL, %(now)s
    FROM due
), entries AS (
    INSERT INTO ledger_ledgerentry (id, public_id, transaction_id, program_id, account_id, kind, points,
                                    available_delta, pending_delta, debt_delta, lot_id, expires_at, description,
                                    created_at)
    SELECT entry_id, gen_random_uuid(), txn_id, program_id, account_id, 'expire', -remaining, -available,
           -pending, 0, NULL, NULL, 'Points expired', %(now)s
    FROM due
), movements AS (
    INSERT INTO ledger_lotmovement (entry_id, lot_id, points)
    SELECT entry_id, id, -remaining FROM due
), lots AS (
    -- a lot that expired while pending is released (empty) when its release date has come too
    UPDATE ledger_pointslot l SET remaining = 0, expired = true, released = l.released OR l.available_at <= %(now)s
    FROM due WHERE l.id = due.id
), accounts AS (
    UPDATE ledger_pointsaccount a
    SET available = a.available - s.available, pending = a.pending - s.pending, updated_at = %(now)s
    FROM (SELECT account_id, SUM(available) AS available, SUM(pending) AS pending FROM due GROUP BY account_id) s
    WHERE a.id = s.account_id
)
SELECT COUNT(*), COALESCE(SUM(remaining), 0) FROM due
"""


@dataclass(frozen=True)
class _LotJob:
    name: str  # "release" or "expiry", as in ``_catch_up``'s ``<name>_actor``
    sql: str
    due: Q  # lots that fell due, given ``now`` as the ``available_at``/``expires_at`` bound
    one_by_one: Q  # due lots whose account must go through ``_catch_up`` (order matters there)
    debt_matters: bool  # accounts with debt go through ``_catch_up`` (a release repays it first)


def _release_job(now: datetime) -> _LotJob:
    due = Q(released=False, available_at__lte=now)
    # its expiry came first (or at the same moment): _catch_up expires it, then marks it released
    expired_first = Q(expired=False, remaining__gt=0, expires_at__lte=F("available_at"))
    return _LotJob("release", _RELEASE_SQL, due, due & expired_first, debt_matters=True)


def _expire_job(now: datetime) -> _LotJob:
    due = Q(expired=False, remaining__gt=0, expires_at__lte=now)
    # still pending, but released before it expired: _catch_up releases it (repaying debt), then expires it
    released_first = Q(released=False, available_at__lt=F("expires_at"))
    return _LotJob("expiry", _EXPIRE_SQL, due, due & released_first, debt_matters=False)


def _batch_committed(job: str, run: LotRun) -> None:
    """Called after each committed batch (progress for the log; tests stop a run here)."""
    logger.debug("%s: batch %s committed (%s lots, %s accounts so far)", job, run.batches, run.lots, run.accounts)


def _lot_batch(job: _LotJob, account_ids: list[int], *, now: datetime, actor: str, run: LotRun,
               wait: bool) -> list[int]:
    """One transaction: lock the accounts, catch them up; answers the ids it had to skip (locked elsewhere)."""
    with transaction.atomic():
        plan_each_statement()  # the same statements every batch, each with thousands of account ids
        locking = PointsAccount.objects.select_for_update(skip_locked=not wait)
        locked = dict(locking.filter(pk__in=account_ids).order_by("pk").values_list("pk", "debt"))
        skipped = [pk for pk in account_ids if pk not in locked]
        if not locked:
            return skipped
        one_by_one = set(
            PointsLot.objects.filter(job.one_by_one, account_id__in=list(locked)).values_list("account_id", flat=True)
        )
        if job.debt_matters:  # a release repays debt: one lot after the other, in _catch_up's order
            one_by_one.update(pk for pk, debt in locked.items() if debt > 0)
        for account in PointsAccount.objects.filter(pk__in=one_by_one).order_by("pk"):
            released, expired = _catch_up(account=account, now=now, announce=job.name != "expiry",
                                          **{f"{job.name}_actor": actor})
            run.lots += released if job.name == "release" else expired
        rest = sorted(set(locked) - one_by_one)
        if rest:
            with connection.cursor() as cursor:
                cursor.execute(job.sql, {"accounts": rest, "now": now, "actor": actor})
                lots, points = cursor.fetchone()
            run.lots += lots
            run.points += points
        run.accounts += len(locked)
        run.one_by_one += len(one_by_one)
        if job.name == "expiry":
            _expired_publish(list(locked), now=now)
    run.batches += 1
    _batch_committed(job.name, run)
    return skipped


def _expired_publish(account_ids: list[int], *, now: datetime) -> None:
    """Tell integrators what this batch expired (``points.expired``), in the batch's own transaction.

    Read back from the entries both paths wrote at ``now``; the event ids derive from the run's
    time and the account, so a rerun of the same run announces nothing twice.
    """
    rows = (LedgerEntry.objects.filter(account_id__in=account_ids, kind=Kind.EXPIRE, created_at=now)
            .values("account_id", "account__member_id", "program_id").annotate(points=Sum("points")))
    points_expired.send(
        sender=PointsAccount, expired=[(SimpleNamespace(pk=row["account_id"], member_id=row["account__member_id"],
                                  program_id=row["program_id"]), -row["points"]) for row in rows],
        run_key=f"expiry:{now.isoformat()}", now=now,
    )


def _lots_run(job: _LotJob, *, now: datetime, batch_size: int, actor: str) -> LotRun:
    run = LotRun()
    skipped: list[int] = []
    after = 0
    while True:
        page = list(PointsAccount.objects.filter(pk__gt=after).order_by("pk").values_list("pk", flat=True)
                    [:batch_size])
        if not page:
            break
        after = page[-1]
        due_accounts = sorted(set(
            PointsLot.objects.filter(job.due, account_id__gte=page[0], account_id__lte=after)
            .values_list("account_id", flat=True).distinct()
        ))
        if due_accounts:
            skipped += _lot_batch(job, due_accounts, now=now, actor=actor, run=run, wait=False)
    for start in range(0, len(skipped), batch_size):  # held by someone else a moment ago: wait for them now
        _lot_batch(job, skipped[start:start + batch_size], now=now, actor=actor, run=run, wait=True)
    logger.info("%s: %s lots over %s accounts in %s batches", job.name, run.lots, run.accounts, run.batches)
    return run


def lots_release_due(*, now: datetime | None = None, batch_size: int = 5000, actor: str = RELEASE_ACTOR) -> LotRun:
    """Release every pending lot whose ``available_at`` has come, in batches of ``batch_size`` accounts.

    Idempotent, resumable and safe to run concurrently (see above). An account that goes through
    ``_catch_up`` (debt to repay, or a lot whose expiry came first) gets its due expiries applied too.
    """
    now = now or timezone.now()
    return _lots_run(_release_job(now), now=now, batch_size=batch_size, actor=actor)


def lots_expire_due(*, now: datetime | None = None, batch_size: int = 5000, actor: str = EXPIRY_ACTOR) -> LotRun:
    """Expire exactly the ``remaining`` of every lot past its ``expires_at``, once, in batches of accounts.

    Idempotent, resumable and safe to run concurrently (see above).
    """
    now = now or timezone.now()
    return _lots_run(_expire_job(now), now=now, batch_size=batch_size, actor=actor)


# --- verification ------------------------------------------------------------------------------

DRIFT_KEPT = 100  # drifted accounts and lots a run keeps by name; the counts cover them all


def _drift_programs(report: LedgerReport) -> dict[int, tuple[str, str]]:
    """``{account id: (program id, member id)}`` for the accounts the report names, in chunks."""
    ids = sorted({a["account"] for a in report.accounts} | {lot["account"] for lot in report.lots})
    found = {}
    for start in range(0, len(ids), 5000):
        rows = PointsAccount.objects.filter(pk__in=ids[start:start + 5000]).values_list("pk", "program_id", "member_id")
        found.update({pk: (str(program_id), str(member_id)) for pk, program_id, member_id in rows})
    return found


def ledger_verification_run(*, trigger: str, batch_size: int = 5000) -> VerificationRun:
    """Recompute every account from its entries and lots (``ledger_verify_report``) and record the result.

    The run counts the drift per program, so each program's staff are told about their own accounts only,
    and keeps the first ``DRIFT_KEPT`` drifted accounts and lots. The full report is on the answer's
    ``report`` for the command and the task to list. Read-only but for the run's own row.
    """
    started = timezone.now()
    report = ledger_verify_report(batch_size=batch_size)
    owners = _drift_programs(report)
    programs: dict[str, dict[str, int]] = {}
    drift = []
    for name, items in (("accounts", report.accounts), ("lots", report.lots)):
        for item in items:
            program_id, member_id = owners.get(item["account"], ("", ""))
            counts = programs.setdefault(program_id, {"accounts": 0, "lots": 0})
            counts[name] += 1
            if len(drift) < DRIFT_KEPT:
                drift.append({"program": program_id, "account": item["account"], "member": member_id,
                              "lot": item.get("lot"), "problems": item["problems"]})
    run = VerificationRun.objects.create(
        trigger=trigger, started_at=started, finished_at=timezone.now(),
        accounts_checked=report.accounts_checked, lots_checked=report.lots_checked,
        accounts_drifted=len(report.accounts), lots_drifted=len(report.lots), programs=programs, drift=drift,
    )
    run.report = report
    return run

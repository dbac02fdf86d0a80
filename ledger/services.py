"""Every movement of points. Each function is one database transaction that
locks the accounts it touches (in primary-key order, so two transfers in
opposite directions cannot deadlock), is idempotent by its key, and keeps the
cached balances equal to the entries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from loyalty.errors import DomainError

from .models import Kind, LedgerEntry, LedgerTransaction, LotMovement, PointsAccount, PointsLot


def account_open(*, member) -> PointsAccount:
    account, _ = PointsAccount.objects.get_or_create(member=member, defaults={"program_id": member.program_id})
    return account


def _lock_accounts(*members) -> list[PointsAccount]:
    """Lock the members' accounts, lowest id first, creating any that are missing."""
    for member in members:
        account_open(member=member)
    ids = sorted({m.pk for m in members})
    locked = PointsAccount.objects.select_for_update().filter(member_id__in=ids).order_by("pk")
    accounts = {account.member_id: account for account in locked}
    return [accounts[m.pk] for m in members]


def _replay(program_id, idempotency_key: str) -> LedgerTransaction | None:
    txn = LedgerTransaction.objects.filter(program_id=program_id, idempotency_key=idempotency_key).first()
    if txn is not None:
        txn.replayed = True
    return txn


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
        """Points becoming available first pay off debt left by returns of spent points."""
        debt = self.account.debt + self.debt
        repay = min(debt, lot.remaining)
        if repay > 0:
            lot.remaining -= repay
            self.movements.append((lot, -repay))
            self.available -= repay
            self.debt -= repay


def _post(*, program_id, kind: str, idempotency_key: str, source_type: str, source_id: str, actor: str,
          reason: str, postings: list[_Posting], reverses: LedgerTransaction | None = None,
          now: datetime) -> LedgerTransaction:
    txn = LedgerTransaction.objects.create(
        program_id=program_id, kind=kind, idempotency_key=idempotency_key, source_type=source_type,
        source_id=str(source_id), actor=actor, reason=reason, reverses=reverses, created_at=now,
    )
    dirty_lots: dict[int, PointsLot] = {}
    for posting in postings:
        entry = LedgerEntry.objects.create(
            transaction=txn, program_id=program_id, account=posting.account, kind=posting.kind,
            points=posting.points, available_delta=posting.available, pending_delta=posting.pending,
            debt_delta=posting.debt, lot=posting.lot, expires_at=posting.expires_at,
            description=posting.description[:200], created_at=now,
        )
        LotMovement.objects.bulk_create(
            [LotMovement(entry=entry, lot=lot, points=points) for lot, points in posting.movements if points]
        )
        for lot, _ in posting.movements:
            dirty_lots[lot.pk] = lot
        account = posting.account
        account.available += posting.available
        account.pending += posting.pending
        account.debt += posting.debt
        account.updated_at = now
        PointsAccount.objects.filter(pk=account.pk).update(
            available=F("available") + posting.available, pending=F("pending") + posting.pending,
            debt=F("debt") + posting.debt, updated_at=now,
        )
    for lot in dirty_lots.values():
        PointsLot.objects.filter(pk=lot.pk).update(remaining=lot.remaining, released=lot.released,
                                                   expired=lot.expired)
    txn.replayed = False
    return txn


def _new_lot(*, account: PointsAccount, amount: int, earned_at: datetime, available_at: datetime,
             expires_at: datetime | None, now: datetime) -> PointsLot:
    return PointsLot.objects.create(
        program_id=account.program_id, account=account, amount=amount, remaining=amount, earned_at=earned_at,
        available_at=available_at, released=available_at <= now, expires_at=expires_at,
    )


def _spendable_lots(account: PointsAccount):
    return (
        PointsLot.objects.select_for_update()
        .filter(account=account, released=True, expired=False, remaining__gt=0)
        .order_by(F("expires_at").asc(nulls_last=True), "earned_at", "pk")
    )


def _consume(posting: _Posting, points: int, lots) -> int:
    """Take up to ``points`` from ``lots`` in order; returns what could not be taken."""
    left = points
    for lot in lots:
        if left == 0:
            break
        taken = min(lot.remaining, left)
        if taken:
            posting.take(lot, taken)
            left -= taken
    return left


def _require_positive(points: int) -> None:
    if not isinstance(points, int) or isinstance(points, bool) or points <= 0:
        raise DomainError.invalid("points", "Points must be a positive whole number.")


def _insufficient(needed: int, account: PointsAccount) -> DomainError:
    return DomainError("insufficient_points", f"Needs {needed} points; {account.spendable} available.",
                       title="Insufficient points")


# --- earning -------------------------------------------------------------------------------


@transaction.atomic
def points_earn(
    *, member, points: int, idempotency_key: str, source_type: str, source_id: str = "", actor: str,
    occurred_at: datetime | None = None, available_at: datetime | None = None,
    expires_at: datetime | None = None, kind: str = Kind.EARN, description: str = "", reason: str = "",
) -> LedgerTransaction:
    """Credit ``points`` into a new lot: pending until ``available_at``, expiring at ``expires_at``."""
    _require_positive(points)
    (account,) = _lock_accounts(member)
    if existing := _replay(account.program_id, idempotency_key):
        return existing
    now = timezone.now()
    occurred_at = occurred_at or now
    lot = _new_lot(account=account, amount=points, earned_at=occurred_at, available_at=available_at or now,
                   expires_at=expires_at, now=now)
    posting = _Posting(account=account, kind=kind, points=points, lot=lot, expires_at=expires_at,
                       description=description)
    if lot.released:
        posting.available += points
        posting.repay_debt_from(lot)
    else:
        posting.pending += points
    return _post(program_id=account.program_id, kind=kind, idempotency_key=idempotency_key,
                 source_type=source_type, source_id=source_id, actor=actor, reason=reason,
                 postings=[posting], now=now)


# --- spending ------------------------------------------------------------------------------


@transaction.atomic
def points_spend(
    *, member, points: int, idempotency_key: str, source_type: str, source_id: str = "", actor: str,
    kind: str = Kind.REDEEM, description: str = "", reason: str = "",
) -> LedgerTransaction:
    """Debit ``points`` from available lots, soonest-expiring first; never below zero."""
    _require_positive(points)
    (account,) = _lock_accounts(member)
    if existing := _replay(account.program_id, idempotency_key):
        return existing
    now = timezone.now()
    _expire_due_lots(account=account, now=now)
    if account.spendable < points:
        raise _insufficient(points, account)
    posting = _Posting(account=account, kind=kind, points=-points, description=description)
    left = _consume(posting, points, _spendable_lots(account))
    assert left == 0, "cached available disagrees with lots"  # ledger_verify would report it too
    return _post(program_id=account.program_id, kind=kind, idempotency_key=idempotency_key,
                 source_type=source_type, source_id=source_id, actor=actor, reason=reason,
                 postings=[posting], now=now)


@transaction.atomic
def points_reverse_return(
    *, member, points: int, idempotency_key: str, source_type: str, source_id: str = "", actor: str,
    from_lots: list[int], description: str = "",
) -> LedgerTransaction:
    """Take back points a returned purchase earned.

    First from the purchase's own lots (pending or available), then from other
    available points, and what is left becomes debt: the member had already
    spent it, so the spendable balance goes below zero.
    """
    _require_positive(points)
    (account,) = _lock_accounts(member)
    if existing := _replay(account.program_id, idempotency_key):
        return existing
    now = timezone.now()
    _expire_due_lots(account=account, now=now)
    posting = _Posting(account=account, kind=Kind.RETURN, points=-points, description=description)
    own = PointsLot.objects.select_for_update().filter(account=account, pk__in=from_lots, remaining__gt=0,
                                                       expired=False).order_by("pk")
    left = _consume(posting, points, own)
    left = _consume(posting, left, _spendable_lots(account))
    posting.debt += left
    return _post(program_id=account.program_id, kind=Kind.RETURN, idempotency_key=idempotency_key,
                 source_type=source_type, source_id=source_id, actor=actor, reason="", postings=[posting],
                 now=now)


@transaction.atomic
def points_refund(*, spend: LedgerTransaction, idempotency_key: str, actor: str, source_type: str,
                  source_id: str = "", description: str = "") -> LedgerTransaction:
    """Give back exactly what a spend took, into lots with the same expiry dates it took them from."""
    entry = spend.entries.select_related("account__member").get()
    if entry.points >= 0:
        raise ValueError("only a debit can be refunded")
    (account,) = _lock_accounts(entry.account.member)
    if existing := _replay(account.program_id, idempotency_key):
        return existing
    now = timezone.now()
    posting = _Posting(account=account, kind=Kind.REFUND, points=-entry.points, description=description)
    for movement in entry.movements.select_related("lot").order_by("pk"):
        lot = _new_lot(account=account, amount=-movement.points, earned_at=movement.lot.earned_at,
                       available_at=now, expires_at=movement.lot.expires_at, now=now)
        posting.available += lot.amount
        posting.repay_debt_from(lot)
    return _post(program_id=account.program_id, kind=Kind.REFUND, idempotency_key=idempotency_key,
                 source_type=source_type, source_id=source_id, actor=actor, reason="", postings=[posting],
                 reverses=spend, now=now)


# --- staff ---------------------------------------------------------------------------------


@transaction.atomic
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
    _expire_due_lots(account=account, now=now)
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
        _consume(posting, -points, _spendable_lots(account))
    return _post(program_id=account.program_id, kind=Kind.ADJUST, idempotency_key=idempotency_key,
                 source_type="staff", source_id="", actor=actor, reason=reason.strip(), postings=[posting],
                 now=now)


@transaction.atomic
def points_transfer(
    *, sender, recipient, points: int, idempotency_key: str, actor: str, reason: str = "",
) -> LedgerTransaction:
    """Move available points between two members of one program; they keep their expiry dates."""
    _require_positive(points)
    if sender.pk == recipient.pk:
        raise DomainError.invalid("recipient", "Points cannot be transferred to the same member.")
    if sender.program_id != recipient.program_id:
        raise DomainError("member_not_found", "No member matches this reference in the program.")
    source, target = _lock_accounts(sender, recipient)
    if existing := _replay(source.program_id, idempotency_key):
        return existing
    now = timezone.now()
    _expire_due_lots(account=source, now=now)
    if source.spendable < points:
        raise _insufficient(points, source)
    out = _Posting(account=source, kind=Kind.TRANSFER_OUT, points=-points,
                   description=reason or "Points sent")
    _consume(out, points, _spendable_lots(source))
    into = _Posting(account=target, kind=Kind.TRANSFER_IN, points=points, description=reason or "Points received")
    for lot, taken in out.movements:
        new_lot = _new_lot(account=target, amount=-taken, earned_at=lot.earned_at, available_at=now,
                           expires_at=lot.expires_at, now=now)
        into.available += new_lot.amount
        into.repay_debt_from(new_lot)
    return _post(program_id=source.program_id, kind=Kind.TRANSFER_OUT, idempotency_key=idempotency_key,
                 source_type="transfer", source_id="", actor=actor, reason=reason, postings=[out, into], now=now)


# --- time-driven ---------------------------------------------------------------------------


def _expire_due_lots(*, account: PointsAccount, now: datetime, actor: str = "system:expiry") -> int:
    """Expire the account's lots past their date (caller holds the account lock)."""
    expired = 0
    due = PointsLot.objects.select_for_update().filter(
        account=account, expired=False, remaining__gt=0, expires_at__lte=now
    ).order_by("pk")
    for lot in due:
        posting = _Posting(account=account, kind=Kind.EXPIRE, points=-lot.remaining,
                           description="Points expired")
        posting.take(lot, lot.remaining)
        lot.expired = True
        _post(program_id=account.program_id, kind=Kind.EXPIRE, idempotency_key=f"expire:lot:{lot.pk}",
              source_type="lot", source_id=str(lot.pk), actor=actor, reason="", postings=[posting], now=now)
        expired += 1
    return expired


def _release_due_lots(*, account: PointsAccount, now: datetime, actor: str = "system:release") -> int:
    released = 0
    due = PointsLot.objects.select_for_update().filter(account=account, released=False,
                                                       available_at__lte=now).order_by("pk")
    for lot in due:
        lot.released = True
        if lot.remaining == 0 or lot.expired:
            PointsLot.objects.filter(pk=lot.pk).update(released=True)
            continue
        posting = _Posting(account=account, kind=Kind.RELEASE, points=lot.remaining,
                           pending=-lot.remaining, available=lot.remaining, description="Points released")
        posting.movements.append((lot, 0))  # mark the lot dirty so its new state is written
        posting.repay_debt_from(lot)
        _post(program_id=account.program_id, kind=Kind.RELEASE, idempotency_key=f"release:lot:{lot.pk}",
              source_type="lot", source_id=str(lot.pk), actor=actor, reason="", postings=[posting], now=now)
        released += 1
    return released


@transaction.atomic
def account_expire(*, member, now: datetime | None = None, actor: str = "system:expiry") -> int:
    (account,) = _lock_accounts(member)
    return _expire_due_lots(account=account, now=now or timezone.now(), actor=actor)


@transaction.atomic
def account_release(*, member, now: datetime | None = None, actor: str = "system:release") -> int:
    (account,) = _lock_accounts(member)
    return _release_due_lots(account=account, now=now or timezone.now(), actor=actor)

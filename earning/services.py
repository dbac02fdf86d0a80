from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from ledger.models import LedgerEntry
from ledger.services import points_earn, points_reverse_return
from loyalty.errors import DomainError
from members.models import Member
from members.selectors import member_by_reference
from programs.models import Program, Store

from .models import Purchase, Return
from .rules import Earning, floor_points, purchase_earnings

FUTURE_TOLERANCE = timedelta(minutes=5)


def _check_currency(program: Program, currency: str) -> None:
    if currency.upper() != program.currency:
        raise DomainError.invalid("currency", f"This program runs in {program.currency}.")


def _check_occurred_at(occurred_at: datetime | None, now: datetime) -> datetime:
    if occurred_at is None:
        return now
    if occurred_at > now + FUTURE_TOLERANCE:
        raise DomainError.invalid("occurred_at", "A purchase cannot be more than 5 minutes in the future.")
    return occurred_at


def member_for_earning(*, program: Program, reference: dict | None, for_update: bool = False) -> Member | None:
    """The member a purchase or event earns for (None for a guest); suspended members earn nothing."""
    if not reference:
        return None
    member = member_by_reference(program=program, reference=reference, for_update=for_update)
    if member.is_suspended:
        raise DomainError("member_suspended", "This member is suspended and cannot earn or redeem points.",
                          title="Member suspended")
    return member


def purchase_preview(
    *, program: Program, member_reference: dict | None, currency: str, total: Decimal,
    occurred_at: datetime | None = None, lines: list[dict] | None = None,
) -> tuple[Member | None, list[Earning]]:
    """What a purchase would earn now. Writes nothing."""
    _check_currency(program, currency)
    occurred_at = _check_occurred_at(occurred_at, timezone.now())
    member = member_for_earning(program=program, reference=member_reference)
    return member, purchase_earnings(program=program, member=member, total=total, lines=lines or [],
                                     occurred_at=occurred_at)


@transaction.atomic
def purchase_record(
    *, store: Store, actor: str, external_id: str, member_reference: dict | None, currency: str, total: Decimal,
    occurred_at: datetime | None = None, lines: list[dict] | None = None,
) -> Purchase:
    """Record a till receipt and credit what it earns (pending for the return window, then available)."""
    program = store.program
    now = timezone.now()
    _check_currency(program, currency)
    occurred_at = _check_occurred_at(occurred_at, now)
    lines = lines or []
    member = member_for_earning(program=program, reference=member_reference)
    earnings = purchase_earnings(program=program, member=member, total=total, lines=lines, occurred_at=occurred_at)
    points = sum(e.points for e in earnings)

    purchase = Purchase.objects.create(
        program=program, store=store, external_id=external_id, member=member, currency=program.currency,
        total=total, occurred_at=occurred_at, lines=lines, points_awarded=points,
        breakdown=[e.as_dict() for e in earnings], actor=actor,
        claimable_until=None if member else occurred_at + timedelta(days=program.claim_window_days),
    )
    if member is not None and points > 0:
        purchase.earn_transaction = points_earn(
            member=member, points=points, idempotency_key=f"purchase:{store.pk}:{external_id}",
            source_type="purchase", source_id=str(purchase.pk), actor=actor, occurred_at=occurred_at,
            available_at=occurred_at + timedelta(days=program.pending_days),
            expires_at=occurred_at + timedelta(days=program.expiry_days) if program.expiry_days else None,
            description=f"Purchase {external_id} at {store.name}",
        )
        purchase.save(update_fields=["earn_transaction"])
    return purchase


def _purchase_for_return(*, store: Store, purchase_external_id: str, purchase_store_code: str | None) -> Purchase:
    purchases = Purchase.objects.select_for_update(of=("self",)).select_related("member", "program")
    if purchase_store_code:
        purchases = purchases.filter(program=store.program, store__code=purchase_store_code)
    else:
        purchases = purchases.filter(store=store)
    purchase = purchases.filter(external_id=purchase_external_id).first()
    if purchase is None:
        raise DomainError("purchase_not_found", "No purchase with this external id in that store.",
                          title="Purchase not found")
    return purchase


@transaction.atomic
def purchase_return(
    *, store: Store, actor: str, external_id: str, purchase_external_id: str, amount: Decimal,
    purchase_store_code: str | None = None,
) -> Return:
    """Take back points in proportion to the returned amount, rounding down what the member keeps.

    Computed cumulatively over all returns of the purchase, so several partial
    returns take back exactly what one return of their sum would.
    """
    purchase = _purchase_for_return(store=store, purchase_external_id=purchase_external_id,
                                    purchase_store_code=purchase_store_code)
    returnable = purchase.total - purchase.returned_total
    if amount > returnable:
        raise DomainError(
            "return_exceeds_purchase",
            f"The purchase totals {purchase.total}; {purchase.returned_total} is already returned, "
            f"so at most {returnable} can be returned.",
            title="Return exceeds purchase",
        )
    returned_total = purchase.returned_total + amount
    keeps = floor_points(Decimal(purchase.points_awarded) * (purchase.total - returned_total) / purchase.total)
    to_reverse = purchase.points_awarded - keeps - purchase.points_reversed

    refund = Return(program=purchase.program, store=store, external_id=external_id, purchase=purchase,
                    amount=amount, points_reversed=to_reverse, actor=actor)
    if to_reverse > 0:
        lots = list(LedgerEntry.objects.filter(transaction=purchase.earn_transaction_id, lot__isnull=False)
                    .values_list("lot_id", flat=True))
        refund.reverse_transaction = points_reverse_return(
            member=purchase.member, points=to_reverse, idempotency_key=f"return:{store.pk}:{external_id}",
            source_type="return", source_id=str(refund.pk), actor=actor, from_lots=lots,
            description=f"Return {external_id} of purchase {purchase.external_id}",
        )
    refund.save(force_insert=True)
    purchase.returned_total = returned_total
    purchase.points_reversed += to_reverse
    purchase.save(update_fields=["returned_total", "points_reversed"])
    return refund

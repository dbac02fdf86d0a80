"""A small ledger with every case the batch jobs meet, built through the services on a controlled clock,
and a snapshot of the ledger that two runs can be compared by."""

from datetime import UTC, datetime, timedelta

from ledger import services
from ledger.models import LedgerEntry, LotMovement, PointsAccount, PointsLot
from tests.factories import MemberFactory
from tests.ledger.support import earn, key, spend

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def days(n: float) -> datetime:
    return T0 + timedelta(days=n)


def into_debt(member, points: int) -> None:
    """Earn, spend it all, then return the purchase: the member owes ``points``."""
    purchase = earn(member, points)
    spend(member, points)
    services.points_reverse_return(member=member, points=points, idempotency_key=key("return"),
                                   source_type="test", actor="test", from_lots=[purchase.entries.get().lot_id])


def mixed_ledger(program, *, simple_members: int = 6) -> dict:
    """Members (call at ``T0``, clock stopped) whose lots fall due at known days:

    * ``spent``: 100 expiring on day 10 of which 30 were spent, 50 expiring on day 20, 70 never;
    * ``pending``: 80 pending until day 5 expiring on day 30, 40 pending until day 15 expiring on day 10;
    * ``debtor``: owes 80, then 50 pending until day 3 (its release repays the debt) expiring on day 40;
    * ``tie``: 60 pending until day 7 that also expires on day 7 (expiry wins);
    * ``simple-N``: 25 expiring on day 10, 35 pending until day 3 expiring on day 50.
    """
    members = {name: MemberFactory(program=program, email=f"{name}@example.com")
               for name in ("spent", "pending", "debtor", "tie")}
    earn(members["spent"], 100, expires_in_days=10)
    earn(members["spent"], 50, expires_in_days=20)
    earn(members["spent"], 70)
    spend(members["spent"], 30)
    earn(members["pending"], 80, pending_days=5, expires_in_days=30)
    earn(members["pending"], 40, pending_days=15, expires_in_days=10)
    into_debt(members["debtor"], 80)
    earn(members["debtor"], 50, pending_days=3, expires_in_days=40)
    earn(members["tie"], 60, pending_days=7, expires_in_days=7)
    for n in range(simple_members):
        member = members[f"simple-{n}"] = MemberFactory(program=program, email=f"simple-{n}@example.com")
        earn(member, 25, expires_in_days=10)
        earn(member, 35, pending_days=3, expires_in_days=50)
    return members


def ledger_state() -> dict:
    """Everything the jobs write, by stable names: ids of new rows and random public ids left out."""
    return {
        "accounts": sorted(PointsAccount.objects.values_list("member__email", "available", "pending", "debt",
                                                             "updated_at")),
        "lots": sorted(PointsLot.objects.values_list("pk", "account__member__email", "remaining", "released",
                                                     "expired")),
        "entries": sorted(LedgerEntry.objects.values_list(
            "transaction__idempotency_key", "transaction__kind", "transaction__source_type",
            "transaction__source_id", "transaction__actor", "transaction__created_at", "account__member__email",
            "kind", "points", "available_delta", "pending_delta", "debt_delta", "lot_id", "expires_at",
            "description", "created_at")),
        "movements": sorted(LotMovement.objects.values_list("entry__transaction__idempotency_key", "lot_id",
                                                            "points")),
    }

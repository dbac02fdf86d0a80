"""Small helpers shared by the ledger tests: move points through the public services, read them back."""

import itertools
from datetime import timedelta

from django.utils import timezone

from ledger import services
from ledger.models import LedgerEntry, PointsAccount, PointsLot
from ledger.selectors import account_drift

_keys = itertools.count(1)


def key(prefix: str = "test") -> str:
    return f"{prefix}:{next(_keys)}"


def earn(member, points, *, pending_days=0, expires_in_days=None, idempotency_key=None, **extra):
    now = timezone.now()
    return services.points_earn(
        member=member, points=points, idempotency_key=idempotency_key or key("earn"), source_type="test",
        actor="test", available_at=now + timedelta(days=pending_days),
        expires_at=now + timedelta(days=expires_in_days) if expires_in_days is not None else None, **extra,
    )


def spend(member, points, *, idempotency_key=None):
    return services.points_spend(member=member, points=points, idempotency_key=idempotency_key or key("spend"),
                                 source_type="test", actor="test")


def account(member) -> PointsAccount:
    return PointsAccount.objects.get(member=member)


def balances(member) -> tuple[int, int, int]:
    acc = account(member)
    return acc.available, acc.pending, acc.debt


def lots_of(member):
    return list(PointsLot.objects.filter(account__member=member).order_by("pk"))


def entries_of(member):
    return list(LedgerEntry.objects.filter(account__member=member).order_by("pk"))


def assert_consistent(*members) -> None:
    for member in members:
        assert account_drift(account=account(member)) is None

from django.db.models import Sum

from .models import LedgerEntry, PointsAccount, PointsLot


def account_balance_get(*, member) -> dict:
    """The contract's balance object: spendable ``available`` (may be negative after a return) and ``pending``."""
    try:
        account = member.account
    except PointsAccount.DoesNotExist:
        return {"available": 0, "pending": 0}
    return {"available": account.spendable, "pending": account.pending}


def entry_list(*, member):
    """A member's statement, newest first (served by ``entry_activity_idx``)."""
    return LedgerEntry.objects.filter(account__member=member).order_by("-created_at", "-id").only(
        "id", "kind", "points", "created_at", "description", "expires_at"
    )


def account_drift(*, account: PointsAccount) -> dict | None:
    """What the account's cached balances say against its entries and lots; None when they agree."""
    sums = LedgerEntry.objects.filter(account=account).aggregate(
        available=Sum("available_delta"), pending=Sum("pending_delta"), debt=Sum("debt_delta")
    )
    lots = PointsLot.objects.filter(account=account)
    expected = {
        "available": sums["available"] or 0,
        "pending": sums["pending"] or 0,
        "debt": sums["debt"] or 0,
    }
    from_lots = {
        "available": lots.filter(released=True).aggregate(s=Sum("remaining"))["s"] or 0,
        "pending": lots.filter(released=False).aggregate(s=Sum("remaining"))["s"] or 0,
    }
    cached = {"available": account.available, "pending": account.pending, "debt": account.debt}
    problems = {}
    for name, value in cached.items():
        if expected[name] != value:
            problems[f"{name}_entries"] = {"cached": value, "entries": expected[name]}
        if name in from_lots and from_lots[name] != value:
            problems[f"{name}_lots"] = {"cached": value, "lots": from_lots[name]}
    return problems or None

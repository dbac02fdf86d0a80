"""Posting purchases and events the way a till does, for the rule tests."""

from datetime import UTC, datetime
from decimal import Decimal

from ledger.models import PointsAccount

# A Wednesday, noon UTC: the ``clock`` fixture's "now".
NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)

PURCHASES = "/api/v1/pos/purchases/"
PREVIEW = "/api/v1/pos/purchases/preview/"
EVENTS = "/api/v1/pos/events/"

LATTE = {"sku": "LATTE", "category": "coffee", "quantity": 2, "unit_price": "4.50"}
MUFFIN = {"sku": "MUFFIN", "category": "bakery", "quantity": 1, "unit_price": "11.00"}


def buy(pos, member, *, external_id="R-1", total="20.00", lines=(LATTE, MUFFIN), url=PURCHASES, **extra):
    """Post a purchase (20.00 of a latte ×2 and a muffin by default) and return the response."""
    body = {"external_id": external_id, "currency": "EUR", "total": total, "lines": list(lines), **extra}
    if member is not None:
        body["member"] = {"card_number": member.card_number}
    response = pos.post(url, body, format="json")
    assert response.status_code in (200, 201), response.json()
    return response


def breakdown_of(pos, member, **kwargs) -> list[dict]:
    return buy(pos, member, **kwargs).json()["breakdown"]


def event(pos, member, *, external_id="E-1", kind="stay_night", **extra):
    body = {"external_id": external_id, "type": kind, **extra}
    if member is not None:
        body["member"] = {"card_number": member.card_number}
    return pos.post(EVENTS, body, format="json")


def available(member) -> int:
    return PointsAccount.objects.get(member=member).available


def base(total: str) -> dict:
    return {"rule": "base", "points": int(Decimal(total))}

"""The framework floor for bench/pos_load.py: the project's own purchase request with its work taken out.

``loyalty.wsgi`` exactly as production serves it (settings, middleware, URL routing, DRF's API-key
authentication against the shared cache, throttling, parsing, the purchase's input serializer,
rendering), except that the purchase itself (idempotency, rules, ledger, tiers, notifications: every
statement) is replaced by a fixed answer of the same shape. Its CPU per request is what any purchase
costs the web tier before it does anything, so the budget that is left for the purchase's own work at a
given ratio to raw SQL can be read off the same run (bench/README.md).
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "loyalty.settings")

from django.core.wsgi import get_wsgi_application

application = get_wsgi_application()

import earning.apis  # noqa: E402
from loyalty.idempotency import Answer  # noqa: E402

BODY = {
    "id": "5b0e8a0e-9d51-4c36-8a5e-0c2f4f7f2a10", "member": {
        "id": "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", "card_number": "9000000000000000"},
    "total": "42.50", "currency": "EUR", "occurred_at": "2026-11-22T12:00:00Z", "points_awarded": 42,
    "breakdown": [{"rule": "base", "points": 42}], "balance": {"available": 1000042, "pending": 0},
    "tier": {"code": "bronze", "name": "Bronze"}, "claimable_until": None,
}


def fixed_answer(*, client, data: dict) -> Answer:
    return Answer(201, {**BODY, "external_id": data["external_id"]})


if not callable(getattr(earning.apis, "purchase_answer", None)):  # renamed: the floor would measure a purchase
    raise SystemExit("earning.apis.purchase_answer is gone: point bench/django_floor_app.py at its new name")
earning.apis.purchase_answer = fixed_answer  # PurchaseCreateApi.post looks it up on each call

"""The HTTP floor for bench/pos_load.py: what gunicorn and the load generator alone reach on this machine.

A WSGI application with no Django, database or cache: it reads the request body and answers a fixed
purchase-sized JSON body with ``201``. Served exactly as the project is (gunicorn, the same sync workers,
the same loopback port and load generator), its throughput is the most any request handler could reach
here, so ``floor ÷ raw SQL`` bounds the ratio every POS endpoint can show on this machine.
"""

import json

BODY = json.dumps({
    "id": "5b0e8a0e-9d51-4c36-8a5e-0c2f4f7f2a10", "external_id": "B-0", "member": {
        "id": "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", "card_number": "9000000000000000"},
    "total": "42.50", "currency": "EUR", "occurred_at": "2026-11-22T12:00:00Z", "points_awarded": 42,
    "breakdown": [{"rule": "base", "points": 42}], "balance": {"available": 1000042, "pending": 0},
    "tier": {"code": "bronze", "name": "Bronze"}, "claimable_until": None,
}).encode()
HEADERS = [("Content-Type", "application/json"), ("Content-Length", str(len(BODY)))]


def application(environ, start_response):
    environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    start_response("201 Created", HEADERS)
    return [BODY]

"""Load generator for bench/pos_load.py: an asyncio httpx client, run as its own process.

    .venv/bin/python bench/loadgen.py SPEC.json     # prints one JSON object with the figures

The spec names the server (loopback only), the POS keys (one per client), the scenario (``purchase``, ``redeem`` or
``lookup``), the concurrency, a warm-up and a measuring time, a cap on the number of requests and the
card numbers to pick members from (or one ``hot`` card). ``concurrency`` clients each send one request at
a time, back to back, until the time is up or the cap is reached; latencies are measured around each
request (connect included: gunicorn's sync workers close the connection after every answer).
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time
from ipaddress import ip_address
from urllib.parse import urlsplit

import httpx

QUANTILES = 1000


def percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


def request_for(spec: dict, card: str, sequence: str) -> tuple[str, str, dict | None, dict]:
    """(method, path, json body, extra headers) of one request of the scenario."""
    scenario = spec["scenario"]
    if scenario == "purchase":
        body = {"external_id": f"B-{sequence}", "member": {"card_number": card}, "currency": "EUR",
                "total": f"{random.randint(100, 20000) / 100:.2f}",
                "lines": [{"sku": "LATTE", "category": "coffee", "quantity": 2, "unit_price": "4.50"}]}
        return "POST", "/api/v1/pos/purchases/", body, {}
    if scenario == "redeem":
        body = {"member": {"card_number": card}, "reward": "FREE-COFFEE"}
        return "POST", "/api/v1/pos/redemptions/", body, {"Idempotency-Key": f"R-{sequence}"}
    if scenario == "lookup":
        return "GET", f"/api/v1/pos/members/lookup/?card_number={card}", None, {}
    raise ValueError(scenario)


async def run(spec: dict) -> dict:
    host = urlsplit(spec["base_url"]).hostname
    if not ip_address(host).is_loopback:  # this tool only ever loads a server on this machine
        raise SystemExit(f"refusing to send load to {host}: loopback addresses only")
    cards = spec["cards"]
    hot = spec.get("hot")
    concurrency = spec["concurrency"]
    run_id = spec["run_id"]
    warmup, duration, cap = spec["warmup"], spec["duration"], spec["max_requests"]
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    errors: list[str] = []
    sent = 0
    counter = 0
    cpu_at_start = time.process_time()
    keys = spec["api_keys"]  # one key per client: each client is a till
    headers = {"Content-Type": "application/json"}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=spec["base_url"], headers=headers, limits=limits,
                                 timeout=httpx.Timeout(30.0)) as client:
        started = time.perf_counter()
        measure_from = started + warmup
        stop_at = measure_from + duration
        measured_start = measured_end = None

        async def worker(index: int) -> None:
            nonlocal sent, counter, measured_start, measured_end
            authorization = {"Authorization": f"Api-Key {keys[index % len(keys)]}"}
            while True:
                now = time.perf_counter()
                if now >= stop_at or sent >= cap:
                    return
                counter += 1
                method, path, body, extra = request_for(spec, hot or random.choice(cards), f"{run_id}-{counter}")
                began = time.perf_counter()
                try:
                    response = await client.request(method, path, json=body, headers={**authorization, **extra})
                    status = response.status_code
                except httpx.HTTPError as error:
                    status = 0
                    if len(errors) < 5:
                        errors.append(repr(error))
                ended = time.perf_counter()
                if began >= measure_from and ended <= stop_at:
                    sent += 1
                    latencies.append(ended - began)
                    statuses[status] = statuses.get(status, 0) + 1
                    measured_start = began if measured_start is None else min(measured_start, began)
                    measured_end = ended if measured_end is None else max(measured_end, ended)
                elif status not in (200, 201) and len(errors) < 5:
                    errors.append(f"warm-up answer {status}")

        await asyncio.gather(*(worker(i) for i in range(concurrency)))
    elapsed = (measured_end - measured_start) if latencies else 0.0
    cpu = time.process_time() - cpu_at_start
    latencies.sort()
    ok = sum(n for status, n in statuses.items() if status in (200, 201))
    return {
        "requests": len(latencies), "ok": ok, "statuses": statuses, "errors": errors, "seconds": elapsed,
        "throughput": ok / elapsed if elapsed else 0.0,
        "p50_ms": percentile(latencies, 0.50) * 1000, "p95_ms": percentile(latencies, 0.95) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        # The distribution, for merging with other slices of the same level (bench/pos_load.py --rounds).
        "quantiles_ms": [percentile(latencies, (i + 0.5) / QUANTILES) * 1000 for i in range(QUANTILES)]
        if latencies else [],
        # The generator's own CPU per request (warm-up included): CPU the server did not get on a shared machine.
        "client_cpu_ms": cpu / max(1, counter) * 1000,
    }


def main() -> None:
    with open(sys.argv[1]) as handle:
        spec = json.load(handle)
    print(json.dumps(asyncio.run(run(spec))))


if __name__ == "__main__":
    main()

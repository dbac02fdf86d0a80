"""Benchmark: the POS API under load (purchase, redemption, member lookup) against raw psycopg doing the same work.

    .venv/bin/python bench/pos_load.py                      # everything, ~6 minutes, appends rows to bench/README.md
    .venv/bin/python bench/pos_load.py --scenarios purchase --levels 8 --no-readme
    .venv/bin/python bench/pos_load.py --profile 300        # also profile 300 purchases in-process (pyinstrument)

Uses ``DATABASE_URL`` (default postgres://postgres@127.0.0.1:5432/loyalty_bench_pos), which it drops,
recreates and migrates (``manage.py migrate`` in a subprocess), seeds the demo program (``seed_demo``:
tiers, rewards), one store with one POS key per client (each client is a till) and N members (bulk
``COPY``), each with a points account holding one earned lot, a tier status row, and Luhn-valid cards.

Then, for each scenario and each concurrency level:

* **the server**: gunicorn (``loyalty.wsgi``, sync workers, ``DJANGO_DEBUG=false``) on a free loopback port,
  loaded by ``bench/loadgen.py`` in its own process (asyncio + httpx), ``C`` clients back to back for a
  fixed time after a warm-up; throughput counts 2xx answers only, latency is per request;
* **the baseline**: ``C`` threads, each with its own psycopg connection, doing the same database work
  in one transaction per request with hand-written SQL and nothing else (no HTTP, no ORM, no rules).

Scenarios: ``floor`` (purchases sent to ``bench/floor_app.py``, a WSGI app with no Django or database, under
the same gunicorn: the most any endpoint can reach on this machine, beside the raw purchase), ``floor-django``
(purchases sent to ``bench/django_floor_app.py``: the project's own purchase request, middleware, key, throttle,
validation and rendering included, answering a fixed body instead of doing the purchase: what the framework
costs before a purchase does anything), ``purchase``
(random members; the baseline does the issue's work: resolve the card, lock the account, write transaction, lot,
entry and balance, insert the purchase), ``purchase-rows`` (the same purchases beside a baseline that writes every
row the API writes, in as many statements: what is left between the two is Python), ``purchase-hot`` (every
purchase for one member: they queue on that member's row locks), ``purchase-webhook`` (random members in a
program with a webhook endpoint taking ``points.earned``: each purchase also queues a delivery and hands it to
the workers; the baseline adds the delivery row to the issue's work),
``redeem`` (FREE-COFFEE, 50 points, random members), ``redeem-hot``, ``lookup`` (by card number). The ratio
is our throughput divided by the baseline's.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import random
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/loyalty_bench_pos"
SCENARIOS = ("floor", "floor-django", "purchase", "purchase-rows", "purchase-hot", "purchase-webhook", "redeem",
             "redeem-hot", "lookup")
SEED_POINTS = 100_000_000  # the hot member redeems tens of thousands of times on a fast machine
README_TABLE = "| run | scenario | clients | req/s | p50 ms | p95 ms | p99 ms | raw SQL tx/s | raw p99 ms | ratio |"
README_SUMMARY_TABLE = "| benchmark | machine | date | figure | raw-SQL baseline | ratio |"


# --- database ---------------------------------------------------------------------------------------


def database_recreate(url: str, env: dict) -> None:
    import psycopg
    from psycopg import sql

    name = url.rsplit("/", 1)[1].split("?")[0]
    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    subprocess.run([sys.executable, str(ROOT / "manage.py"), "migrate", "-v0"], check=True, cwd=ROOT, env=env)
    subprocess.run([sys.executable, str(ROOT / "manage.py"), "seed_demo", "--api-key", "bench-key-setup-0000"],
                   check=True, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)


def card_numbers(count: int) -> list[str]:
    from members.identifiers import luhn_check_digit

    numbers = set()
    while len(numbers) < count:
        payload = "8" + "".join(random.choices("0123456789", k=14))  # 8…: never a generated (9…) number
        numbers.add(payload + luhn_check_digit(payload))
    return sorted(numbers)


def load(*, members: int, clients: int) -> dict:
    """Seed N members with accounts, one lot of points and a bronze status row; one POS key per client."""
    from django.db import connection

    from programs.models import Program, Store
    from programs.services import api_key_create
    from tiers.models import Tier

    program = Program.objects.get(slug="demo")
    store = Store.objects.get(program=program, code="DEMO-001")
    keys = [api_key_create(store=store, name=f"bench till {i}", raw_key=f"bench-key-{i:04d}-{secrets.token_hex(8)}")[1]
            for i in range(max(clients, 1))]
    bronze = Tier.objects.get(program=program, code="bronze")
    cards = card_numbers(members)
    params = {"program": str(program.pk), "store": str(store.pk), "points": SEED_POINTS, "bronze": bronze.pk}
    raw = connection.connection  # the psycopg connection under Django's
    with connection.cursor() as cursor:
        buffer = io.StringIO("".join(f"{uuid.uuid4()}\t{card}\tbench{i}@bench.example\n"
                                     for i, card in enumerate(cards)))
        with raw.cursor() as copy_cursor:
            copy_cursor.execute("CREATE TEMP TABLE bench_cards (id uuid, card text, email text)")
            with copy_cursor.copy("COPY bench_cards FROM STDIN") as copy:
                copy.write(buffer.getvalue())
        cursor.execute("""
            INSERT INTO members_member (id, program_id, card_number, email, phone, first_name, last_name,
                birth_date, language, referral_code, referred_by_id, marketing_opt_in, marketing_opt_in_at,
                status, enrolled_at, enrolled_store_id, user_id)
            SELECT id, %(program)s, card, email, NULL, 'Bench', 'Member', NULL, 'en',
                'B' || substr(card, 2, 14), NULL, false, NULL, 'active', now() - interval '1 year', %(store)s, NULL
            FROM bench_cards""", params)
        cursor.execute("""
            INSERT INTO ledger_pointsaccount (program_id, member_id, available, pending, debt, updated_at)
            SELECT %(program)s, id, %(points)s, 0, 0, now() FROM bench_cards""", params)
        cursor.execute("""
            INSERT INTO ledger_ledgertransaction (program_id, kind, idempotency_key, source_type, source_id, actor,
                reason, reverses_id, created_at)
            SELECT %(program)s, 'adjust', 'bench-seed:' || a.id, 'staff', a.id::text, 'bench', 'benchmark seed',
                NULL, now() - interval '1 day'
            FROM ledger_pointsaccount a JOIN bench_cards c ON c.id = a.member_id""", params)
        cursor.execute("""
            INSERT INTO ledger_pointslot (program_id, account_id, amount, remaining, earned_at, available_at,
                released, expires_at, expired)
            SELECT %(program)s, a.id, %(points)s, %(points)s, now() - interval '1 day', now() - interval '1 day',
                true, now() + interval '300 days', false
            FROM ledger_pointsaccount a JOIN bench_cards c ON c.id = a.member_id""", params)
        cursor.execute("""
            INSERT INTO ledger_ledgerentry (public_id, transaction_id, program_id, account_id, kind, points,
                available_delta, pending_delta, debt_delta, lot_id, expires_at, description, created_at)
            SELECT gen_random_uuid(), t.id, %(program)s, l.account_id, 'adjust', l.amount, l.amount, 0, 0, l.id,
                l.expires_at, 'benchmark seed', t.created_at
            FROM ledger_ledgertransaction t JOIN ledger_pointslot l ON l.account_id = t.source_id::bigint
            WHERE t.idempotency_key LIKE 'bench-seed:%%'""", params)
        cursor.execute("""
            INSERT INTO tiers_membertier (program_id, member_id, tier_id, qualifying_value, achieved_at,
                valid_until, below_since, locked_until, updated_at)
            SELECT %(program)s, id, %(bronze)s, 0, now() - interval '1 year', NULL, NULL, NULL, now()
            FROM bench_cards""", params)
        # History, as a running program has: a guest purchase (and its stored answer) per member, and
        # qualifying activity from before the tier window. It leaves what each request reads unchanged
        # (no member has bought before; the window's sum is 0) but gives the tables statistics: planned
        # against empty tables, a cached generic plan scans them whole as they grow (with autovacuum off,
        # as on CI's server, nothing re-plans it) — the first-purchase probe measured 0.45 ms instead of 0.1.
        cursor.execute("""
            INSERT INTO earning_purchase (id, program_id, store_id, external_id, member_id, currency, total,
                returned_total, occurred_at, lines, points_awarded, points_reversed, breakdown,
                earn_transaction_id, claimable_until, claimed_at, actor, created_at)
            SELECT gen_random_uuid(), %(program)s, %(store)s, 'HISTORY-' || card, NULL, 'EUR', 12.50, 0,
                now() - interval '400 days', '[]', 0, 0, '[]', NULL, now() - interval '370 days', NULL, 'bench',
                now() - interval '400 days'
            FROM bench_cards""", params)
        cursor.execute("""
            INSERT INTO loyalty_idempotencyrecord (store_id, scope, key, request_hash, response_status,
                response_body, created_at)
            SELECT %(store)s, 'purchase', 'HISTORY-' || card, repeat('0', 64), 201, '{}', now() - interval '400 days'
            FROM bench_cards""", params)
        cursor.execute("""
            INSERT INTO tiers_qualifyingactivity (program_id, member_id, occurred_at, points, spend, credits,
                source_type, source_id, actor, created_at)
            SELECT %(program)s, id, now() - interval '3 years', 12, 12.50, 0, 'history', card, 'bench',
                now() - interval '3 years'
            FROM bench_cards""", params)
        cursor.execute("DROP TABLE bench_cards")
        cursor.execute("ANALYZE")
    from django.db import connections

    connections.close_all()
    return {"program": str(program.pk), "store": str(store.pk), "keys": keys, "cards": cards}


def webhook_subscribe(ctx: dict, *, active: bool) -> None:
    """For the ``purchase-webhook`` scenario (and only then) the demo program has one active endpoint taking
    ``points.earned``; its URL answers nothing, and no worker runs, so deliveries stay queued. The server's
    processes see the change within ``PROGRAM_CONFIG_CACHE_SECONDS``, which this waits out."""
    from django.conf import settings
    from django.db import connections

    from webhooks.models import WebhookEndpoint

    endpoint = ctx.get("endpoint")
    if endpoint is None and not active:
        return
    if endpoint is None:
        ctx["endpoint"] = WebhookEndpoint.objects.create(program_id=ctx["program"], url="http://127.0.0.1:9/hook",
                                                         events=["points.earned"], description="bench").pk
    elif WebhookEndpoint.objects.filter(pk=endpoint).exclude(active=active).update(active=active) == 0:
        return
    connections.close_all()
    time.sleep(settings.PROGRAM_CONFIG_CACHE_SECONDS + 1)


def reward_id(url: str) -> str:
    import psycopg

    with psycopg.connect(url) as conn:
        return str(conn.execute("SELECT r.id FROM rewards_reward r JOIN programs_program p ON p.id = r.program_id "
                                "WHERE p.slug = 'demo' AND r.code = 'FREE-COFFEE'").fetchone()[0])


# --- the server under load ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """gunicorn serving the project on a loopback port, as in production (DEBUG off, PostgreSQL)."""

    def __init__(self, env: dict, workers: int, app: str = "loyalty.wsgi:application", worker_args: tuple = ()):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", app, "--pythonpath", str(ROOT / "bench"), "--workers", str(workers),
             "--bind", f"127.0.0.1:{self.port}", "--backlog", "2048", "--log-level", "warning",
             "--timeout", "60", *worker_args],
            cwd=ROOT, env=env)
        import httpx

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code < 500:
                    return
            except httpx.HTTPError:
                pass
            if self.process.poll() is not None:
                raise SystemExit("gunicorn exited during start-up")
            time.sleep(0.3)
        self.stop()
        raise SystemExit("gunicorn did not answer within 60 s")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def load_server(*, server: Server, keys: list[str], scenario: str, clients: int, cards: list[str], hot: str | None,
                warmup: float, duration: float, run_id: str) -> dict:
    spec = {"base_url": server.url, "api_keys": keys, "scenario": LOAD_AS.get(scenario, scenario.removesuffix("-hot")),
            "concurrency": clients, "warmup": warmup, "duration": duration, "max_requests": 200_000,
            "run_id": run_id, "cards": cards, "hot": hot}
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(spec, handle)
    try:
        done = subprocess.run([sys.executable, str(ROOT / "bench" / "loadgen.py"), handle.name], check=True,
                              capture_output=True, text=True, timeout=warmup + duration + 120)
    finally:
        os.unlink(handle.name)
    return json.loads(done.stdout)


def load_server_wrk(*, server: Server, keys: list[str], scenario: str, clients: int, cards: list[str],
                    hot: str | None, warmup: float, duration: float, run_id: str) -> dict:
    """The same load from wrk (bench/loadgen.lua): a C client that leaves the shared CPU to the server."""
    import resource

    with tempfile.TemporaryDirectory() as tmp:
        cards_file, keys_file = Path(tmp) / "cards", Path(tmp) / "keys"
        cards_file.write_text("\n".join([hot] if hot else cards) + "\n")
        keys_file.write_text("\n".join(keys) + "\n")
        load_as = LOAD_AS.get(scenario, scenario.removesuffix("-hot"))

        def wrk(seconds: float, label: str) -> dict:
            done = subprocess.run(
                ["wrk", "-t", str(clients), "-c", str(clients), "-d", f"{max(1, round(seconds))}s", "--timeout", "30s",
                 "-s", str(ROOT / "bench" / "loadgen.lua"), server.url, "--", load_as, str(cards_file),
                 str(keys_file), f"{run_id}-{label}"],
                check=True, capture_output=True, text=True, timeout=seconds + 120)
            return json.loads(done.stdout.strip().splitlines()[-1])

        if warmup > 0:
            wrk(warmup, "w")
        before, split_before = resource.getrusage(resource.RUSAGE_CHILDREN), cpu_by_process(server.process.pid)
        figures = wrk(duration, "m")
        after, split_after = resource.getrusage(resource.RUSAGE_CHILDREN), cpu_by_process(server.process.pid)
    ok = figures["requests"] - figures["bad_status"]
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    split = {group: seconds / max(1, figures["requests"]) * 1000
             for group, seconds in cpu_used_between(split_before, split_after).items() if group != "other"}
    return {**figures, "ok": ok, "throughput": ok / figures["seconds"] if figures["seconds"] else 0.0,
            "statuses": {"2xx": ok, **({"4xx/5xx": figures["bad_status"]} if figures["bad_status"] else {}),
                         **({"socket errors": figures["socket_errors"]} if figures["socket_errors"] else {})},
            "errors": [], "client_cpu_ms": cpu / max(1, figures["requests"]) * 1000, "cpu_split_ms": split}


def cpu_by_process(web_pid: int) -> dict[int, tuple[str, float]]:
    """Per process: (web, postgresql, redis or other, CPU seconds used so far), from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    parents, used, names = {}, {}, {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        name, fields = stat[stat.index("(") + 1:stat.rindex(")")], stat[stat.rindex(")") + 2:].split()
        pid = int(entry.name)
        parents[pid], names[pid] = int(fields[1]), name
        used[pid] = (int(fields[11]) + int(fields[12])) / tick  # utime + stime

    def group(pid: int) -> str:
        seen = pid
        while seen > 1:
            if seen == web_pid:
                return "web"
            seen = parents.get(seen, 0)
        if names[pid].startswith("postgres"):
            return "postgresql"
        if names[pid].startswith("redis"):
            return "redis"
        return "other"

    return {pid: (group(pid), seconds) for pid, seconds in used.items()}


def cpu_used_between(before: dict, after: dict) -> dict[str, float]:
    """CPU seconds per group between two ``cpu_by_process`` readings, over the processes alive at the second
    (one that ended in between would otherwise take its whole past off its group's total)."""
    totals: dict[str, float] = {}
    for pid, (group, seconds) in after.items():
        totals[group] = totals.get(group, 0.0) + seconds - before.get(pid, (group, 0.0))[1]
    return totals


def cpu_busy(seconds: float = 1.0) -> float:
    """The machine's busy CPU fraction over ``seconds`` (from /proc/stat)."""
    def sample():
        fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        return sum(fields), fields[3] + fields[4]  # total, idle + iowait

    total, idle = sample()
    time.sleep(seconds)
    total2, idle2 = sample()
    return 1 - (idle2 - idle) / max(1, total2 - total)


def checkpoint(url: str) -> None:
    """Flush PostgreSQL's dirty pages now, so that a checkpoint the previous level's writes made due (and the
    full-page images written after it) does not land inside this level's measurement: a full run writes
    gigabytes of WAL, past ``max_wal_size``, and its redemptions at 8 clients once showed a p99 of 81 ms
    where runs of their own gave 44-45. Needs a superuser (or pg_checkpoint); without one the level
    runs as the server's own schedule allows."""
    import psycopg

    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CHECKPOINT")
    except psycopg.Error as error:
        print(f"   no CHECKPOINT before this level ({error.diag.message_primary or error})", flush=True)


def wait_for_idle(limit: float = 0.15, patience: float = 180.0) -> float:
    """Wait (up to ``patience`` seconds) until nothing else uses the CPU; answers the busy fraction seen last."""
    deadline = time.monotonic() + patience
    while (busy := cpu_busy()) > limit and time.monotonic() < deadline:
        print(f"   the machine is {busy:.0%} busy with other work; waiting", flush=True)
        time.sleep(4)
    return busy


# --- the raw psycopg baseline --------------------------------------------------------------------------


RAW_MEMBER = "SELECT id FROM members_member WHERE program_id = %s AND card_number = %s"


def raw_purchase(cur, ctx: dict, card: str, sequence: str) -> None:
    """Resolve the card, lock the account, write transaction + lot + entry, update the account, insert the purchase."""
    (member_id,) = cur.execute(RAW_MEMBER, (ctx["program"], card)).fetchone()
    (account_id,) = cur.execute("SELECT id FROM ledger_pointsaccount WHERE member_id = %s FOR UPDATE",
                                (member_id,)).fetchone()
    total = random.randint(100, 20000) / 100
    points = int(total)
    purchase_id = uuid.uuid4()
    now = datetime.now(UTC)
    (txn_id,) = cur.execute(
        "INSERT INTO ledger_ledgertransaction (program_id, kind, idempotency_key, source_type, source_id, actor, "
        "reason, created_at) VALUES (%s, 'earn', %s, 'purchase', %s, 'raw', '', %s) RETURNING id",
        (ctx["program"], f"purchase:{ctx['store']}:RAW-{sequence}", str(purchase_id), now)).fetchone()
    expires = now + timedelta(days=365)
    (lot_id,) = cur.execute(
        "INSERT INTO ledger_pointslot (program_id, account_id, amount, remaining, earned_at, available_at, "
        "released, expires_at, expired) VALUES (%s, %s, %s, %s, %s, %s, true, %s, false) RETURNING id",
        (ctx["program"], account_id, points, points, now, now, expires)).fetchone()
    cur.execute(
        "INSERT INTO ledger_ledgerentry (public_id, transaction_id, program_id, account_id, kind, points, "
        "available_delta, pending_delta, debt_delta, lot_id, expires_at, description, created_at) "
        "VALUES (%s, %s, %s, %s, 'earn', %s, %s, 0, 0, %s, %s, %s, %s)",
        (uuid.uuid4(), txn_id, ctx["program"], account_id, points, points, lot_id, expires,
         f"Purchase RAW-{sequence}", now))
    cur.execute("UPDATE ledger_pointsaccount SET available = available + %s, updated_at = %s WHERE id = %s",
                (points, now, account_id))
    _raw_purchase_insert(cur, ctx, purchase_id=purchase_id, external_id=f"RAW-{sequence}", member_id=member_id,
                         total=total, points=points, txn_id=txn_id, now=now)


def _raw_purchase_insert(cur, ctx: dict, *, purchase_id, external_id: str, member_id, total: float, points: int,
                         txn_id: int, now: datetime) -> None:
    cur.execute(
        "INSERT INTO earning_purchase (id, program_id, store_id, external_id, member_id, currency, total, "
        "returned_total, occurred_at, lines, points_awarded, points_reversed, breakdown, earn_transaction_id, "
        "actor, created_at) VALUES (%s, %s, %s, %s, %s, 'EUR', %s, 0, %s, %s, %s, 0, %s, %s, 'raw', %s)",
        (purchase_id, ctx["program"], ctx["store"], external_id, member_id, total, now,
         '[{"sku": "LATTE", "category": "coffee", "quantity": 2, "unit_price": "4.50"}]', points,
         json.dumps([{"rule": "base", "points": points}]), txn_id, now))


def raw_purchase_rows(cur, ctx: dict, card: str, sequence: str) -> None:
    """Every row a purchase through the API writes, in as many statements as the API sends (9 and the commit):
    the stored answer claimed and filled in, the member and the account locked, the ledger's transaction (with
    the due lots locked), lot, entry and balance, the purchase, the member's email queued, the qualifying
    activity with the tier window's sum. What is left between this and the API is Python: HTTP, Django, DRF,
    the rules, and building the answer."""
    now = datetime.now(UTC)
    external_id = f"RAW-{sequence}"
    (record_id,) = cur.execute(
        "INSERT INTO loyalty_idempotencyrecord (store_id, scope, key, request_hash, response_status, response_body, "
        "created_at) VALUES (%s, 'purchase', %s, %s, 0, '{}', %s) ON CONFLICT (store_id, scope, key) DO NOTHING "
        "RETURNING id", (ctx["store"], external_id, secrets.token_hex(32), now)).fetchone()
    member_id, email, first_name = cur.execute(
        "SELECT id, email, first_name FROM members_member WHERE program_id = %s AND card_number = %s "
        "FOR NO KEY UPDATE", (ctx["program"], card)).fetchone()
    account_id, available, _bought_before, _tier = cur.execute(
        "SELECT a.id, a.available, EXISTS (SELECT 1 FROM earning_purchase p WHERE p.member_id = a.member_id), "
        "(SELECT t.tier_id FROM tiers_membertier t WHERE t.member_id = a.member_id) "
        "FROM ledger_pointsaccount a WHERE a.member_id = %s FOR UPDATE", (member_id,)).fetchone()
    total = random.randint(100, 20000) / 100
    points = int(total)
    purchase_id = uuid.uuid4()
    (txn_id, _due) = cur.execute(
        "WITH claim AS (INSERT INTO ledger_ledgertransaction (program_id, kind, idempotency_key, source_type, "
        "source_id, actor, reason, created_at) VALUES (%s, 'earn', %s, 'purchase', %s, 'raw', '', %s) "
        "ON CONFLICT (program_id, idempotency_key) DO NOTHING RETURNING id), "
        "due AS (SELECT id FROM ledger_pointslot WHERE account_id = %s AND ((NOT released AND available_at <= %s) "
        "OR (NOT expired AND remaining > 0 AND expires_at <= %s)) FOR UPDATE) "
        "SELECT (SELECT id FROM claim), (SELECT count(*) FROM due)",
        (ctx["program"], f"purchase:{ctx['store']}:{external_id}", str(purchase_id), now, account_id, now,
         now)).fetchone()
    expires = now + timedelta(days=365)
    cur.execute(
        "WITH new_lot AS (INSERT INTO ledger_pointslot (program_id, account_id, amount, remaining, earned_at, "
        "available_at, released, expires_at, expired) VALUES (%(program)s, %(account)s, %(points)s, %(points)s, "
        "%(now)s, %(now)s, true, %(expires)s, false) RETURNING id), "
        "entry AS (INSERT INTO ledger_ledgerentry (public_id, transaction_id, program_id, account_id, kind, points, "
        "available_delta, pending_delta, debt_delta, lot_id, expires_at, description, created_at) VALUES "
        "(%(public_id)s, %(txn)s, %(program)s, %(account)s, 'earn', %(points)s, %(points)s, 0, 0, "
        "(SELECT id FROM new_lot), %(expires)s, %(description)s, %(now)s)), "
        "account AS (UPDATE ledger_pointsaccount SET available = available + %(points)s, updated_at = %(now)s "
        "WHERE id = %(account)s) SELECT id FROM new_lot",
        {"program": ctx["program"], "account": account_id, "points": points, "now": now, "expires": expires,
         "public_id": uuid.uuid4(), "txn": txn_id, "description": f"Purchase {external_id}"})
    _raw_purchase_insert(cur, ctx, purchase_id=purchase_id, external_id=external_id, member_id=member_id,
                         total=total, points=points, txn_id=txn_id, now=now)
    context = {"language": "en", "member": {"id": str(member_id), "first_name": first_name, "email": email},
               "program": {"name": "Demo", "currency": "EUR"}, "points": points, "balance": available + points,
               "purchase": {"id": str(purchase_id), "external_id": external_id, "total": f"{total:.2f}"},
               "store": {"code": "DEMO-001", "name": "Demo store"}, "occurred_at": now.isoformat()}
    cur.execute(
        'INSERT INTO notifications_outbox (program_id, member_id, channel, kind, category, dedupe_key, "to", '
        "from_email, subject, text, html, context, headers, status, attempts, next_attempt_at, created_at, "
        "last_error) VALUES (%s, %s, 'email', 'points_earned', 'transactional', %s, %s, 'Loyalty <loyalty@localhost>', "
        "'', '', '', %s, '{}', 'pending', 0, %s, %s, '') ON CONFLICT (dedupe_key) DO NOTHING",
        (ctx["program"], member_id, f"points_earned:{uuid.uuid4()}", email, json.dumps(context), now, now))
    cur.execute(
        "WITH activity AS (INSERT INTO tiers_qualifyingactivity (program_id, member_id, occurred_at, points, spend, "
        "credits, source_type, source_id, actor, created_at) VALUES (%(program)s, %(member)s, %(now)s, %(points)s, "
        "%(total)s, 0, 'purchase', %(purchase)s, 'raw', %(now)s) RETURNING occurred_at, points AS units), "
        "total AS (SELECT COALESCE(SUM(units), 0) AS units FROM (SELECT qa.points AS units FROM "
        "tiers_qualifyingactivity qa WHERE qa.member_id = %(member)s AND qa.occurred_at >= %(since)s "
        "UNION ALL SELECT units FROM activity) counted) "
        "UPDATE tiers_membertier status SET qualifying_value = total.units, updated_at = %(now)s FROM total "
        "WHERE status.member_id = %(member)s RETURNING status.tier_id",
        {"program": ctx["program"], "member": member_id, "now": now, "points": points, "total": total,
         "purchase": str(purchase_id), "since": now - timedelta(days=365)})
    answer = {"id": str(purchase_id), "external_id": external_id, "member": {"id": str(member_id), "card_number": card},
              "total": f"{total:.2f}", "currency": "EUR", "occurred_at": now.isoformat(), "points_awarded": points,
              "breakdown": [{"rule": "base", "points": points}], "balance": {"available": available + points,
              "pending": 0}, "tier": {"code": "bronze", "name": "Bronze"}, "claimable_until": None}
    cur.execute("UPDATE loyalty_idempotencyrecord SET response_status = 201, response_body = %s WHERE id = %s",
                (json.dumps(answer), record_id))


def raw_purchase_webhook(cur, ctx: dict, card: str, sequence: str) -> None:
    """The issue's purchase and, in the same transaction, the ``points.earned`` delivery queued for the one
    endpoint (the API's ``purchase-webhook`` scenario: a program with a webhook subscription)."""
    raw_purchase(cur, ctx, card, sequence)
    cur.execute(
        "INSERT INTO webhooks_webhookdelivery (endpoint_id, program_id, event_id, event_type, payload, status, "
        "attempts, next_attempt_at, response_body, last_error, replayed_by, created_at) VALUES (%s, %s, %s, "
        "'points.earned', %s, 'pending', 0, now(), '', '', '', now()) RETURNING id",
        (ctx["endpoint"], ctx["program"], uuid.uuid4(), json.dumps({"points": 1, "card": card})))


def raw_redeem(cur, ctx: dict, card: str, sequence: str) -> None:
    """Resolve the card, lock the account and the soonest-expiring lot, write transaction + entry + movement,
    update lot and account, insert the redemption."""
    (member_id,) = cur.execute(RAW_MEMBER, (ctx["program"], card)).fetchone()
    account_id, available = cur.execute(
        "SELECT id, available FROM ledger_pointsaccount WHERE member_id = %s FOR UPDATE", (member_id,)).fetchone()
    if available < 50:
        raise RuntimeError("insufficient points in the baseline")
    (lot_id,) = cur.execute(
        "SELECT id FROM ledger_pointslot WHERE account_id = %s AND released AND NOT expired AND remaining >= 50 "
        "ORDER BY expires_at NULLS LAST, earned_at, id LIMIT 1 FOR UPDATE", (account_id,)).fetchone()
    redemption_id = uuid.uuid4()
    now = datetime.now(UTC)
    (txn_id,) = cur.execute(
        "INSERT INTO ledger_ledgertransaction (program_id, kind, idempotency_key, source_type, source_id, actor, "
        "reason, created_at) VALUES (%s, 'redeem', %s, 'redemption', %s, 'raw', '', %s) RETURNING id",
        (ctx["program"], f"redemption:{redemption_id}", str(redemption_id), now)).fetchone()
    (entry_id,) = cur.execute(
        "INSERT INTO ledger_ledgerentry (public_id, transaction_id, program_id, account_id, kind, points, "
        "available_delta, pending_delta, debt_delta, description, created_at) "
        "VALUES (%s, %s, %s, %s, 'redeem', -50, -50, 0, 0, 'Redeemed Free coffee', %s) RETURNING id",
        (uuid.uuid4(), txn_id, ctx["program"], account_id, now)).fetchone()
    cur.execute("INSERT INTO ledger_lotmovement (entry_id, lot_id, points) VALUES (%s, %s, -50)", (entry_id, lot_id))
    cur.execute("UPDATE ledger_pointslot SET remaining = remaining - 50 WHERE id = %s", (lot_id,))
    cur.execute("UPDATE ledger_pointsaccount SET available = available - 50, updated_at = %s WHERE id = %s",
                (now, account_id))
    cur.execute(
        "INSERT INTO rewards_redemption (id, program_id, reward_id, member_id, store_id, points_spent, voucher_code, "
        "status, issued_at, actor, spend_transaction_id) VALUES (%s, %s, %s, %s, %s, 50, %s, 'issued', %s, 'raw', %s)",
        (redemption_id, ctx["program"], ctx["reward"], member_id, ctx["store"], secrets.token_hex(8).upper(), now,
         txn_id))


def raw_lookup(cur, ctx: dict, card: str, sequence: str) -> None:
    """The member object's data in one statement: member, tier, account."""
    cur.execute(
        "SELECT m.id, m.card_number, m.email, m.phone, m.first_name, m.last_name, m.birth_date, m.status, "
        "m.referral_code, m.marketing_opt_in, m.enrolled_at, t.code, t.name, a.available - a.debt, a.pending "
        "FROM members_member m LEFT JOIN tiers_membertier s ON s.member_id = m.id "
        "LEFT JOIN tiers_tier t ON t.id = s.tier_id LEFT JOIN ledger_pointsaccount a ON a.member_id = m.id "
        "WHERE m.program_id = %s AND m.card_number = %s", (ctx["program"], card)).fetchone()


RAW_WORK = {"purchase": raw_purchase, "purchase-rows": raw_purchase_rows, "purchase-webhook": raw_purchase_webhook,
            "redeem": raw_redeem, "lookup": raw_lookup}
# The floors send purchases to bench/floor_app.py and bench/django_floor_app.py and set them beside the raw
# purchase; "purchase-rows" sends
# purchases to the API and sets them beside the raw SQL that writes every row the API writes.
LOAD_AS = {"floor": "purchase", "floor-django": "purchase", "purchase-rows": "purchase", "purchase-webhook": "purchase"}


def load_raw(*, url: str, ctx: dict, scenario: str, clients: int, cards: list[str], hot: str | None,
             warmup: float, duration: float, run_id: str) -> dict:
    import psycopg
    from loadgen import percentile

    work = RAW_WORK.get(scenario) or RAW_WORK[LOAD_AS.get(scenario, scenario.removesuffix("-hot"))]
    connections = [psycopg.connect(url) for _ in range(clients)]
    latencies: list[list[float]] = [[] for _ in range(clients)]
    failures = [0] * clients
    counter = iter(range(10**9))
    lock = threading.Lock()
    started = time.perf_counter()
    measure_from, stop_at = started + warmup, started + warmup + duration

    def client(index: int) -> None:
        conn = connections[index]
        while (now := time.perf_counter()) < stop_at:
            with lock:
                sequence = f"{run_id}-{next(counter)}"
            began = time.perf_counter()
            try:
                with conn.transaction(), conn.cursor() as cur:
                    work(cur, ctx, hot or random.choice(cards), sequence)
            except psycopg.Error:
                failures[index] += 1
                continue
            ended = time.perf_counter()
            if began >= measure_from and ended <= stop_at:
                latencies[index].append(ended - began)
            del now

    import resource

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    before, split_before = resource.getrusage(resource.RUSAGE_SELF), cpu_by_process(os.getpid())
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    after, split_after = resource.getrusage(resource.RUSAGE_SELF), cpu_by_process(os.getpid())
    done = sum(len(values) for values in latencies) * (warmup + duration) / duration or 1  # warm-up included
    split = {"postgresql": cpu_used_between(split_before, split_after).get("postgresql", 0.0) / done * 1000,
             "client": ((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)) / done * 1000}
    for conn in connections:
        conn.close()
    merged = sorted(value for values in latencies for value in values)
    return {"requests": len(merged), "failures": sum(failures), "throughput": len(merged) / duration,
            "p50_ms": percentile(merged, 0.5) * 1000, "p95_ms": percentile(merged, 0.95) * 1000,
            "p99_ms": percentile(merged, 0.99) * 1000, "cpu_split_ms": split, "latencies": merged,
            "seconds": duration}


# --- rounds -------------------------------------------------------------------------------------------


def merged_server(parts: list[dict]) -> dict:
    """Slices of one level (``--rounds``) as one measurement: counts added, the latency distribution merged
    from each slice's quantiles weighted by its requests, CPU figures averaged per request."""
    requests = sum(part["requests"] for part in parts)
    ok, seconds = sum(part["ok"] for part in parts), sum(part["seconds"] for part in parts)
    samples = sorted((value, part["requests"] / len(part["quantiles_ms"]))
                     for part in parts if part.get("quantiles_ms") for value in part["quantiles_ms"])
    total = sum(weight for _, weight in samples)

    def quantile(fraction: float) -> float:
        seen = 0.0
        for value, weight in samples:
            seen += weight
            if seen >= fraction * total:
                return value
        return samples[-1][0] if samples else float("nan")

    def per_request(name: str) -> float:
        return sum(part[name] * part["requests"] for part in parts) / max(1, requests)

    statuses: dict = {}
    for part in parts:
        for status, count in part["statuses"].items():
            statuses[status] = statuses.get(status, 0) + count
    split = {group: sum(part["cpu_split_ms"].get(group, 0.0) * part["requests"] for part in parts) / max(1, requests)
             for group in {group for part in parts for group in part.get("cpu_split_ms", {})}}
    return {"requests": requests, "ok": ok, "seconds": seconds, "throughput": ok / seconds if seconds else 0.0,
            "statuses": statuses, "errors": [error for part in parts for error in part["errors"]],
            "p50_ms": quantile(0.50), "p95_ms": quantile(0.95), "p99_ms": quantile(0.99),
            "client_cpu_ms": per_request("client_cpu_ms"), "cpu_split_ms": split}


def merged_raw(parts: list[dict]) -> dict:
    from loadgen import percentile

    latencies = sorted(value for part in parts for value in part["latencies"])
    seconds = sum(part["seconds"] for part in parts)
    done = max(1, len(latencies))
    split = {group: sum(part["cpu_split_ms"][group] * part["requests"] for part in parts) / done
             for group in parts[0]["cpu_split_ms"]}
    return {"requests": len(latencies), "failures": sum(part["failures"] for part in parts),
            "throughput": len(latencies) / seconds if seconds else 0.0,
            "p50_ms": percentile(latencies, 0.5) * 1000, "p95_ms": percentile(latencies, 0.95) * 1000,
            "p99_ms": percentile(latencies, 0.99) * 1000, "cpu_split_ms": split}


# --- profile ------------------------------------------------------------------------------------------


def profile_purchases(*, count: int, key: str, cards: list[str]) -> str:
    """pyinstrument over ``count`` purchases through Django's test client, in this process."""
    from django.db import connection
    from django.test import Client
    from pyinstrument import Profiler

    client = Client(HTTP_AUTHORIZATION=f"Api-Key {key}")

    def post(i):
        body = {"external_id": f"PROFILE-{i}", "member": {"card_number": random.choice(cards)}, "currency": "EUR",
                "total": "42.50", "lines": [{"sku": "LATTE", "category": "coffee", "quantity": 2,
                                             "unit_price": "4.50"}]}
        response = client.post("/api/v1/pos/purchases/", body, content_type="application/json")
        assert response.status_code == 201, response.content

    for i in range(20):
        post(f"warm-{i}")
    queries = []

    def counted(execute, sql, params, many, context):
        queries.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(counted):
        post("count")
    profiler = Profiler(interval=0.0005)
    started = time.perf_counter()
    profiler.start()
    for i in range(count):
        post(i)
    profiler.stop()
    per_request = (time.perf_counter() - started) / count * 1000
    text = profiler.output_text(unicode=True, color=False, show_all=False)
    return f"{count} purchases, {per_request:.2f} ms each in-process, {len(queries)} queries each\n\n{text}"


def spy_workers(*, server: Server, seconds: float, load) -> str:
    """py-spy on every gunicorn worker while ``load()`` runs: the share of the workers' CPU (samples taken
    while holding the GIL, so waits on PostgreSQL and Redis do not count) per function, inclusive and self."""
    import collections
    import re

    workers = subprocess.run(["pgrep", "-P", str(server.process.pid)], capture_output=True, text=True).stdout.split()
    beside = Path(sys.executable).parent / "py-spy"  # installed into the same virtualenv (requirements-dev.txt)
    spy = str(beside) if beside.exists() else shutil.which("py-spy")
    if spy is None:
        return "py-spy is not installed (pip install -r requirements-dev.txt)"
    with tempfile.TemporaryDirectory() as tmp:
        spies = [subprocess.Popen([spy, "record", "--pid", pid, "--duration",
                                   str(round(seconds)), "--rate", "200", "--format", "raw", "--gil", "--nonblocking",
                                   "--output", f"{tmp}/{pid}.txt"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for pid in workers]
        time.sleep(1)  # py-spy attaches
        load()
        for process in spies:
            process.wait(timeout=seconds + 60)
        # Every worker's stacks, collapsed, for a flame graph (flamegraph.pl, speedscope) or a closer look.
        (ROOT / "var" / "bench").mkdir(parents=True, exist_ok=True)
        (ROOT / "var" / "bench" / "pos_spy.stacks").write_text(
            "".join(path.read_text() for path in sorted(Path(tmp).glob("*.txt"))))
        inclusive, own, total = collections.Counter(), collections.Counter(), 0
        for path in Path(tmp).glob("*.txt"):
            for line in path.read_text().splitlines():
                stack, _, count = line.rpartition(" ")
                if not stack or not count.isdigit():
                    continue
                frames = [re.sub(r":\d+\)$", ")", frame) for frame in stack.split(";")]  # one entry per function
                total += int(count)
                for frame in set(frames):
                    inclusive[frame] += int(count)
                own[frames[-1]] += int(count)
    if not total:
        return "py-spy took no samples (is it installed, and may it attach to other processes?)"
    ours = ("loyalty/", "earning/", "ledger/", "members/", "tiers/", "rewards/", "notifications/", "programs/",
            "webhooks/")
    lines = [f"{total:,} samples of {len(workers)} workers over {seconds:.0f} s (GIL held)", "",
             "inclusive, the project's functions:"]
    lines += [f"{count / total:6.1%}  {frame}" for frame, count in inclusive.most_common()
              if any(f"({prefix}" in frame or f" {prefix}" in frame for prefix in ours)][:40]
    lines += ["", "self, any function:"]
    lines += [f"{count / total:6.1%}  {frame}" for frame, count in own.most_common(30)]
    return "\n".join(lines)


def cache_prepare(url: str) -> str | None:
    """The Redis cache the server uses (emptied), or None for per-process memory when none answers."""
    if url == "none":
        return None
    import redis

    try:
        redis.Redis.from_url(url, socket_timeout=2).flushdb()
    except redis.RedisError as error:
        print(f"no Redis at {url} ({error}); the server caches in per-process memory")
        return None
    return url


# --- reporting ------------------------------------------------------------------------------------------


def machine(url: str) -> str:
    import psycopg

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or platform.machine())
    with psycopg.connect(url) as conn:
        version = conn.execute("SHOW server_version").fetchone()[0].split()[0]
    return f"{cpu}, {os.cpu_count()} vCPU, PostgreSQL {version}"


def table_insert(readme: Path, header: str, rows: list[str]) -> None:
    """Add rows at the end of the README table that starts with ``header`` (others' rows are left alone)."""
    lines = readme.read_text().splitlines()
    start = lines.index(header)
    end = start + 1
    while end < len(lines) and lines[end].startswith("|"):
        end += 1
    lines[end:end] = rows
    readme.write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=20_000)
    parser.add_argument("--levels", default="1,8,32", help="Concurrent clients, comma-separated.")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--workers", type=int, default=2 * (os.cpu_count() or 1) + 1, help="gunicorn workers.")
    parser.add_argument("--client", choices=("wrk", "httpx"), default="wrk" if shutil.which("wrk") else "httpx",
                        help="Load generator: wrk (bench/loadgen.lua; default when installed) or bench/loadgen.py.")
    parser.add_argument("--worker-class", default="sync", help="gunicorn worker class (sync, gthread).")
    parser.add_argument("--threads", type=int, default=1, help="Threads per gunicorn worker (gthread).")
    parser.add_argument("--duration", type=float, default=6.0, help="Measured seconds per level.")
    parser.add_argument("--rounds", type=int, default=3,
                        help="Turns per level: ours and the raw baseline alternate, duration/rounds seconds each.")
    parser.add_argument("--warmup", type=float, default=2.0, help="Unmeasured seconds before each level.")
    parser.add_argument("--profile", type=int, default=0, help="Also profile this many purchases in-process.")
    parser.add_argument("--spy", type=float, default=0,
                        help="Also sample the web workers with py-spy for this many seconds at 8 clients.")
    parser.add_argument("--spy-scenario", default="purchase", choices=("purchase", "redeem", "lookup"),
                        help="What the clients send while py-spy samples (--spy).")
    parser.add_argument("--label", default="", help="Names the run in the README table (e.g. 'before').")
    parser.add_argument("--no-readme", action="store_true", help="Print only; do not add rows to bench/README.md.")
    parser.add_argument("--idle-wait", type=float, default=60.0,
                        help="Before each level, wait up to this many seconds for other work to leave the CPU.")
    parser.add_argument("--readme", help="Add the rows to this file instead of bench/README.md.")
    parser.add_argument("--cache-url", default="redis://127.0.0.1:6379/9",
                        help="The server's CACHE_URL, as in production (emptied first); 'none': per-process memory.")
    parser.add_argument("--broker-url", default="redis://127.0.0.1:6379/10",
                        help="The server's CELERY_BROKER_URL (emptied before and after); used only with the cache.")
    args = parser.parse_args()
    levels = [int(level) for level in args.levels.split(",")]
    scenarios = [scenario for scenario in args.scenarios.split(",") if scenario]
    if unknown := set(scenarios) - set(SCENARIOS):
        raise SystemExit(f"unknown scenarios: {', '.join(sorted(unknown))}")

    url = os.environ.get("DATABASE_URL", DEFAULT_URL)
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_DEBUG": "false", "DJANGO_SETTINGS_MODULE": "loyalty.settings",
           "LOG_LEVEL": "WARNING", "POS_RATE_LIMIT": os.environ.get("POS_RATE_LIMIT", "1000000/min")}
    env.setdefault("DJANGO_SECRET_KEY", "bench-secret-key-not-for-production-0123456789")
    env["EMAIL_URL"] = "dummymail://"  # member emails are built and dropped: nothing leaves the machine
    cache = cache_prepare(args.cache_url)
    broker = cache_prepare(args.broker_url) if cache else None
    if cache:
        env["CACHE_URL"] = cache
    if broker:  # tasks (emails, webhooks) are queued for workers, as in production; none runs here
        env["CELERY_BROKER_URL"] = broker
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "bench"))
    database_recreate(url, env)

    import django

    django.setup()
    started = time.perf_counter()
    seeded = load(members=args.members, clients=max(levels))
    ctx = {"program": seeded["program"], "store": seeded["store"], "reward": reward_id(url)}
    cards = seeded["cards"]
    print(f"seeded {args.members:,} members and {len(seeded['keys'])} POS keys in {time.perf_counter() - started:.1f}s")
    hot_cards = {"purchase-hot": cards[0], "redeem-hot": cards[1]}
    run_id = datetime.now(UTC).strftime("%H%M%S")

    profile = None
    if args.profile:
        profile = profile_purchases(count=args.profile, key=seeded["keys"][0], cards=cards[2:])
        out = ROOT / "var" / "bench"
        out.mkdir(parents=True, exist_ok=True)
        (out / "pos_profile.txt").write_text(profile)
        print(profile)
        from django.db import connections

        connections.close_all()

    send_load = load_server_wrk if args.client == "wrk" else load_server
    print(f"load generator: {args.client}")
    results = []
    worker_args = ("--worker-class", args.worker_class, "--threads", str(args.threads))
    server = Server(env, args.workers, worker_args=worker_args)
    floor_apps = {"floor": "floor_app:application", "floor-django": "django_floor_app:application"}
    floors = {scenario: Server(env, args.workers, app=app, worker_args=worker_args)
              for scenario, app in floor_apps.items() if scenario in scenarios}
    try:
        for scenario in scenarios:
            hot = hot_cards.get(scenario)
            pool = cards[2:]
            webhook_subscribe(ctx, active=scenario == "purchase-webhook")
            for clients in levels:
                checkpoint(url)
                busy = wait_for_idle(patience=args.idle_wait)
                # Ours and the baseline take turns in short slices, so that both see the same machine: on
                # a shared host the speed of either alone drifts by a third within minutes.
                ours_parts, raw_parts = [], []
                for turn in range(args.rounds):
                    ours_parts.append(send_load(
                        server=floors.get(scenario, server), keys=seeded["keys"], scenario=scenario,
                        clients=clients, cards=pool, hot=hot, warmup=args.warmup if turn == 0 else 0,
                        duration=args.duration / args.rounds, run_id=f"{run_id}-{scenario}-{clients}-{turn}"))
                    raw_parts.append(load_raw(
                        url=url, ctx=ctx, scenario=scenario, clients=clients, cards=pool, hot=hot,
                        warmup=min(args.warmup, 1.0) if turn == 0 else 0.2, duration=args.duration / args.rounds,
                        run_id=f"{run_id}-{scenario}-{clients}-{turn}"))
                ours, raw = merged_server(ours_parts), merged_raw(raw_parts)
                bad = {status: n for status, n in ours["statuses"].items() if status not in ("200", "201", "2xx")}
                ratio = ours["throughput"] / raw["throughput"] if raw["throughput"] else 0.0
                results.append((scenario, clients, ours, raw, ratio, busy))
                if busy > 0.15:
                    print(f"   measured while the machine was {busy:.0%} busy with other work", flush=True)
                print(f"{scenario:13} {clients:3} clients: {ours['throughput']:7.1f} req/s  p50 {ours['p50_ms']:6.1f}  "
                      f"p95 {ours['p95_ms']:6.1f}  p99 {ours['p99_ms']:6.1f} ms  {'non-2xx ' + str(bad) if bad else ''}"
                      f"| raw {raw['throughput']:7.1f} tx/s  p99 {raw['p99_ms']:5.1f} ms"
                      f"{' (' + str(raw['failures']) + ' failed)' if raw['failures'] else ''} | ratio {ratio:.2f} | "
                      f"client CPU {ours['client_cpu_ms']:.2f} ms/request",
                      flush=True)
                if ours.get("cpu_split_ms"):
                    print("   CPU per request: " + ", ".join(f"{group} {ms:.2f} ms" for group, ms
                                                             in sorted(ours["cpu_split_ms"].items()))
                          + " | raw, per transaction: " + ", ".join(f"{group} {ms:.2f} ms" for group, ms
                                                                    in sorted(raw["cpu_split_ms"].items())),
                          flush=True)
                if ours["errors"]:
                    print("   client errors:", ours["errors"])
        if args.spy:
            wait_for_idle(patience=args.idle_wait)
            spied = spy_workers(server=server, seconds=args.spy, load=lambda: send_load(
                server=server, keys=seeded["keys"], scenario=args.spy_scenario, clients=8, cards=cards[2:], hot=None,
                warmup=0, duration=args.spy, run_id=f"{run_id}-spy"))
            out = ROOT / "var" / "bench"
            out.mkdir(parents=True, exist_ok=True)
            (out / "pos_spy.txt").write_text(spied + "\n")
            print(f"\npy-spy, {args.spy_scenario} at 8 clients (also in var/bench/pos_spy.txt):\n{spied}")
    finally:
        server.stop()
        for floor in floors.values():
            floor.stop()
        if broker:
            cache_prepare(broker)  # drop the queued tasks no worker ran

    if not args.no_readme and results:
        readme = Path(args.readme) if args.readme else ROOT / "bench" / "README.md"
        date = datetime.now(UTC).date().isoformat()
        label = args.label or date
        table_insert(readme, README_TABLE, [
            f"| {label}{f' (other work: {busy:.0%} CPU)' if busy > 0.15 else ''} | {scenario} | {clients} | "
            f"{ours['throughput']:.0f} | {ours['p50_ms']:.1f} | {ours['p95_ms']:.1f} | {ours['p99_ms']:.1f} | "
            f"{raw['throughput']:.0f} | {raw['p99_ms']:.1f} | {ratio:.2f} |"
            for scenario, clients, ours, raw, ratio, busy in results])
        summary = next((r for r in results if r[0] == "purchase" and r[1] == 8), None)
        if summary is not None:
            _, _, ours, raw, ratio, _ = summary
            table_insert(readme, README_SUMMARY_TABLE, [
                f"| pos_load ({label}): POS purchase, random members, 8 clients, gunicorn {args.workers} workers | "
                f"{machine(url)} | {date} | {ours['throughput']:.0f} req/s, p50 {ours['p50_ms']:.1f} ms, "
                f"p99 {ours['p99_ms']:.1f} ms | {raw['throughput']:.0f} tx/s, p99 {raw['p99_ms']:.1f} ms | "
                f"{ratio:.2f} |"])


if __name__ == "__main__":
    main()

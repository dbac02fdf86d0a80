"""Benchmark: the points-accounting rollup (breakage flows and estimates) and the /staff/analytics/points/ page.

    .venv/bin/python bench/points_accounting.py [--members 200000] [--days 730] [--per-day 3000]
                                                 [--busy-per-day 14000] [--requests 10] [--reuse]

Uses ``DATABASE_URL`` (default postgres://postgres@127.0.0.1:5432/loyalty_bench_points), which it drops,
recreates and migrates, then loads one program with N members and their accounts (``COPY``, as
``staff_pages.py`` does) and, in bulk SQL, ``--days`` days of ledger: ``--per-day`` earns a day (each its lot,
transaction and entry; expiring after 365 days), a third as many redemptions each taking points from an earlier
lot (entry and lot movement), and the expiry of what is left in lots past their date; the last two days carry
``--busy-per-day`` earns each, the daily volume of 10,000,000 purchases over two years. Account balances are
set to what their lots hold.

Then it times, in the script's own process (``DJANGO_DEBUG=false``): the full rebuild (``rollup_rebuild``, every
day from the first entry, the daily facts and every further rollup), the breakage rollup alone over every day,
the nightly run (``rollup_recent``: yesterday and today, both busy), and the page for this month, the last 12
months and the last 24 months, each ``--requests`` times after a warm-up. It prints the figures.

Run of 2026-12-03 (AMD EPYC, 2 vCPU, PostgreSQL 15.20, the machine shared with other work: load average 8–11),
defaults: 200,000 members, 3,827,512 ledger entries over 730 days. Full rebuild 33.1 s (the breakage rollup alone
29.6 s); nightly run of two busy days 3.7–4.3 s; 2,451 breakage flow rows and 350 recorded estimates. The page:
this month p50 257 ms (max 382), 12 months p50 317 ms (max 465), 24 months p50 393 ms (max 991), 10 requests
each, server time in-process.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from staff_pages import MANAGER, members_load, program_load
from tiers_recalc import database_recreate, machine, quiet_django

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/loyalty_bench_points"

# One batch of earns: ``%(count)s`` rows spread evenly over ``%(days)s`` days ending with ``%(last_day)s``,
# each with its ids drawn up front (as the expiry job does), a random account of the program.
_EARNS_SQL = """
CREATE TEMP TABLE earns AS
SELECT g AS n, nextval(pg_get_serial_sequence('ledger_pointslot', 'id')::regclass) AS lot_id,
       nextval(pg_get_serial_sequence('ledger_ledgertransaction', 'id')::regclass) AS txn_id,
       nextval(pg_get_serial_sequence('ledger_ledgerentry', 'id')::regclass) AS entry_id,
       %(last_day)s::timestamptz - (%(days)s - 1 - g / %(per_day)s) * interval '1 day'
           + (g %% %(per_day)s) * (interval '12 hours' / %(per_day)s) AS at,
       (SELECT min(id) FROM ledger_pointsaccount) + floor(random() * %(accounts)s)::bigint AS account_id,
       10 + floor(random() * 290)::bigint AS points
FROM generate_series(0, %(count)s - 1) g;
INSERT INTO ledger_pointslot (id, program_id, account_id, amount, remaining, earned_at, available_at, released,
                              expires_at, expired)
SELECT lot_id, %(program)s, account_id, points, points, at, at, true, at + interval '365 days', false FROM earns;
INSERT INTO ledger_ledgertransaction (id, program_id, kind, idempotency_key, source_type, source_id, actor, reason,
                                      reverses_id, created_at)
SELECT txn_id, %(program)s, 'earn', 'bench:' || %(batch)s || ':earn:' || n, 'purchase', n::text, 'bench', '', NULL, at
FROM earns;
INSERT INTO ledger_ledgerentry (id, public_id, transaction_id, program_id, account_id, kind, points, available_delta,
                                pending_delta, debt_delta, lot_id, expires_at, description, created_at)
SELECT entry_id, gen_random_uuid(), txn_id, %(program)s, account_id, 'earn', points, points, 0, 0, lot_id,
       at + interval '365 days', '', at
FROM earns;
-- a third as many redemptions, each a day or more after the lot it takes from, of that lot's account
CREATE TEMP TABLE spends AS
SELECT e.lot_id, e.account_id, LEAST(e.points, 50 + floor(random() * 200)::bigint) AS points,
       e.at + (1 + floor(random() * 60)) * interval '1 day' AS at,
       nextval(pg_get_serial_sequence('ledger_ledgertransaction', 'id')::regclass) AS txn_id,
       nextval(pg_get_serial_sequence('ledger_ledgerentry', 'id')::regclass) AS entry_id
FROM earns e WHERE e.n %% 3 = 0;
DELETE FROM spends WHERE at > now();
INSERT INTO ledger_ledgertransaction (id, program_id, kind, idempotency_key, source_type, source_id, actor, reason,
                                      reverses_id, created_at)
SELECT txn_id, %(program)s, 'redeem', 'bench:' || %(batch)s || ':redeem:' || lot_id, 'redemption', lot_id::text,
       'bench', '', NULL, at
FROM spends;
INSERT INTO ledger_ledgerentry (id, public_id, transaction_id, program_id, account_id, kind, points, available_delta,
                                pending_delta, debt_delta, lot_id, expires_at, description, created_at)
SELECT entry_id, gen_random_uuid(), txn_id, %(program)s, account_id, 'redeem', -points, -points, 0, 0, NULL, NULL,
       '', at
FROM spends;
INSERT INTO ledger_lotmovement (entry_id, lot_id, points) SELECT entry_id, lot_id, -points FROM spends;
UPDATE ledger_pointslot l SET remaining = l.remaining - s.points FROM spends s WHERE l.id = s.lot_id;
DROP TABLE earns;
DROP TABLE spends;
"""

# What is left in lots past their date expires, as the expiry job books it.
_EXPIRE_SQL = """
CREATE TEMP TABLE due AS
SELECT id, account_id, remaining, expires_at AS at,
       nextval(pg_get_serial_sequence('ledger_ledgertransaction', 'id')::regclass) AS txn_id,
       nextval(pg_get_serial_sequence('ledger_ledgerentry', 'id')::regclass) AS entry_id
FROM ledger_pointslot WHERE program_id = %(program)s AND NOT expired AND remaining > 0 AND expires_at <= now();
INSERT INTO ledger_ledgertransaction (id, program_id, kind, idempotency_key, source_type, source_id, actor, reason,
                                      reverses_id, created_at)
SELECT txn_id, %(program)s, 'expire', 'expire:lot:' || id, 'lot', id::text, 'bench', '', NULL, at FROM due;
INSERT INTO ledger_ledgerentry (id, public_id, transaction_id, program_id, account_id, kind, points, available_delta,
                                pending_delta, debt_delta, lot_id, expires_at, description, created_at)
SELECT entry_id, gen_random_uuid(), txn_id, %(program)s, account_id, 'expire', -remaining, -remaining, 0, 0, NULL,
       NULL, '', at
FROM due;
INSERT INTO ledger_lotmovement (entry_id, lot_id, points) SELECT entry_id, id, -remaining FROM due;
UPDATE ledger_pointslot l SET remaining = 0, expired = true FROM due WHERE l.id = due.id;
DROP TABLE due;
UPDATE ledger_pointsaccount a SET available = s.held
FROM (SELECT account_id, SUM(remaining) AS held FROM ledger_pointslot WHERE program_id = %(program)s
      GROUP BY account_id) s
WHERE a.id = s.account_id;
"""


def load(*, members: int, days: int, per_day: int, busy_per_day: int) -> None:
    from django.db import connection

    now = datetime.now(UTC).replace(microsecond=0)
    started = time.perf_counter()
    program, *_ = program_load(now)
    members_load(program=program, members=members, now=now - timedelta(days=days + 30))
    print(f"{members:,} members with their accounts in {time.perf_counter() - started:.1f}s", flush=True)
    today = now.replace(hour=6, minute=0, second=0)
    for batch, (count_days, count, last_day) in enumerate(
            ((days - 2, per_day, today - timedelta(days=2)), (2, busy_per_day, today))):
        started = time.perf_counter()
        with connection.cursor() as cursor:
            run_script(cursor, _EARNS_SQL, {"program": program.pk, "days": count_days, "per_day": count,
                                        "count": count_days * count, "last_day": last_day, "accounts": members,
                                        "batch": str(batch)})
        print(f"{count_days * count:,} earns over {count_days} days with their redemptions in "
              f"{time.perf_counter() - started:.1f}s", flush=True)
    started = time.perf_counter()
    with connection.cursor() as cursor:
        run_script(cursor, _EXPIRE_SQL, {"program": program.pk})
        cursor.execute("SELECT count(*) FROM ledger_ledgerentry")
        entries = cursor.fetchone()[0]
    print(f"expiry and balances in {time.perf_counter() - started:.1f}s; {entries:,} ledger entries", flush=True)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")


def run_script(cursor, script: str, params: dict) -> None:
    """Each statement of ``script`` in turn (a prepared statement holds one)."""
    for statement in script.split(";\n"):
        if statement.strip():
            cursor.execute(statement, {name: value for name, value in params.items() if f"%({name})s" in statement})


def timed(run) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def measure(*, requests: int) -> None:
    from django.contrib.auth import get_user_model
    from django.test import Client

    from analytics.breakage import breakage_rollup
    from analytics.models import BreakageEstimate, BreakageFlow, DailyLedger
    from analytics.services import local_today, program_zone, rollup_rebuild, rollup_recent
    from programs.models import Program

    program = Program.objects.get(slug="bench-members")
    today = local_today(program)
    print(machine(), flush=True)
    rebuilt = timed(lambda: rollup_rebuild(program=program))
    first = DailyLedger.objects.filter(program=program).order_by("day").values_list("day", flat=True).first()
    alone = timed(lambda: breakage_rollup(program=program, first=first, last=today, zone=program_zone(program)))
    nightly = [timed(lambda: rollup_recent(program=program)) for _ in range(3)]
    print(f"rebuild, {first} to {today}: {rebuilt:.1f}s; breakage rollup alone over those days: {alone:.1f}s; "
          f"nightly (yesterday and today, busy): {', '.join(f'{s:.2f}s' for s in nightly)}", flush=True)
    print(f"rows: {DailyLedger.objects.filter(program=program).count():,} daily ledger, "
          f"{BreakageFlow.objects.filter(program=program).count():,} breakage flows, "
          f"{BreakageEstimate.objects.filter(program=program).count():,} estimates", flush=True)

    client = Client()
    client.force_login(get_user_model().objects.get(username=MANAGER))
    slug = program.slug
    for label, start in (("this month", today.replace(day=1)), ("12 months", today - timedelta(days=365)),
                         ("24 months", today - timedelta(days=730))):
        url = f"/staff/analytics/points/?program={slug}&start={start}&end={today}"
        if client.get(url).status_code != 200:
            raise SystemExit(f"{url} did not answer 200")
        times = [timed(lambda url=url: client.get(url)) for _ in range(requests)]
        print(f"page, {label}: p50 {statistics.median(times) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms "
              f"({requests} requests)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--members", type=int, default=200_000)
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--per-day", type=int, default=3_000)
    parser.add_argument("--busy-per-day", type=int, default=14_000)
    parser.add_argument("--requests", type=int, default=10)
    parser.add_argument("--reuse", action="store_true", help="Measure the database an earlier run loaded.")
    args = parser.parse_args()

    url = os.environ.get("DATABASE_URL", DEFAULT_URL)
    quiet_django(url)
    if not args.reuse:
        database_recreate(url)

    import django

    django.setup()
    if not args.reuse:
        load(members=args.members, days=args.days, per_day=args.per_day, busy_per_day=args.busy_per_day)
    measure(requests=args.requests)


if __name__ == "__main__":
    main()

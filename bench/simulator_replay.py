"""Benchmark: the earn-rate simulator's replay of 12 months, and its page.

    .venv/bin/python bench/simulator_replay.py [--members 20000] [--purchases 10] [--reuse]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/loyalty_scale .venv/bin/python bench/simulator_replay.py \
        --program scale          # the program bench/seed_scale.py made: 1,000,000 members, 10,000,000 purchases

Uses ``DATABASE_URL`` (default postgres://postgres@127.0.0.1:5432/loyalty_bench_simulator), migrated in a
subprocess, and loads one program ``sim-bench`` set-based (``INSERT … SELECT generate_series``): N members,
K purchases each spread over the last 360 days (one in three with two coffees on the receipt), a tier
status row and the qualifying activity of each purchase, the demo ladder's thresholds (with multipliers of
1, so that the loaded ``points_awarded`` are what the rules give: the floor of the total, plus 8 for the
coffee rule's ×2 on 8.00 of coffee). ``--reuse`` keeps a program already loaded; ``--program`` replays a
program loaded by another script instead (its ladder must have a ``silver`` tier).

Then it runs one simulation, the earn rate doubled and silver's threshold lowered, as the page starts it (no
broker: eagerly, in this process), and times it; checks that the replay with today's settings gives exactly the
points loaded; and times the simulator page and two of its CSV files through Django's test client (server
time, in-process, five times each after one to warm up). It prints the figures; they go into bench/README.md by hand.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/loyalty_bench_simulator")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "loyalty.settings")


def ensure_database(url: str) -> None:
    import psycopg

    base, name = url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as connection:
        if not connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            connection.execute(f'CREATE DATABASE "{name}"')
    subprocess.run([sys.executable, str(ROOT / "manage.py"), "migrate", "-v0"], check=True, cwd=ROOT)


def load(program, store, members: int, purchases: int) -> None:
    from django.db import connection

    from tiers.models import Tier

    tiers = {tier.code: tier.pk for tier in Tier.objects.filter(program=program)}
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO members_member (id, card_number, email, first_name, last_name, language, referral_code, "
            "marketing_opt_in, status, enrolled_at, program_id, marketing_opt_in_source) "
            "SELECT gen_random_uuid(), lpad(i::text, 16, '0'), 'm' || i || '@bench.example', 'Member', i::text, "
            "'', 'R' || i, false, 'active', now() - interval '2 years', %s, '' FROM generate_series(1, %s) i",
            [program.pk, members])
        cursor.execute(
            "INSERT INTO earning_purchase (id, program_id, store_id, external_id, member_id, currency, total, "
            "returned_total, occurred_at, lines, points_awarded, points_reversed, breakdown, actor, created_at) "
            "SELECT gen_random_uuid(), program_id, %s, card_number || '-' || k, id, 'EUR', total, 0, at, "
            "CASE WHEN k %% 3 = 0 THEN '[{\"sku\": \"LATTE\", \"category\": \"coffee\", \"quantity\": 2, "
            "\"unit_price\": \"4.00\"}]'::jsonb ELSE '[]'::jsonb END, "
            "floor(total) + CASE WHEN k %% 3 = 0 THEN 8 ELSE 0 END, 0, '[]', 'bench', at "
            "FROM (SELECT m.program_id, m.card_number, m.id, k, round((10 + random() * 90)::numeric, 2) AS total, "
            "now() - random() * interval '360 days' AS at "
            "FROM members_member m CROSS JOIN generate_series(1, %s) k WHERE m.program_id = %s) drawn",
            [store.pk, purchases, program.pk])
        cursor.execute(
            "INSERT INTO tiers_qualifyingactivity (program_id, member_id, occurred_at, points, spend, credits, "
            "source_type, source_id, actor, created_at) SELECT program_id, member_id, occurred_at, points_awarded, "
            "total, 0, 'purchase', id::text, 'bench', occurred_at FROM earning_purchase WHERE program_id = %s",
            [program.pk])
        cursor.execute(
            "INSERT INTO tiers_membertier (member_id, program_id, tier_id, qualifying_value, achieved_at, updated_at) "
            "SELECT member_id, %s, CASE WHEN SUM(points) >= 2000 THEN %s WHEN SUM(points) >= 500 THEN %s ELSE %s END, "
            "SUM(points), now(), now() FROM tiers_qualifyingactivity WHERE program_id = %s GROUP BY member_id",
            [program.pk, tiers["gold"], tiers["silver"], tiers["bronze"], program.pk])
    with connection.cursor() as cursor:  # outside a transaction: autovacuum's work done now, index-only scans
        cursor.execute("VACUUM ANALYZE")


def timed(fn, times: int = 5) -> list[float]:
    seconds = []
    for _ in range(times):
        started = time.perf_counter()
        fn()
        seconds.append(time.perf_counter() - started)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=20_000)
    parser.add_argument("--purchases", type=int, default=10, help="per member")
    parser.add_argument("--reuse", action="store_true", help="keep a program already loaded")
    parser.add_argument("--program", default="", help="replay this program, loaded already (no load)")
    options = parser.parse_args()
    ensure_database(os.environ["DATABASE_URL"])

    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.test import Client

    from analytics.models import SimulationRun
    from analytics.simulator import Changes, simulation_request
    from earning.models import Purchase
    from earning.services import earning_rule_create
    from programs.models import Program, Store
    from tiers.models import TierPolicy
    from tiers.services import tier_define, tier_policy_set

    slug = options.program or "sim-bench"
    program = Program.objects.filter(slug=slug).first()
    if options.program and program is None:
        sys.exit(f"There is no program {slug} in {os.environ['DATABASE_URL']}.")
    if not options.program and (program is None or not options.reuse):
        if program is not None:
            sys.exit("sim-bench is loaded already: use --reuse, or another DATABASE_URL.")
        started = time.perf_counter()
        program = Program.objects.create(slug="sim-bench", name="Simulator bench", currency="EUR", points_per_unit=1,
                                         pending_days=0, expiry_days=None, default_phone_region="DE")
        store = Store.objects.create(program=program, code="MAIN", name="Main street")
        tier_policy_set(program=program, metric=TierPolicy.Metric.POINTS, window=TierPolicy.Window.ROLLING_MONTHS,
                        window_months=12, downgrade=TierPolicy.Downgrade.NEVER, grace_days=30)
        for rank, (code, threshold) in enumerate((("bronze", 0), ("silver", 500), ("gold", 2000)), start=1):
            tier_define(program=program, code=code, name=code.title(), rank=rank, threshold=threshold,
                        multiplier="1")
        earning_rule_create(program=program, code="coffee-double", name="Double coffee",
                            effect={"kind": "multiplier", "factor": "2"},
                            conditions=[{"kind": "category", "categories": ["coffee"]}])
        load(program, store, options.members, options.purchases)
        print(f"loaded {options.members:,} members, {options.members * options.purchases:,} purchases "
              f"in {time.perf_counter() - started:.1f} s")

    started = time.perf_counter()
    run = simulation_request(program=program, changes=Changes(points_per_unit=Decimal(2),
                                                              thresholds={"silver": Decimal(400)}),
                             described=["Earn rate 1 → 2 points per EUR", "Silver threshold 500 → 400"])
    run.refresh_from_db()
    seconds = time.perf_counter() - started
    assert run.status == SimulationRun.Status.DONE, run.error
    figures = run.figures
    purchases = Purchase.objects.filter(program=program).count()
    print(f"replay: {figures['purchases']:,} purchases of {figures['members']:,} members in {seconds:.1f} s "
          f"({figures['purchases'] / seconds:,.0f} purchases/s, {purchases:,} in the table); "
          f"issued {figures['issued']}, {sum(m['members'] for m in figures['moves']):,} members move")
    assert figures["issued"]["replayed"] == figures["issued"]["actual"], "the replay does not reproduce the load"

    user = get_user_model().objects.filter(username="sim-bench").first() or \
        get_user_model().objects.create_superuser(username="sim-bench", password=None)
    client = Client()
    client.force_login(user)
    base = "/staff/analytics/simulator/"
    for name, url, stream in (("page", f"{base}?program={slug}&run={run.pk}", False),
                              ("months.csv", f"{base}months.csv?program={slug}&run={run.pk}", True),
                              ("members.csv", f"{base}members.csv?program={slug}&run={run.pk}", True)):
        def fetch(url=url, stream=stream):
            response = client.get(url, HTTP_HOST="localhost")
            assert response.status_code == 200, response.status_code
            if stream:
                b"".join(response.streaming_content)

        fetch()  # the process's first request compiles templates and URL patterns: not the page's own time
        seconds = timed(fetch)
        print(f"{name}: median {statistics.median(seconds) * 1000:.0f} ms, slowest {max(seconds) * 1000:.0f} ms")


if __name__ == "__main__":
    main()

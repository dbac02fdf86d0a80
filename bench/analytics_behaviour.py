"""Benchmark: the behaviour rollups and page at 1,000,000 members and 10,000,000 purchases.

    .venv/bin/python bench/analytics_behaviour.py [--members 1000000] [--keep]

Uses ``DATABASE_URL`` (default postgres://postgres@127.0.0.1:5432/loyalty_bench_behaviour), which it drops,
recreates and migrates, then bulk-loads with ``INSERT … SELECT generate_series``: one program (Berlin) with 20
stores and the demo ladder; N members enrolled over three years, each buying at their own rhythm (every 3 to 60
days, 1 to 20 times, from their enrolment on), about 10 purchases per member in all with one in seven made by
guests; a tier status row per member (Bronze, Silver, Gold) and their upgrades as tier history. ``--keep`` keeps
a database already loaded and only measures.

It then times: the rebuild of every behaviour rollup (every day since the first purchase), the nightly rollup
(yesterday and today, as ``rollup_recent`` runs it), that nightly run again, and the behaviour page (server
time in-process, default range of 12 months), and prints the figures.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tiers_recalc import database_recreate, quiet_django

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/loyalty_bench_behaviour"


def load(*, members: int) -> None:
    from django.db import connection

    from programs.models import Program, Store
    from tiers.services import tier_define, tier_policy_set

    program = Program.objects.create(slug="bench", name="Bench", currency="EUR", points_per_unit=1, pending_days=0,
                                     expiry_days=None, default_phone_region="DE", time_zone="Europe/Berlin")
    Store.objects.bulk_create(Store(program=program, code=f"S-{n:02d}", name=f"Store {n}") for n in range(20))
    tier_policy_set(program=program)
    tiers = [tier_define(program=program, code=code, name=name, rank=rank, threshold=threshold)
             for code, name, rank, threshold in [("bronze", "Bronze", 1, 0), ("silver", "Silver", 2, 500),
                                                 ("gold", "Gold", 3, 2000)]]
    started = time.monotonic()
    with connection.cursor() as c:
        c.execute("SELECT setseed(0.22)")
        c.execute("""
            CREATE TEMP TABLE bench_store AS
            SELECT row_number() OVER (ORDER BY id) - 1 AS n, id FROM programs_store WHERE program_id = %s""",
                  [program.pk])
        c.execute("""
            INSERT INTO members_member (id, card_number, email, first_name, last_name, language, referral_code,
                                        marketing_opt_in, status, enrolled_at, enrolled_store_id, program_id,
                                        marketing_opt_in_source)
            SELECT gen_random_uuid(), lpad(n::text, 16, '0'), 'm' || n || '@bench.example', 'Bench', 'Member ' || n,
                   'en', 'R' || n, false, 'active',
                   timestamptz '2024-01-01 08:00+00' + (random() * (date '2026-12-01' - date '2024-01-01'))
                       * interval '1 day',
                   (SELECT id FROM bench_store WHERE bench_store.n = s.n %% 20), %s, ''
              FROM generate_series(1, %s) AS s(n)""", [program.pk, members])
        c.execute("""
            INSERT INTO earning_purchase (id, external_id, currency, total, returned_total, occurred_at, lines,
                                          points_awarded, points_reversed, breakdown, actor, created_at, member_id,
                                          program_id, store_id)
            SELECT gen_random_uuid(), 'P-' || m.card_number || '-' || j, 'EUR', round((5 + random() * 60)::numeric, 2),
                   0, at, '[]', 0, 0, '{}', 'bench', at, m.id, m.program_id, m.enrolled_store_id
              FROM (SELECT id, program_id, card_number, enrolled_store_id, enrolled_at,
                           3 + floor(random() * 58) AS gap, 1 + floor(random() * 20)::int AS times
                      FROM members_member WHERE program_id = %s) m,
                   LATERAL generate_series(0, m.times - 1) AS j,
                   LATERAL (SELECT m.enrolled_at + (j * m.gap + random() * 2) * interval '1 day' AS at) t
             WHERE at < now()""", [program.pk])
        c.execute("SELECT count(*) FROM earning_purchase")
        member_purchases = c.fetchone()[0]
        c.execute("""
            INSERT INTO earning_purchase (id, external_id, currency, total, returned_total, occurred_at, lines,
                                          points_awarded, points_reversed, breakdown, actor, created_at, member_id,
                                          program_id, store_id)
            SELECT gen_random_uuid(), 'G-' || n, 'EUR', round((5 + random() * 40)::numeric, 2), 0, at, '[]', 0, 0,
                   '{}', 'bench', at, NULL, %s, (SELECT id FROM bench_store WHERE bench_store.n = g.n %% 20)
              FROM generate_series(1, %s) AS g(n),
                   LATERAL (SELECT timestamptz '2024-01-01 08:00+00'
                                   + random() * (now() - timestamptz '2024-01-01 08:00+00') AS at) t""",
                  [program.pk, member_purchases // 6])
        c.execute("""
            INSERT INTO tiers_membertier (member_id, program_id, tier_id, qualifying_value, achieved_at, updated_at)
            SELECT id, program_id, CASE WHEN r < 0.70 THEN %s WHEN r < 0.92 THEN %s ELSE %s END, 0, enrolled_at,
                   now()
              FROM (SELECT id, program_id, enrolled_at, random() AS r FROM members_member WHERE program_id = %s) m""",
                  [tiers[0].pk, tiers[1].pk, tiers[2].pk, program.pk])
        c.execute("""
            INSERT INTO tiers_tierchange (cause, reason, actor, qualifying_value, created_at, from_tier_id, member_id,
                                          program_id, to_tier_id)
            SELECT 'upgrade', '', 'bench', 0, at, %s, t.member_id, t.program_id, %s
              FROM tiers_membertier t JOIN members_member m ON m.id = t.member_id,
                   LATERAL (SELECT least(now(), m.enrolled_at + random() * interval '200 days') AS at) x
             WHERE t.tier_id IN (%s, %s)
            UNION ALL
            SELECT 'upgrade', '', 'bench', 0, at, %s, t.member_id, t.program_id, %s
              FROM tiers_membertier t JOIN members_member m ON m.id = t.member_id,
                   LATERAL (SELECT least(now(), m.enrolled_at + interval '200 days'
                                                + random() * interval '300 days') AS at) x
             WHERE t.tier_id = %s""",
                  [tiers[0].pk, tiers[1].pk, tiers[1].pk, tiers[2].pk, tiers[1].pk, tiers[2].pk, tiers[2].pk])
        c.execute("ANALYZE")
        c.execute("SELECT count(*), count(member_id) FROM earning_purchase")
        total, by_members = c.fetchone()
    print(f"loaded {members:,} members, {total:,} purchases ({by_members:,} by members) "
          f"in {time.monotonic() - started:.0f} s")


def measure() -> None:
    from django.db import connection
    from django.test import Client

    from analytics.models import BehaviourMemberMonth, BehaviourMonth
    from analytics.services import local_today, program_zone, rollup_days, rollup_recent
    from programs.models import Program
    from staff.models import Role, StaffRole

    program = Program.objects.get(slug="bench")
    today = local_today(program)
    with connection.cursor() as c:
        c.execute("SELECT min(occurred_at) FROM earning_purchase WHERE program_id = %s", [program.pk])
        first = c.fetchone()[0].astimezone(program_zone(program)).date()

    started = time.monotonic()
    run = rollup_days(program=program, first=first, last=today, trigger="rebuild", check=False)
    print(f"rebuild {first}..{today}: {time.monotonic() - started:.1f} s, {run.rows:,} rows "
          f"({BehaviourMemberMonth.objects.count():,} member months, {BehaviourMonth.objects.count()} months)")
    for attempt in (1, 2):
        started = time.monotonic()
        run = rollup_recent(program=program)
        print(f"nightly (yesterday and today) #{attempt}: {time.monotonic() - started:.1f} s, {run.rows:,} rows")

    from django.contrib.auth import get_user_model

    user, _ = get_user_model().objects.get_or_create(username="bench-analyst")
    StaffRole.objects.get_or_create(user=user, program=program, defaults={"role": Role.ANALYST})
    client = Client()
    client.force_login(user)
    for query in ("", f"?start={today - timedelta(days=3 * 365):%Y-%m}&end={today:%Y-%m}"):
        times = []
        for _ in range(7):
            started = time.monotonic()
            response = client.get(f"/staff/analytics/behaviour/{query}", HTTP_HOST="localhost")
            times.append(time.monotonic() - started)
            assert response.status_code == 200, response.status_code
        print(f"behaviour page {query or '(last 12 months)'}: median {statistics.median(times) * 1000:.0f} ms, "
              f"max {max(times) * 1000:.0f} ms")
    started = time.monotonic()
    response = client.get("/staff/analytics/behaviour/activity.csv", HTTP_HOST="localhost")
    b"".join(response.streaming_content)
    print(f"activity.csv: {(time.monotonic() - started) * 1000:.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true", help="measure the database already loaded")
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", DEFAULT_URL)
    quiet_django(url)  # production settings: the figures are without debug's query log
    if not args.keep:
        database_recreate(url)
    import django

    django.setup()
    if not args.keep:
        load(members=args.members)
    measure()


if __name__ == "__main__":
    main()

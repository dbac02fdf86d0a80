"""Benchmark: recalculate the tiers of 200,000 members, set-based, against the bare qualifying-totals query.

    .venv/bin/python bench/tiers_recalc.py [--members 200000] [--activities 5] [--keep-db]

Uses ``DATABASE_URL`` (default postgres://postgres@127.0.0.1:5432/loyalty_bench_tiers), which it drops,
recreates and migrates (``manage.py migrate`` in a subprocess), then bulk-loads with ``INSERT … SELECT
generate_series``: one program with the demo ladder (bronze 0, silver 500, gold 2000 points earned over
a rolling 12 months, downgrade at the end of the window), N members with a status row each (a random
starting tier) and K qualifying activities per member spread over the last two years.

It times ``tier_recalculate_program`` (every step: aggregate, decide, history, update) and, as the
baseline, a single SQL statement computing the same per-member qualifying totals; checks that every
member's cached qualifying value equals the baseline's total; prints the figures and appends a row
to bench/README.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/loyalty_bench_tiers"


def database_recreate(url: str) -> None:
    import psycopg
    from psycopg import sql

    name = url.rsplit("/", 1)[1].split("?")[0]
    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    subprocess.run([sys.executable, str(ROOT / "manage.py"), "migrate", "-v0"], check=True, cwd=ROOT,
                   env={**os.environ, "DATABASE_URL": url})


def load(*, members: int, activities: int):
    from django.db import connection, transaction

    from programs.services import program_create
    from tiers.models import TierPolicy
    from tiers.services import tier_define, tier_policy_set

    with transaction.atomic():
        program = program_create(slug="bench-tiers", name="Bench tiers", currency="EUR", points_per_unit=1,
                                 pending_days=0, expiry_days=365, claim_window_days=30, default_phone_region="DE")
        tier_policy_set(program=program, downgrade=TierPolicy.Downgrade.END_OF_WINDOW)
        tiers = [tier_define(program=program, code=code, name=code.title(), rank=rank, threshold=threshold,
                             multiplier=multiplier)
                 for code, rank, threshold, multiplier in (("bronze", 1, 0, "1.0"), ("silver", 2, 500, "1.25"),
                                                           ("gold", 3, 2000, "1.5"))]
    params = {"program": program.pk, "members": members, "activities": activities,
              "bronze": tiers[0].pk, "silver": tiers[1].pk, "gold": tiers[2].pk}
    with connection.cursor() as cursor:
        cursor.execute("""
            INSERT INTO members_member (id, program_id, card_number, email, phone, first_name, last_name,
                birth_date, language, referral_code, referred_by_id, marketing_opt_in, marketing_opt_in_at,
                status, enrolled_at, enrolled_store_id, user_id)
            SELECT gen_random_uuid(), %(program)s, lpad(g::text, 16, '0'), 'member' || g || '@bench.example',
                NULL, 'Bench', 'Member ' || g, NULL, 'en', 'B' || g, NULL, false, NULL, 'active',
                now() - interval '3 years', NULL, NULL
            FROM generate_series(1, %(members)s) g""", params)
        cursor.execute("""
            INSERT INTO tiers_qualifyingactivity (program_id, member_id, occurred_at, points, spend, credits,
                source_type, source_id, actor, created_at)
            SELECT %(program)s, m.id, now() - random() * interval '730 days', (random() * 900)::int,
                round((random() * 900)::numeric, 2), 1, 'purchase', m.card_number || '-' || k, 'bench', now()
            FROM members_member m CROSS JOIN generate_series(1, %(activities)s) k
            WHERE m.program_id = %(program)s""", params)
        cursor.execute("""
            INSERT INTO tiers_membertier (program_id, member_id, tier_id, qualifying_value, achieved_at,
                valid_until, below_since, locked_until, updated_at)
            SELECT %(program)s, m.id,
                CASE WHEN r < 0.6 THEN %(bronze)s WHEN r < 0.9 THEN %(silver)s ELSE %(gold)s END,
                0, a, a + interval '12 months', NULL, NULL, now()
            FROM (SELECT id, random() AS r, now() - random() * interval '400 days' AS a
                  FROM members_member WHERE program_id = %(program)s) m""", params)
        cursor.execute("ANALYZE")
    return program


def baseline(program, window_start) -> tuple[float, int, int]:
    """One statement: every member's qualifying total over the window (aggregated in the database)."""
    from django.db import connection

    with connection.cursor() as cursor:
        started = time.perf_counter()
        cursor.execute("""
            SELECT COUNT(*), SUM(total) FROM (
                SELECT member_id, SUM(points) AS total FROM tiers_qualifyingactivity
                WHERE program_id = %s AND occurred_at >= %s GROUP BY member_id) q""", [program.pk, window_start])
        count, total = cursor.fetchone()
        return time.perf_counter() - started, count, int(total)


def mismatches(program, window_start) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("""
            SELECT COUNT(*) FROM tiers_membertier mt LEFT JOIN (
                SELECT member_id, SUM(points) AS total FROM tiers_qualifyingactivity
                WHERE program_id = %s AND occurred_at >= %s GROUP BY member_id) q ON q.member_id = mt.member_id
            WHERE mt.program_id = %s AND mt.qualifying_value <> COALESCE(q.total, 0)""",
                       [program.pk, window_start, program.pk])
        return cursor.fetchone()[0]


def machine() -> str:
    from django.db import connection

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or platform.machine())
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        version = cursor.fetchone()[0].split()[0]
    return f"{cpu}, {os.cpu_count()} vCPU, PostgreSQL {version}"


def readme_append(row: str) -> None:
    readme = ROOT / "bench" / "README.md"
    readme.write_text(readme.read_text().rstrip("\n") + "\n" + row + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=200_000)
    parser.add_argument("--activities", type=int, default=5, help="Qualifying activities per member.")
    parser.add_argument("--no-readme", action="store_true", help="Print only; do not append to bench/README.md.")
    args = parser.parse_args()

    url = os.environ.get("DATABASE_URL", DEFAULT_URL)
    os.environ.update({"DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "loyalty.settings"})
    os.environ.setdefault("DJANGO_SECRET_KEY", "bench-secret-key-not-for-production-0123456789")
    sys.path.insert(0, str(ROOT))
    database_recreate(url)

    import django

    django.setup()
    from django.utils import timezone

    from tiers.models import TierPolicy
    from tiers.qualification import Window
    from tiers.services import tier_recalculate_program

    started = time.perf_counter()
    program = load(members=args.members, activities=args.activities)
    print(f"loaded {args.members:,} members × {args.activities} activities in {time.perf_counter() - started:.1f}s")

    now = timezone.now()
    window_start = Window.of(TierPolicy.objects.get(program=program), now).start
    baseline(program, window_start)  # warm the cache for both sides alike

    def timed(moment):
        started = time.perf_counter()
        result = tier_recalculate_program(program=program, now=moment)
        return time.perf_counter() - started, result

    full_seconds, full = timed(now - timedelta(days=30))  # first run after the load: every row changes
    month_seconds, month = timed(now)  # a month later: what a month of windows moving changes
    rerun_seconds, rerun = timed(now)  # nothing left to change
    base_seconds, base_members, base_total = min(baseline(program, window_start) for _ in range(3))
    wrong = mismatches(program, window_start)

    ratio = full_seconds / base_seconds
    for label, seconds, result in (("full (every status row rewritten)", full_seconds, full),
                                   ("30 days later", month_seconds, month),
                                   ("re-run, nothing to change", rerun_seconds, rerun)):
        print(f"tier_recalculate_program, {label}: {seconds:.2f}s ({result.upgrades} raised, "
              f"{result.downgrades} downgraded, {result.updated} rows updated, {result.batches} batches)")
    print(f"baseline, one SQL statement over the same window: {base_seconds:.2f}s for {base_members:,} members, "
          f"{base_total:,} qualifying points")
    print(f"ratio (full run / baseline): {ratio:.1f}×; 30 days later: {month_seconds / base_seconds:.1f}×; "
          f"re-run: {rerun_seconds / base_seconds:.1f}×")
    print(f"members whose cached value differs from the baseline: {wrong}")
    if wrong:
        raise SystemExit("recalculation disagrees with the baseline")
    if not args.no_readme:
        date = datetime.now(UTC).date().isoformat()
        readme_append(f"| tiers_recalc: {args.members:,} members × {args.activities} activities "
                      f"| {machine()} | {date} | full run {full_seconds:.2f} s ({full.updated:,} rows); "
                      f"30 days later {month_seconds:.2f} s ({month.updated:,} rows, "
                      f"{month_seconds / base_seconds:.1f}×); re-run {rerun_seconds:.2f} s "
                      f"({rerun_seconds / base_seconds:.1f}×) | {base_seconds:.2f} s | {ratio:.1f}× (full run) |")

if __name__ == "__main__":
    main()

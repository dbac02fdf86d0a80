"""Benchmark: recalculate the tiers of 200,000 members, set-based, against one statement doing the same work.

    .venv/bin/python bench/tiers_recalc.py [--members 200000] [--activities 5] [--profile] [--no-readme]

Uses ``DATABASE_URL`` (default postgres://postgres@127.0.0.1:5432/loyalty_bench_tiers), which it drops,
recreates and migrates (``manage.py migrate`` in a subprocess), then bulk-loads with ``INSERT … SELECT
generate_series``: one program with the demo ladder (bronze 0, silver 500, gold 2000 points earned over
a rolling 12 months, downgrade at the end of the window; emails from the program's own sender), N members
with a status row each (a random starting tier, one in a hundred locked by staff for 60 days) and K
qualifying activities per member spread over the last two years. One member in ten writes German and
one in 97 a language the site does not offer; one has no email address. Celery queues on
``--broker-url`` (emptied before and after): the email sweeps the run schedules are queued, not sent,
as with a worker.

The loaded database is copied (``CREATE DATABASE … TEMPLATE``), so both sides start from identical rows.
On one, ``tier_recalculate_program`` runs three times: 30 days ago (the first run after the load: most
status rows change), now (what a month of the window moving changes) and now again (nothing left). On
the other, the **raw-SQL baseline** does the same three: one data-modifying statement that aggregates
the window, decides every member's tier by the bench's policy, writes the history rows, updates the
status rows and queues each changed member's email (the outbox row ``notifications`` writes, its
dedupe key and template context included), for every member at once — no batches, no locks, no
webhook endpoints to look up. After each run both sides must hold the same status rows, history rows
and outbox rows, or the script fails. It prints the figures, where the job's time went (SQL
statements, announcing the tier changes) and, unless ``--no-readme``, puts its row in bench/README.md
in place of the previous one.
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


def quiet_django(url: str) -> None:
    """The environment of a benchmark that measures Django in its own process against ``url``: production settings
    (no debug), no broker (tasks run eagerly), emails dropped, a throwaway secret key unless one is set."""
    os.environ.update({"DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "loyalty.settings", "DJANGO_DEBUG": "false",
                       "EMAIL_URL": "dummymail://", "CELERY_BROKER_URL": ""})
    os.environ.setdefault("DJANGO_SECRET_KEY", "bench-secret-key-not-for-production-0123456789")
    sys.path.insert(0, str(ROOT))


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

    from notifications.models import NotificationSettings
    from programs.services import program_create
    from tiers.models import TierPolicy
    from tiers.services import tier_define, tier_policy_set

    with transaction.atomic():
        program = program_create(slug="bench-tiers", name="Bench tiers", currency="EUR", points_per_unit=1,
                                 pending_days=0, expiry_days=365, claim_window_days=30, default_phone_region="DE")
        tier_policy_set(program=program, downgrade=TierPolicy.Downgrade.END_OF_WINDOW)
        NotificationSettings.objects.create(program=program, from_email='"Bench Club" <club@bench.example>')
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
            SELECT gen_random_uuid(), %(program)s, lpad(g::text, 16, '0'),
                CASE WHEN g = 1 THEN '' ELSE 'member' || g || '@bench.example' END, NULL,
                CASE WHEN g %% 10 = 0 THEN 'Jörg "Jo"' ELSE 'Bench' END, 'Member ' || g, NULL,
                CASE WHEN g %% 10 = 0 THEN 'de' WHEN g %% 97 = 0 THEN 'fr' ELSE 'en' END, 'B' || g, NULL, false,
                NULL, 'active', now() - interval '3 years', NULL, NULL
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
                0, a, a + interval '12 months', NULL,
                CASE WHEN random() < 0.01 THEN now() + interval '60 days' END, now()
            FROM (SELECT id, random() AS r, now() - random() * interval '400 days' AS a
                  FROM members_member WHERE program_id = %(program)s) m""", params)
        cursor.execute("ANALYZE")
    return program


BASELINE_SQL = """
WITH totals AS (
    SELECT qa.member_id, SUM(qa.points) AS total FROM tiers_qualifyingactivity qa
    WHERE qa.program_id = %(program)s AND qa.occurred_at >= %(now)s - make_interval(months => %(months)s)
    GROUP BY qa.member_id
), standing AS (
    SELECT mt.member_id, mt.tier_id, COALESCE(cur.rank, -1) AS cur_rank, mt.qualifying_value, mt.achieved_at,
        mt.valid_until, mt.below_since, COALESCE(t.total, 0) AS total,
        (mt.locked_until IS NOT NULL AND mt.locked_until > %(now)s) AS locked, e.id AS earned_id,
        COALESCE(e.rank, -1) AS earned_rank
    FROM tiers_membertier mt
    LEFT JOIN tiers_tier cur ON cur.id = mt.tier_id
    LEFT JOIN totals t ON t.member_id = mt.member_id
    LEFT JOIN LATERAL (  -- the highest tier reached; a threshold of 0 is reached by anyone
        SELECT tt.id, tt.rank FROM tiers_tier tt
        WHERE tt.program_id = mt.program_id AND (tt.threshold = 0 OR tt.threshold <= COALESCE(t.total, 0))
        ORDER BY tt.rank DESC LIMIT 1) e ON TRUE
    WHERE mt.program_id = %(program)s
), decided AS (  -- end of window: up at once; down to what is reached once the tier's window has ended
    SELECT s.*,
        CASE WHEN s.locked THEN s.cur_rank WHEN s.earned_rank > s.cur_rank THEN s.earned_rank
             WHEN s.earned_rank = s.cur_rank THEN s.cur_rank
             WHEN s.valid_until IS NULL OR s.valid_until <= %(now)s THEN s.earned_rank
             ELSE s.cur_rank END AS new_rank
    FROM standing s
), target AS (
    SELECT d.*, CASE WHEN d.new_rank = d.cur_rank THEN d.tier_id ELSE d.earned_id END AS new_tier_id,
        CASE WHEN d.new_rank <> d.cur_rank THEN %(now)s ELSE d.achieved_at END AS new_achieved_at,
        CASE WHEN d.locked THEN d.valid_until
             WHEN d.new_rank <> d.cur_rank THEN %(now)s + make_interval(months => %(months)s)
             WHEN d.earned_rank >= d.cur_rank
                  AND (d.valid_until IS NULL OR d.valid_until < %(now)s + make_interval(months => %(months)s))
                  THEN %(now)s + make_interval(months => %(months)s)
             ELSE d.valid_until END AS new_valid_until
    FROM decided d
), changed AS (
    SELECT * FROM target
    WHERE new_rank <> cur_rank OR qualifying_value <> total OR new_valid_until IS DISTINCT FROM valid_until
        OR below_since IS NOT NULL
), history AS (
    INSERT INTO tiers_tierchange (program_id, member_id, from_tier_id, to_tier_id, cause, reason, actor,
        qualifying_value, created_at)
    SELECT %(program)s, c.member_id, c.tier_id, c.new_tier_id,
        CASE WHEN c.new_rank > c.cur_rank THEN 'recalc' ELSE 'downgrade' END,
        CASE WHEN c.new_rank > c.cur_rank THEN %(raise_reason)s ELSE %(downgrade_reason)s END,
        %(actor)s, c.total, %(now)s
    FROM changed c WHERE c.new_rank <> c.cur_rank
    RETURNING id, member_id, from_tier_id, to_tier_id, cause
), emails AS (  -- notifications: one email per change, to members with an address, if the program sends any
    INSERT INTO notifications_outbox (program_id, member_id, channel, kind, category, dedupe_key, "to", from_email,
        subject, text, html, context, headers, status, attempts, next_attempt_at, claimed_until, claim_token,
        created_at, sent_at, last_error)
    SELECT %(program)s, m.id, 'email', 'tier_changed', 'transactional',
        'tier_changed:' || uuid_generate_v5(%(event_namespace)s, concat(%(program)s, ':tier.changed:', h.id)),
        m.email, COALESCE(NULLIF(ns.from_email, ''), %(default_from)s), '', '', '',
        jsonb_build_object(
            'language', CASE WHEN m.language = ANY(%(languages)s) THEN m.language ELSE %(default_language)s END,
            'member', jsonb_build_object('id', m.id, 'first_name', m.first_name, 'last_name', m.last_name,
                                         'card_number', m.card_number, 'email', m.email),
            'program', jsonb_build_object('name', p.name, 'slug', p.slug),
            'data', jsonb_build_object(
                'cause', h.cause,
                'to_tier', CASE WHEN tt.id IS NOT NULL THEN jsonb_build_object('code', tt.code, 'name', tt.name) END,
                'from_tier', CASE WHEN ft.id IS NOT NULL THEN jsonb_build_object('code', ft.code, 'name', ft.name) END,
                'member', jsonb_build_object('id', m.id, 'card_number', m.card_number))),
        '{}', 'pending', 0, now(), NULL, NULL, now(), NULL, ''
    FROM history h JOIN members_member m ON m.id = h.member_id JOIN programs_program p ON p.id = %(program)s
    LEFT JOIN tiers_tier ft ON ft.id = h.from_tier_id LEFT JOIN tiers_tier tt ON tt.id = h.to_tier_id
    LEFT JOIN notifications_notificationsettings ns ON ns.program_id = %(program)s
    WHERE m.email <> '' AND COALESCE(ns.emails_enabled, TRUE)
    ON CONFLICT (dedupe_key) DO NOTHING
    RETURNING 1
), updated AS (
    UPDATE tiers_membertier mt SET tier_id = c.new_tier_id, qualifying_value = c.total,
        achieved_at = c.new_achieved_at, valid_until = c.new_valid_until, below_since = NULL, updated_at = %(now)s
    FROM changed c WHERE mt.member_id = c.member_id
    RETURNING 1
)
SELECT (SELECT COUNT(*) FROM history WHERE cause = 'recalc'), (SELECT COUNT(*) FROM history WHERE cause = 'downgrade'),
    (SELECT COUNT(*) FROM updated), (SELECT COUNT(*) FROM emails)
"""


def baseline(program, now) -> tuple[float, tuple[int, int, int, int]]:
    """One data-modifying statement doing the recalculation's work for every member at once.

    Written for the bench's policy alone (points over a rolling window, downgrade at the end of the
    window; tier emails, no webhook endpoints), and from the tables rather than from
    ``tiers.recalculation`` and ``notifications``, so that the two agreeing says something. Answers the
    time and (raised, downgraded, status rows updated, emails queued).
    """
    from django.conf import settings
    from django.db import connection

    from loyalty.events import EVENT_NAMESPACE
    from tiers.models import TierPolicy
    from tiers.recalculation import DOWNGRADE_REASON, RAISE_REASON, SYSTEM_ACTOR
    from webhooks.models import WebhookEndpoint

    policy = TierPolicy.objects.get(program=program)
    assert (policy.metric, policy.window, policy.downgrade) == (
        TierPolicy.Metric.POINTS, TierPolicy.Window.ROLLING_MONTHS, TierPolicy.Downgrade.END_OF_WINDOW)
    assert not WebhookEndpoint.objects.filter(program=program).exists()
    params = {"program": program.pk, "now": now, "months": policy.window_months, "actor": SYSTEM_ACTOR,
              "raise_reason": RAISE_REASON, "downgrade_reason": DOWNGRADE_REASON[policy.downgrade],
              "event_namespace": EVENT_NAMESPACE, "default_from": settings.DEFAULT_FROM_EMAIL,
              "languages": [code for code, _ in settings.LANGUAGES], "default_language": settings.LANGUAGE_CODE}
    with connection.cursor() as cursor:
        started = time.perf_counter()
        cursor.execute(BASELINE_SQL, params)
        counts = cursor.fetchone()
        return time.perf_counter() - started, counts


def fingerprint(program) -> tuple[str, str, int, str, int]:
    """What both sides must agree on: every status row, the recalculation's history rows and the emails."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("""
            SELECT md5(string_agg(concat_ws(':', member_id, tier_id, qualifying_value, achieved_at, valid_until,
                                            below_since, locked_until, updated_at), ',' ORDER BY member_id))
            FROM tiers_membertier WHERE program_id = %s""", [program.pk])
        statuses = cursor.fetchone()[0]
        cursor.execute("""
            SELECT md5(string_agg(row, ',' ORDER BY row)), COUNT(*) FROM (
                SELECT concat_ws(':', member_id, from_tier_id, to_tier_id, cause, reason, actor, qualifying_value,
                                 created_at) AS row
                FROM tiers_tierchange WHERE program_id = %s) h""", [program.pk])
        history, changes = cursor.fetchone()
    emails, queued = outbox_fingerprint(program)
    return statuses, history, changes, emails, queued


def outbox_fingerprint(program) -> tuple[str, int]:
    """The outbox rows, every column but the id and the two timestamps (which must be equal: queued now,
    due now), and the dedupe key as what it names: the tier change whose event id it holds.

    The sides number their history rows in different orders, so the event ids (derived from those
    numbers) differ; each row's key is checked against its side's change, and compared as the change.
    """
    import hashlib
    import json

    from django.db import connection

    from loyalty.events import event_id_for

    with connection.cursor() as cursor:
        cursor.execute("""
            SELECT id, concat_ws(':', member_id, from_tier_id, to_tier_id, cause, created_at)
            FROM tiers_tierchange WHERE program_id = %s""", [program.pk])
        changes = {f"tier_changed:{event_id_for(program_id=program.pk, type='tier.changed', key=str(pk))}": change
                   for pk, change in cursor.fetchall()}
        cursor.execute("""
            SELECT dedupe_key, member_id, channel, kind, category, "to", from_email, subject, text, html,
                status, attempts, claimed_until, claim_token, sent_at, last_error, created_at = next_attempt_at,
                context::text, headers::text
            FROM notifications_outbox WHERE program_id = %s""", [program.pk])
        rows = []
        for key, *columns, context, headers in cursor.fetchall():
            if key not in changes:
                raise SystemExit(f"outbox row {key} names no tier change")
            documents = [json.dumps(json.loads(text), sort_keys=True) for text in (context, headers)]
            rows.append("|".join([changes[key], *map(str, columns), *documents]))
    digest = hashlib.md5(usedforsecurity=False)
    for row in sorted(rows):
        digest.update(row.encode() + b"\n")
    return digest.hexdigest(), len(rows)


def settle() -> None:
    """Start each side alike: a checkpoint, and the tables read once into the cache."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("CHECKPOINT")
        for table in ("tiers_membertier", "tiers_qualifyingactivity", "tiers_tierchange", "tiers_tier"):
            cursor.execute(f"SELECT COUNT(*) FROM {table}")


class Split:
    """Where a recalculation's time goes: SQL statements sent by the job, and announcing the changes."""

    def __init__(self):
        self.sql = self.publish = 0.0
        self.statements = 0

    def __enter__(self):
        from django.db import connection

        from tiers.signals import tier_changes_recorded

        self._signal = tier_changes_recorded
        self._send = tier_changes_recorded.send
        split = self

        def statement(execute, sql, params, many, context):
            started = time.perf_counter()
            try:
                return execute(sql, params, many, context)
            finally:
                split.sql += time.perf_counter() - started
                split.statements += 1

        def publish(*args, **kwargs):
            started, sql = time.perf_counter(), split.sql
            try:
                return split._send(*args, **kwargs)
            finally:  # counted as announcing, SQL included
                split.publish += time.perf_counter() - started
                split.sql = sql

        tier_changes_recorded.send = publish
        self._wrapper = connection.execute_wrapper(statement)
        self._wrapper.__enter__()
        return self

    def __exit__(self, *exc):
        self._wrapper.__exit__(*exc)
        self._signal.send = self._send

    def __str__(self):
        return f"SQL {self.sql:.2f} s in {self.statements} statements, announcing {self.publish:.2f} s"


def broker_prepare(url: str) -> None:
    """Empty the Redis broker the run queues its email sweeps on (a worker would send them; none runs here)."""
    import redis

    redis.Redis.from_url(url, socket_timeout=2).flushdb()


def machine() -> str:
    from django.db import connection

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or platform.machine())
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        version = cursor.fetchone()[0].split()[0]
    return f"{cpu}, {os.cpu_count()} vCPU, PostgreSQL {version}"


def results_row_set(row: str) -> None:
    """Put ``row`` in the README's results table in place of the previous tiers_recalc row."""
    readme = ROOT / "bench" / "README.md"
    lines = readme.read_text().splitlines()
    at = next((i for i, line in enumerate(lines) if line.startswith("| tiers_recalc:")), None)
    if at is None:
        from expire_lots import results_row_add

        results_row_add(row)
        return
    lines[at] = row
    readme.write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=200_000)
    parser.add_argument("--activities", type=int, default=5, help="Qualifying activities per member.")
    parser.add_argument("--broker-url", default=os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/8"),
                        help="Redis for the email sweeps the run queues (emptied before and after).")
    parser.add_argument("--profile", action="store_true", help="Print a cProfile of the full run's hot spots.")
    parser.add_argument("--no-readme", action="store_true", help="Print only; do not touch bench/README.md.")
    args = parser.parse_args()

    url = os.environ.get("DATABASE_URL", DEFAULT_URL)
    os.environ.update({"DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "loyalty.settings",
                       "CELERY_BROKER_URL": args.broker_url})
    os.environ.setdefault("DJANGO_SECRET_KEY", "bench-secret-key-not-for-production-0123456789")
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "bench"))
    database_recreate(url)
    broker_prepare(args.broker_url)

    import django

    django.setup()
    from django.db import connection
    from django.utils import timezone
    from expire_lots import copy_database, use_database

    from notifications.models import Outbox
    from tiers.services import tier_recalculate_program

    name = connection.settings_dict["NAME"]
    baseline_name = f"{name}_baseline"
    started = time.perf_counter()
    program = load(members=args.members, activities=args.activities)
    print(f"loaded {args.members:,} members × {args.activities} activities in {time.perf_counter() - started:.1f}s")
    copy_database(name, baseline_name)

    now = timezone.now()
    moments = (("full (every status row rewritten)", now - timedelta(days=30)),  # first run after the load
               ("30 days later", now),  # what a month of the window moving changes
               ("re-run, nothing to change", now))

    use_database(name)
    settle()
    runs = []
    for n, (label, moment) in enumerate(moments):
        with Split() as split:
            started = time.perf_counter()
            if args.profile and n == 0:
                import cProfile
                import pstats

                profiler = cProfile.Profile()
                result = profiler.runcall(tier_recalculate_program, program=program, now=moment)
            else:
                result = tier_recalculate_program(program=program, now=moment)
            seconds = time.perf_counter() - started
        runs.append((label, seconds, result, split, fingerprint(program)))
    emails = Outbox.objects.filter(program=program).count()
    broker_prepare(args.broker_url)

    use_database(baseline_name)
    with connection.cursor() as cursor:  # the event ids (uuid5) in SQL
        cursor.execute('CREATE EXTENSION IF NOT EXISTS "uuid-ossp"')
    settle()
    bases = []
    for _label, moment in moments:
        seconds, counts = baseline(program, moment)
        bases.append((seconds, counts, fingerprint(program)))
    use_database(name)

    wrong = []
    for (label, seconds, result, split, job_print), (base_seconds, counts, base_print) in zip(runs, bases,
                                                                                             strict=True):
        print(f"tier_recalculate_program, {label}: {seconds:.2f}s ({result.upgrades:,} raised, "
              f"{result.downgrades:,} downgraded, {result.updated:,} rows updated, {result.batches} batches; "
              f"{split})")
        print(f"  baseline, one statement: {base_seconds:.2f}s ({counts[0]:,} raised, {counts[1]:,} downgraded, "
              f"{counts[2]:,} rows updated, {counts[3]:,} emails); ratio {seconds / base_seconds:.1f}×, "
              f"without announcing {(seconds - split.publish) / base_seconds:.1f}×")
        if job_print != base_print or (result.upgrades, result.downgrades, result.updated) != tuple(counts[:3]):
            wrong.append(label)
    print(f"emails queued by the job: {emails:,}; history rows: {runs[-1][4][2]:,}, emails: {runs[-1][4][4]:,} "
          "on both sides")
    if args.profile:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)
    if wrong:
        raise SystemExit(f"the recalculation and the baseline end with different rows: {', '.join(wrong)}")
    if not args.no_readme:
        (_, full_s, full, full_split, _), (_, month_s, month, _, _), (_, rerun_s, _, _, _) = runs
        (base_full, _, _), (base_month, _, _), (base_rerun, _, _) = bases
        date = datetime.now(UTC).date().isoformat()
        results_row_set(
            f"| tiers_recalc: {args.members:,} members × {args.activities} activities | {machine()} | {date} "
            f"| full run {full_s:.2f} s ({full.updated:,} rows, {full.upgrades + full.downgrades:,} tier changes, "
            f"{full_split.publish:.2f} s of it announcing them); 30 days later {month_s:.2f} s "
            f"({month.updated:,} rows, {month_s / base_month:.1f}×); re-run {rerun_s:.2f} s "
            f"({rerun_s / base_rerun:.1f}×) | full {base_full:.2f} s, 30 days later {base_month:.2f} s, "
            f"re-run {base_rerun:.2f} s | {full_s / base_full:.1f}× (full run) |")


if __name__ == "__main__":
    main()

"""Benchmark: expire 1,000,000 lots across 200,000 members, batched, against one set-based statement.

    .venv/bin/python bench/expire_lots.py [--members 200000] [--lots-per-member 5] [--batch-size 5000]

Uses ``DATABASE_URL`` (default postgres://postgres@127.0.0.1:5432/loyalty_bench_expiry), which it drops,
recreates and migrates, then bulk-loads in the database (``INSERT … SELECT generate_series``): one program,
N members each with an account and K lots, every lot with the earn transaction, entry and balance it
came from, so the ledger verifies clean before the run. Every lot is past its expiry date (the worst
day: everything due at once) and some have been partly spent (their movements are loaded too).

The loaded database is then copied (``CREATE DATABASE … TEMPLATE``), so both sides start from identical
rows: ``lots_expire_due`` runs on one, and the **raw-SQL baseline** on the other — one data-modifying
statement that writes exactly the same rows (transactions, entries, movements, lots, balances) for
every due lot at once, with no batches, no locks and no resumability. The ratio is job time divided by
baseline time. Both results must verify clean (``ledger_verify_report``) and agree row for row.
``bench/release_lots.py`` does the same for releasing pending lots.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tiers_recalc import ROOT, database_recreate, machine

JOBS = {
    "expire": {"database": "loyalty_bench_expiry", "service": "lots_expire_due", "sql": "_EXPIRE_SQL",
               "actor": "EXPIRY_ACTOR", "verb": "expired"},
    "release": {"database": "loyalty_bench_release", "service": "lots_release_due", "sql": "_RELEASE_SQL",
                "actor": "RELEASE_ACTOR", "verb": "released"},
}


def load(*, job: str, members: int, lots_per_member: int, now: datetime, measured: bool = True) -> None:
    """Members, accounts and lots with their earn transactions and entries; a fifth of the lots partly spent.

    ``measured=False`` (a test's data) leaves autovacuum on and only analyzes the tables."""
    from django.db import connection, transaction

    from programs.services import program_create

    with transaction.atomic():
        program = program_create(slug="bench-lots", name="Bench lots", currency="EUR", points_per_unit=1,
                                 pending_days=14, expiry_days=365, claim_window_days=30, default_phone_region="DE")
    pending = job == "release"
    params = {"program": str(program.pk), "members": members, "k": lots_per_member, "now": now,
              "pending": pending}
    statements = [
        """INSERT INTO members_member (id, program_id, card_number, email, phone, first_name, last_name,
               birth_date, language, referral_code, referred_by_id, marketing_opt_in, marketing_opt_in_at,
               status, enrolled_at, enrolled_store_id, user_id)
           SELECT gen_random_uuid(), %(program)s, lpad(g::text, 16, '0'), 'member' || g || '@bench.example',
               NULL, 'Bench', 'Member ' || g, NULL, 'en', 'B' || g, NULL, false, NULL, 'active',
               %(now)s - interval '3 years', NULL, NULL
           FROM generate_series(1, %(members)s) g""",
        """INSERT INTO ledger_pointsaccount (program_id, member_id, available, pending, debt, updated_at)
           SELECT %(program)s, id, 0, 0, 0, %(now)s FROM members_member ORDER BY card_number""",
        # Lot k of account a: amount 10..509; expiry: all due (spread over the last 60 days) for expiry,
        # none due (a year ahead) for release; pending until up to 3 days ago for release.
        """INSERT INTO ledger_pointslot (program_id, account_id, amount, remaining, earned_at, available_at,
               released, expires_at, expired)
           SELECT %(program)s, a.id, 10 + (a.id * 7 + k * 131) %% 500, 10 + (a.id * 7 + k * 131) %% 500,
               %(now)s - interval '400 days' + k * interval '1 day',
               CASE WHEN %(pending)s THEN %(now)s - ((a.id + k) %% 72) * interval '1 hour'
                    ELSE %(now)s - interval '399 days' + k * interval '1 day' END,
               NOT %(pending)s,
               CASE WHEN %(pending)s THEN %(now)s + interval '365 days'
                    ELSE %(now)s - ((a.id * 13 + k) %% 60) * interval '1 day' END,
               false
           FROM ledger_pointsaccount a CROSS JOIN generate_series(1, %(k)s) k ORDER BY a.id, k""",
        """INSERT INTO ledger_ledgertransaction (program_id, kind, idempotency_key, source_type, source_id, actor,
               reason, reverses_id, created_at)
           SELECT program_id, 'earn', 'bench:earn:' || id, 'bench', id::text, 'bench', '', NULL, earned_at
           FROM ledger_pointslot ORDER BY id""",
        """INSERT INTO ledger_ledgerentry (public_id, transaction_id, program_id, account_id, kind, points,
               available_delta, pending_delta, debt_delta, lot_id, expires_at, description, created_at)
           SELECT gen_random_uuid(), t.id, l.program_id, l.account_id, 'earn', l.amount,
               CASE WHEN l.released THEN l.amount ELSE 0 END, CASE WHEN l.released THEN 0 ELSE l.amount END,
               0, l.id, l.expires_at, 'Bench purchase', l.earned_at
           FROM ledger_ledgertransaction t JOIN ledger_pointslot l ON l.id = t.source_id::bigint
           ORDER BY t.id""",
        # One purchase in five was partly spent (released lots only: spending takes available points).
        """WITH spent AS (
               SELECT id, program_id, account_id, amount / 3 AS points, earned_at FROM ledger_pointslot
               WHERE released AND id %% 5 = 0
           ), txns AS (
               INSERT INTO ledger_ledgertransaction (program_id, kind, idempotency_key, source_type, source_id,
                   actor, reason, reverses_id, created_at)
               SELECT program_id, 'redeem', 'bench:spend:' || id, 'bench', id::text, 'bench', '', NULL,
                   earned_at + interval '1 day'
               FROM spent ORDER BY id RETURNING id, source_id
           ), entries AS (
               INSERT INTO ledger_ledgerentry (public_id, transaction_id, program_id, account_id, kind, points,
                   available_delta, pending_delta, debt_delta, lot_id, expires_at, description, created_at)
               SELECT gen_random_uuid(), t.id, s.program_id, s.account_id, 'redeem', -s.points, -s.points, 0, 0,
                   NULL, NULL, 'Bench reward', s.earned_at + interval '1 day'
               FROM txns t JOIN spent s ON s.id = t.source_id::bigint
               RETURNING id, transaction_id
           ), movements AS (
               INSERT INTO ledger_lotmovement (entry_id, lot_id, points)
               SELECT e.id, s.id, -s.points FROM entries e JOIN txns t ON t.id = e.transaction_id
               JOIN spent s ON s.id = t.source_id::bigint
           )
           UPDATE ledger_pointslot l SET remaining = l.remaining - s.points FROM spent s WHERE l.id = s.id""",
        """UPDATE ledger_pointsaccount a SET available = s.available, pending = s.pending
           FROM (SELECT account_id, COALESCE(SUM(remaining) FILTER (WHERE released), 0) AS available,
                        COALESCE(SUM(remaining) FILTER (WHERE NOT released), 0) AS pending
                 FROM ledger_pointslot GROUP BY account_id) s
           WHERE a.id = s.account_id""",
    ]
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement, params)
        for table in ("ledger_pointsaccount", "ledger_pointslot", "ledger_ledgertransaction", "ledger_ledgerentry",
                      "ledger_lotmovement") if measured else ():  # the same for both sides, no vacuum mid-measurement
            cursor.execute(f"ALTER TABLE {table} SET (autovacuum_enabled = false)")
    connection.close()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE" if measured else "ANALYZE")


def use_database(name: str) -> None:
    from django.db import connection

    connection.close()
    connection.settings_dict["NAME"] = name


def copy_database(source: str, target: str) -> None:
    from django.db import connection

    connection.close()  # no session may be open on the template
    import psycopg
    from psycopg import sql

    admin = {k: v for k, v in {"host": connection.settings_dict["HOST"], "port": connection.settings_dict["PORT"],
                               "user": connection.settings_dict["USER"],
                               "password": connection.settings_dict["PASSWORD"]}.items() if v}
    with psycopg.connect(dbname="postgres", autocommit=True, **admin) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(target)))
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(target), sql.Identifier(source)))


def settle() -> None:
    """Start each timed run alike: a checkpoint, and the tables read once into the cache."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("CHECKPOINT")
        for table in ("ledger_pointsaccount", "ledger_pointslot", "ledger_ledgertransaction", "ledger_ledgerentry",
                      "ledger_lotmovement"):
            cursor.execute(f"SELECT COUNT(*) FROM {table}")


def fingerprint() -> dict:
    """What both sides must agree on: every lot and balance, and the entries by kind."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT md5(string_agg(concat_ws(':', id, remaining, released, expired), ',' ORDER BY id)) "
                       "FROM ledger_pointslot")
        lots = cursor.fetchone()[0]
        cursor.execute("SELECT md5(string_agg(concat_ws(':', id, available, pending, debt, updated_at), ',' "
                       "ORDER BY id)) FROM ledger_pointsaccount")
        accounts = cursor.fetchone()[0]
        cursor.execute("""SELECT md5(string_agg(concat_ws(':', t.idempotency_key, t.actor, t.created_at, e.kind,
                                  e.points, e.available_delta, e.pending_delta, e.description, m.lot_id, m.points),
                                  ',' ORDER BY t.idempotency_key))
                          FROM ledger_ledgertransaction t JOIN ledger_ledgerentry e ON e.transaction_id = t.id
                          LEFT JOIN ledger_lotmovement m ON m.entry_id = e.id""")
        entries = cursor.fetchone()[0]
    return {"lots": lots, "accounts": accounts, "entries": entries}


def results_row_add(row: str) -> None:
    """Add a row at the end of the README's "## Results" table (other sections may follow it)."""
    readme = ROOT / "bench" / "README.md"
    lines = readme.read_text().splitlines()
    at = lines.index("## Results") + 1
    while at < len(lines) and not lines[at].startswith("|"):
        at += 1
    while at < len(lines) and lines[at].startswith("|"):
        at += 1
    readme.write_text("\n".join([*lines[:at], row, *lines[at:]]) + "\n")


def verified() -> bool:
    from ledger.selectors import ledger_verify_report

    return ledger_verify_report().ok


def main(job: str = "expire") -> None:
    spec = JOBS[job]
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--members", type=int, default=200_000)
    parser.add_argument("--lots-per-member", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=5000, help="Accounts per batch (the job's default).")
    parser.add_argument("--no-readme", action="store_true", help="Print only; do not append to bench/README.md.")
    args = parser.parse_args()

    url = os.environ.get("DATABASE_URL", f"postgres://postgres@127.0.0.1:5432/{spec['database']}")
    os.environ.update({"DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "loyalty.settings"})
    os.environ.setdefault("DJANGO_SECRET_KEY", "bench-secret-key-not-for-production-0123456789")
    sys.path.insert(0, str(ROOT))
    database_recreate(url)

    import django

    django.setup()
    from django.db import connection

    from ledger import services

    name = connection.settings_dict["NAME"]
    baseline_name = f"{name}_baseline"
    now = datetime.now(UTC).replace(microsecond=0)
    lots = args.members * args.lots_per_member

    started = time.perf_counter()
    load(job=job, members=args.members, lots_per_member=args.lots_per_member, now=now - timedelta(minutes=1))
    print(f"loaded {args.members:,} members × {args.lots_per_member} lots in {time.perf_counter() - started:.1f}s")
    if not verified():
        raise SystemExit("the loaded ledger does not verify")
    copy_database(name, baseline_name)

    use_database(name)
    settle()
    started = time.perf_counter()
    run = getattr(services, spec["service"])(now=now, batch_size=args.batch_size)
    job_seconds = time.perf_counter() - started
    rerun_started = time.perf_counter()
    rerun = getattr(services, spec["service"])(now=now, batch_size=args.batch_size)
    rerun_seconds = time.perf_counter() - rerun_started
    job_ok, job_print = verified(), fingerprint()

    use_database(baseline_name)
    settle()
    statement = getattr(services, spec["sql"])
    assert "account_id = ANY(%(accounts)s)" in statement
    statement = statement.replace("account_id = ANY(%(accounts)s)", "TRUE")  # every account, at once
    with connection.cursor() as cursor:
        started = time.perf_counter()
        cursor.execute(statement, {"now": now, "actor": getattr(services, spec["actor"])})
        base_lots, base_points = cursor.fetchone()
        base_seconds = time.perf_counter() - started
    base_ok, base_print = verified(), fingerprint()
    use_database(name)

    ratio = job_seconds / base_seconds
    print(f"{spec['service']}: {job_seconds:.2f}s for {run.lots:,} lots ({run.points:,} points) over "
          f"{run.accounts:,} accounts in {run.batches} batches; re-run {rerun_seconds:.2f}s ({rerun.lots} lots)")
    print(f"baseline, one statement: {base_seconds:.2f}s for {base_lots:,} lots ({int(base_points):,} points)")
    print(f"ratio: {ratio:.2f}×; ledger verifies: job {job_ok}, baseline {base_ok}; "
          f"same rows: {job_print == base_print}")
    if not (job_ok and base_ok) or job_print != base_print or run.lots != base_lots or rerun.lots:
        raise SystemExit("the job and the baseline disagree, or a ledger does not verify")
    if not args.no_readme:
        date = datetime.now(UTC).date().isoformat()
        results_row_add(f"| {Path(sys.argv[0]).stem}: {lots:,} lots over {args.members:,} members "
                      f"| {machine()} | {date} | {job_seconds:.2f} s ({run.lots:,} lots {spec['verb']}, "
                      f"{run.batches} batches of {args.batch_size:,} accounts); re-run {rerun_seconds:.2f} s "
                      f"| {base_seconds:.2f} s | {ratio:.2f}× |")


if __name__ == "__main__":
    main("expire")

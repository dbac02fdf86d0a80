"""Benchmark: the analytics rollups and pages against the scale database (``bench/seed_scale.py``).

    .venv/bin/python bench/analytics_scale.py                      # rebuild, nightly runs, every page and CSV
    .venv/bin/python bench/analytics_scale.py --skip-rebuild --nightly 0 --requests 10   # the pages again only

Uses ``DATABASE_URL`` (default postgres://postgres@127.0.0.1:5432/loyalty_scale), loaded by ``seed_scale.py``;
it changes nothing there but the analytics tables (which the rollups own and replace). With ``DJANGO_DEBUG=false``
and in the script's own process it times:

* the full rebuild, ``analytics.services.rollup_rebuild`` (every day since the first entry, the further
  rollups, the check against the ledger);
* the nightly rollup, ``rollup_recent`` (yesterday and today), ``--nightly`` times;
* for both, where the time went: each selector the daily facts read, each of ``FURTHER_ROLLUPS``, and the
  reconciliation (``rollup_drift``), with the SQL statements of the whole run;
* every page and every CSV table under ``/staff/analytics/``, found in the URL conf (``staff.analytics.urls``:
  each page without a parameter, and for each ``<table>.csv`` the tables its module's ``CsvTables`` names), so
  pages merged later are measured too; and ``/staff/reports/`` with its liability CSV, which read the ledger, for
  comparison. Each as the seeded manager through Django's test ``Client``: server time, from the request entering
  Django to the last byte of the answer (a CSV streamed is read to its end), after ``--warm`` requests, over
  ``--requests`` requests, with the statements each request makes.

Prints the figures as Markdown tables for ``bench/README.md``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import statistics
import sys
import time
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from seed_scale import DEFAULT_URL, MANAGER, PROGRAM_SLUG, loadavg
from tiers_recalc import machine, quiet_django

TIMED_PARTS = ("ledger_daily_totals", "purchases_daily", "enrolments_daily", "rollup_drift")
# inside the health rollup: the owning apps' reads and analytics' own statements, each timed by name
HEALTH_PARTS = ("purchase_members_between", "redemption_members_between", "answer_members_between",
                "members_enrolled_between", "member_enrolment_days", "member_purchase_stats",
                "member_redemption_stats", "member_answer_stats", "_upsert", "_refresh_norms", "_score",
                "_count_days", "_distribution")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


@contextmanager
def parts_timed(spent: dict):
    """Time each selector the rollup calls and each further rollup, by name, while the block runs."""
    import analytics.health as health
    import analytics.services as services

    saved = {name: getattr(services, name) for name in TIMED_PARTS}
    saved_health = {name: getattr(health, name) for name in HEALTH_PARTS}
    saved_further = services.FURTHER_ROLLUPS

    def timed(name, function):
        def run(*args, **kwargs):
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                spent[name] = spent.get(name, 0.0) + time.perf_counter() - started
        return run

    for name, function in saved.items():
        setattr(services, name, timed(name, function))
    for name, function in saved_health.items():
        setattr(health, name, timed(f"health.{name}", function))
    services.FURTHER_ROLLUPS = tuple(timed(f"{f.__module__}.{f.__name__}", f) for f in saved_further)
    try:
        yield
    finally:
        for name, function in saved.items():
            setattr(services, name, function)
        for name, function in saved_health.items():
            setattr(health, name, function)
        services.FURTHER_ROLLUPS = saved_further


def rollup_timed(run) -> dict:
    """One rollup: its wall time, its statements, its rows, where the time went."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    spent: dict[str, float] = {}
    with parts_timed(spent), CaptureQueriesContext(connection) as captured:
        started = time.perf_counter()
        result = run()
        seconds = time.perf_counter() - started
    return {"seconds": seconds, "statements": len(captured), "rows": result.rows, "drift": result.drift,
            "days": (result.last_day - result.first_day).days + 1, "parts": spent}


def analytics_urls(program) -> list[tuple[str, str]]:
    """(what, address) of every analytics page and CSV table, from the URL conf."""
    from django.urls import URLPattern

    from staff.analytics import urls
    from staff.analytics.common import CsvTables

    found = []
    for pattern in urls.urlpatterns:
        if not isinstance(pattern, URLPattern):
            continue
        route = str(pattern.pattern)
        if route in ("", "refresh/"):  # a redirect to the first page; a POST
            continue
        if "<" not in route:
            found.append((f"page {route.rstrip('/')}", f"/staff/analytics/{route}?program={program.slug}"))
            continue
        module = importlib.import_module(pattern.callback.__module__)
        for value in vars(module).values():
            if isinstance(value, CsvTables):
                prefix = route.split("<", 1)[0]
                found += [(f"csv {prefix}{name}.csv", f"/staff/analytics/{prefix}{name}.csv?program={program.slug}")
                          for name in value.tables]
    return found


def request_timed(client, url: str) -> tuple[float, int, int]:
    """Seconds to the answer's last byte, the status, the bytes."""
    started = time.perf_counter()
    response = client.get(url)
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return time.perf_counter() - started, response.status_code, len(body)


def pages_timed(program, *, requests: int, warm: int, baseline_requests: int) -> list[dict]:
    from django.contrib.auth import get_user_model
    from django.db import connection, reset_queries
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from analytics.services import local_today
    from staff.analytics.risk import LISTS

    client = Client()
    client.force_login(get_user_model().objects.get(username=MANAGER))
    today = local_today(program)
    month = f"start={today.replace(day=1).isoformat()}&end={today.isoformat()}"  # the reports page's own default
    targets = [
        *analytics_urls(program),
        ("baseline: /staff/reports/ (reads the ledger)", f"/staff/reports/?program={program.slug}"),
        ("baseline: /staff/reports/liability.csv", f"/staff/reports/liability.csv?program={program.slug}&{month}"),
    ]
    exports = {f"csv at-risk/{name}.csv" for name in LISTS}  # every member of a list: an export, timed once
    results = []
    for what, url in targets:
        baseline = what.startswith("baseline")
        if what in exports:
            what = f"export (every member) {what[4:]}"
            seconds, status, size = request_timed(client, url)
            results.append({"what": what, "url": url, "status": status, "bytes": size, "statements": 0,
                            "times": [seconds]})
            print(f"  {what:55} {status} {seconds * 1000:10.1f} ms  {size:,} bytes", flush=True)
            continue
        for _ in range(warm if not baseline else min(warm, 1)):
            request_timed(client, url)
        reset_queries()  # a request empties the log (request_started) and the context counts from where it was
        with CaptureQueriesContext(connection) as captured:
            _, status, size = request_timed(client, url)
        statements = len(captured)  # now: the next request empties the log again
        times = [request_timed(client, url)[0] for _ in range(requests if not baseline else baseline_requests)]
        results.append({"what": what, "url": url, "status": status, "bytes": size, "statements": statements,
                        "times": times})
        print(f"  {what:55} {status} p50 {statistics.median(times) * 1000:8.1f} ms  p95 "
              f"{percentile(times, 0.95) * 1000:8.1f} ms  {statements:3d} statements  {size:,} bytes", flush=True)
    return results


def table_sizes() -> list[tuple[str, int, int]]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("""
            SELECT c.relname, pg_total_relation_size(c.oid)
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relname LIKE 'analytics_%%'
            ORDER BY c.relname""")
        tables = cursor.fetchall()
        sizes = []
        for name, size in tables:  # small tables: counted, not estimated
            cursor.execute(f"SELECT COUNT(*) FROM {name}")
            sizes.append((name, cursor.fetchone()[0], size))
        return sizes


def rollup_rows(label: str, runs: list[dict]) -> str:
    seconds = [run["seconds"] for run in runs]
    parts = {}
    for run in runs:
        for name, spent in run["parts"].items():
            parts.setdefault(name, []).append(spent)
    where = "; ".join(f"{name.rsplit('.', 1)[-1]} {statistics.median(values):.2f}" for name, values in parts.items())
    drift = runs[-1]["drift"] or "none"
    return (f"| {label} | {len(runs)} | {runs[0]['days']} | {statistics.median(seconds):.2f} | {max(seconds):.2f} | "
            f"{runs[-1]['rows']:,} | {runs[-1]['statements']} | {where} | {drift} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--skip-rebuild", action="store_true", help="Keep the rollups there are.")
    parser.add_argument("--nightly", type=int, default=5, help="Nightly rollups (yesterday and today) to time.")
    parser.add_argument("--requests", type=int, default=10, help="Timed requests per page or CSV.")
    parser.add_argument("--warm", type=int, default=2, help="Untimed requests first, per page or CSV.")
    parser.add_argument("--baseline-requests", type=int, default=3,
                        help="Timed requests of the ledger-reading reports page and CSV (seconds each at scale).")
    args = parser.parse_args()

    url = os.environ.get("DATABASE_URL", DEFAULT_URL)
    quiet_django(url)
    os.environ.pop("DATABASE_REPLICA_URL", None)  # one database: the primary's own figures

    import django

    django.setup()
    from django.db import connection

    from analytics.services import FURTHER_ROLLUPS, rollup_rebuild, rollup_recent
    from programs.models import Program

    program = Program.objects.get(slug=PROGRAM_SLUG)
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM members_member WHERE program_id = %s", [program.pk])
        members = cursor.fetchone()[0]
        cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE relname = 'earning_purchase'")
        purchases = cursor.fetchone()[0]
        cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE relname = 'ledger_ledgerentry'")
        entries = cursor.fetchone()[0]
    print(f"{machine()}; {members:,} members, ~{purchases:,} purchases, ~{entries:,} ledger entries; "
          f"further rollups: {[f.__module__ + '.' + f.__name__ for f in FURTHER_ROLLUPS] or 'none'}; "
          f"load {loadavg()}", flush=True)

    rows = []
    if not args.skip_rebuild:
        rebuild = rollup_timed(lambda: rollup_rebuild(program=program))
        print(f"rebuild: {rebuild['seconds']:.1f}s, {rebuild['days']} days, {rebuild['rows']:,} rows, "
              f"{rebuild['statements']} statements, parts {rebuild['parts']}, drift {rebuild['drift'] or 'none'} "
              f"(load {loadavg()})", flush=True)
        rows.append(rollup_rows("full rebuild (`rollup_rebuild`)", [rebuild]))
    nightly = []
    for number in range(args.nightly):
        nightly.append(rollup_timed(lambda: rollup_recent(program=program, trigger="nightly")))
        print(f"nightly {number + 1}: {nightly[-1]['seconds']:.2f}s, {nightly[-1]['rows']:,} rows, "
              f"{nightly[-1]['statements']} statements, parts {nightly[-1]['parts']} (load {loadavg()})", flush=True)
    if nightly:
        rows.append(rollup_rows("nightly, yesterday and today (`rollup_recent`)", nightly))

    print("analytics tables:", ", ".join(f"{name} {count:,} rows ({size / 2**20:.1f} MB)"
                                         for name, count, size in table_sizes()), flush=True)
    pages = pages_timed(program, requests=args.requests, warm=args.warm,
                                baseline_requests=args.baseline_requests) if args.requests else []

    print(f"\nload after: {loadavg()}\n")
    if rows:
        print("| rollup | runs | days | median s | max s | rows written | statements | "
              "median s by part | drift |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        print("\n".join(rows))
    if pages:
        print("\n| page or CSV | status | n | p50 ms | p95 ms | max ms | statements | bytes |\n"
              "| --- | --- | --- | --- | --- | --- | --- | --- |")
        for r in pages:
            print(f"| {r['what']} | {r['status']} | {len(r['times'])} | {statistics.median(r['times']) * 1000:.1f} | "
                  f"{percentile(r['times'], 0.95) * 1000:.1f} | {max(r['times']) * 1000:.1f} | {r['statements']} | "
                  f"{r['bytes']:,} |")


if __name__ == "__main__":
    main()

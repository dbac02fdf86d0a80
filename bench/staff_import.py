"""Benchmark: a 50,000-row member CSV imported through the staff dashboard, twice, then exported again.

    .venv/bin/python bench/staff_import.py                  # both modes, ~10 minutes on 2 vCPU
    .venv/bin/python bench/staff_import.py --modes worker --rows 5000 --no-readme

Uses ``DATABASE_URL`` (default postgres://postgres@127.0.0.1:5432/loyalty_bench_import), which it drops,
recreates, migrates and seeds with the demo program (``seed_demo``: its signup bonus, tiers and staff), once
per mode. Then, as a manager in a browser would, over HTTP against gunicorn (``DJANGO_DEBUG=false``, one sync
worker, no request time limit): sign in at /staff/login/, upload the file at /staff/imports/ (the dry run),
press "Import", and follow the job to its end; then upload the same file again and import it again (it must
add nothing); then download /staff/exports/members.csv.

Modes: ``eager`` (no broker, the embedded default: each job runs inside the request that starts it, so the
upload and "Import" answer when their job is done) and ``worker`` (a Redis broker and one Celery worker,
``--pool solo``: the requests answer at once and the bench polls the progress fragment the page polls, as
htmx does, every second).

The file: members with an email, names, a birth date, a language and marketing consent, one in three with a
mobile number; every 1,000th row has an email that is not one, except every 5,000th, which repeats an earlier
member: the dry run and the import must each report those rows (50 of 50,000) by line. Rows per second count
every row of the file. The web worker's memory is read from /proc (``VmHWM``, its peak) before and after the export.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import subprocess
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/loyalty_bench_import"
README_HEADER = ("| run | mode | rows | dry run s | rows/s | import s | rows/s | added | errors | again: dry run s | "
                 "import s | added | export s | exported rows/s | web peak MB before → after export |")
FIRST = ["Anna", "Ben", "Chloé", "David", "Emma", "Felix", "Grace", "Hanna", "Ilja", "Jonas", "Katrin", "Leon"]
LAST = ["Schmidt", "Okafor", "Martin", "Novak", "Müller", "Rossi", "Kowalski", "Haddad", "Jensen", "Fischer"]


def members_csv(rows: int) -> tuple[bytes, int]:
    """The file and how many of its rows must be refused."""
    rng = random.Random(2026)
    lines = ["email,first_name,last_name,phone,birth_date,language,marketing_opt_in"]
    refused = 0
    for i in range(1, rows + 1):
        if i % 5000 == 0:  # the same member as an earlier row
            lines.append(lines[i - 1001])
            refused += 1
            continue
        email = f"member{i:06d}@bench.example" if i % 1000 else f"member{i:06d} at bench.example"
        refused += not i % 1000
        phone = f"+49151{i:08d}" if i % 3 == 0 else ""
        born = date(1950 + rng.randrange(55), rng.randrange(1, 13), rng.randrange(1, 29))
        lines.append(f"{email},{rng.choice(FIRST)},{rng.choice(LAST)},{phone},{born},{rng.choice(['en', 'de'])},"
                     f"{rng.choice(['yes', 'no'])}")
    return ("\n".join(lines) + "\n").encode(), refused


class Browser:
    """A signed-in staff member's browser: cookies, and the CSRF token each form carries."""

    def __init__(self, base_url: str, username: str, password: str):
        import httpx

        # an eager upload answers when its dry run is done: minutes for a large file
        self.http = httpx.Client(base_url=base_url, timeout=httpx.Timeout(30, read=3600), follow_redirects=False)
        page = self.http.get("/staff/login/")
        answer = self.http.post("/staff/login/", data={"username": username, "password": password,
                                                        "csrfmiddlewaretoken": self.token(page.text)})
        if answer.status_code != 302:
            raise SystemExit(f"sign-in failed: {answer.status_code}")

    @staticmethod
    def token(html: str) -> str:
        return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)

    def upload(self, content: bytes) -> int:
        token = self.token(self.http.get("/staff/imports/").text)
        answer = self.http.post("/staff/imports/", data={"kind": "members", "csrfmiddlewaretoken": token},
                                files={"file": ("bench-members.csv", content, "text/csv")})
        if answer.status_code != 302:
            raise SystemExit(f"upload refused: {answer.status_code} {answer.text[:500]}")
        return int(answer.headers["location"].rstrip("/").rsplit("/", 1)[1])

    def start(self, job: int) -> None:
        token = self.token(self.http.get(f"/staff/imports/{job}/").text)
        answer = self.http.post(f"/staff/imports/{job}/start/", data={"csrfmiddlewaretoken": token})
        if answer.status_code != 302:
            raise SystemExit(f"import refused: {answer.status_code}")

    def wait(self, job: int) -> None:
        """Poll the progress fragment, as the page does, until it asks for the page to reload."""
        while True:
            fragment = self.http.get(f"/staff/imports/{job}/progress/", headers={"HX-Request": "true"})
            if fragment.headers.get("HX-Refresh") == "true":
                return
            time.sleep(1)

    def export(self) -> tuple[int, float]:
        started = time.perf_counter()
        rows = -1  # the header
        with self.http.stream("GET", "/staff/exports/members.csv") as answer:
            for line in answer.iter_lines():
                rows += bool(line)
        return rows, time.perf_counter() - started


def job_row(url: str, job: int) -> dict:
    import psycopg
    from psycopg.rows import dict_row

    with psycopg.connect(url, row_factory=dict_row) as conn:
        return conn.execute("SELECT status, total_rows, processed_rows, created_rows, skipped_rows, error_rows, "
                            "dry_run, started_at, finished_at FROM staff_importjob WHERE id = %s", [job]).fetchone()


def members_in(url: str) -> int:
    import psycopg

    with psycopg.connect(url) as conn:
        return conn.execute("SELECT count(*) FROM members_member m JOIN programs_program p ON p.id = m.program_id "
                            "WHERE p.slug = 'demo'").fetchone()[0]


def peak_mb(pid: int) -> float:
    """The process's peak resident memory (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def web_worker_pid(master: int) -> int:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return int(children[0])


def run_mode(mode: str, *, url: str, rows: int, content: bytes, refused: int, broker: str) -> dict:
    from pos_load import Server, database_recreate

    env = {**os.environ, "DATABASE_URL": url, "DJANGO_DEBUG": "false",
           "DJANGO_SECRET_KEY": "bench-secret-key-not-for-production-0123456789",
           "CELERY_BROKER_URL": broker if mode == "worker" else ""}
    database_recreate(url, env)
    worker = None
    if mode == "worker":
        subprocess.run(["redis-cli", "-u", broker, "flushdb"], check=True, stdout=subprocess.DEVNULL)
        worker = subprocess.Popen([sys.executable, "-m", "celery", "-A", "loyalty", "worker", "--pool", "solo",
                                   "--loglevel", "warning"], cwd=ROOT, env=env)
    server = Server(env, workers=1, worker_args=("--timeout", "0"))
    try:
        browser = Browser(server.url, "demo-manager", "demo-manager-2026")
        before = members_in(url)

        def step(action) -> tuple[int, float]:
            started = time.perf_counter()
            job = action()
            browser.wait(job)  # returns at once in eager mode: the request ran the job
            return job, time.perf_counter() - started

        job, checked = step(lambda: browser.upload(content))
        first = job_row(url, job)
        assert first["dry_run"]["new"] == rows - refused - first["dry_run"]["already"], first["dry_run"]
        assert first["dry_run"]["failed"] == refused, first["dry_run"]
        _, imported = step(lambda: (browser.start(job), job)[1])
        first = job_row(url, job)
        assert first["status"] == "done" and first["error_rows"] == refused, first
        after_first = members_in(url)

        again, checked_again = step(lambda: browser.upload(content))
        second = job_row(url, again)
        assert second["dry_run"]["new"] == 0, second["dry_run"]
        _, imported_again = step(lambda: (browser.start(again), again)[1])
        second = job_row(url, again)
        assert second["status"] == "done" and second["created_rows"] == 0, second
        assert members_in(url) == after_first, "the second import added members"

        web = web_worker_pid(server.process.pid)
        peak_before = peak_mb(web)
        exported, export_seconds = browser.export()
        peak_after = peak_mb(web)
        assert exported == after_first, (exported, after_first)
    finally:
        server.stop()
        if worker is not None:
            worker.terminate()
            worker.wait(timeout=30)
    return {"mode": mode, "rows": rows, "checked": checked, "imported": imported, "added": after_first - before,
            "errors": first["error_rows"], "checked_again": checked_again, "imported_again": imported_again,
            "added_again": second["created_rows"], "exported": exported, "export": export_seconds,
            "peak_before": peak_before, "peak_after": peak_after}


def readme_rows(results: list[dict], label: str) -> list[str]:
    return [f"| {label} | {r['mode']} | {r['rows']:,} | {r['checked']:.1f} | {r['rows'] / r['checked']:,.0f} | "
            f"{r['imported']:.1f} | {r['rows'] / r['imported']:,.0f} | {r['added']:,} | {r['errors']} | "
            f"{r['checked_again']:.1f} | {r['imported_again']:.1f} | {r['added_again']} | {r['export']:.1f} | "
            f"{r['exported'] / r['export']:,.0f} | {r['peak_before']:.0f} → {r['peak_after']:.0f} |"
            for r in results]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--modes", default="eager,worker", help="eager, worker or both (comma-separated).")
    parser.add_argument("--broker-url", default="redis://127.0.0.1:6379/12",
                        help="Redis database for the worker mode's queue (emptied first).")
    parser.add_argument("--label", default="", help="The run's name in the README table.")
    parser.add_argument("--no-readme", action="store_true", help="Print only; do not touch bench/README.md.")
    args = parser.parse_args()

    url = os.environ.get("DATABASE_URL", DEFAULT_URL)
    sys.path.insert(0, str(ROOT / "bench"))
    from pos_load import machine, table_insert

    content, refused = members_csv(args.rows)
    print(f"{args.rows:,} rows, {len(content) / 1e6:.1f} MB, {refused} to be refused")
    results = []
    for mode in args.modes.split(","):
        result = run_mode(mode, url=url, rows=args.rows, content=content, refused=refused, broker=args.broker_url)
        results.append(result)
        print(f"{mode}: dry run {result['checked']:.1f} s ({args.rows / result['checked']:,.0f} rows/s), import "
              f"{result['imported']:.1f} s ({args.rows / result['imported']:,.0f} rows/s), {result['added']:,} "
              f"added, {result['errors']} refused; again: dry run {result['checked_again']:.1f} s, import "
              f"{result['imported_again']:.1f} s, {result['added_again']} added; export of {result['exported']:,} "
              f"members {result['export']:.1f} s, web worker peak {result['peak_before']:.0f} → "
              f"{result['peak_after']:.0f} MB")
    label = args.label or f"{datetime.now(UTC):%Y-%m-%d}, {machine(url)}"
    rows = readme_rows(results, label)
    print("\n".join(rows))
    if not args.no_readme:
        table_insert(ROOT / "bench" / "README.md", README_HEADER, rows)


if __name__ == "__main__":
    main()

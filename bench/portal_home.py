"""Benchmark: the member portal's pages for a member with 10,000 ledger entries, server time, in-process.

    .venv/bin/python bench/portal_home.py [--entries 10000] [--members 10000] [--requests 200] [--reuse] [--no-readme]

Uses ``DATABASE_URL`` (default postgres://postgres@127.0.0.1:5432/loyalty_bench_portal), which it drops,
recreates and migrates, then loads the program of ``staff_pages.py`` (ladder, rewards, two earning rules; 14
days pending, a year's expiry), ``--members`` members by ``COPY``, and one member whose history the services
write until it holds ``--entries`` ledger entries: purchases over two years with lines the rules read (each an
earn, later a release), a return of half of every ninth purchase and a free coffee every tenth. The member
gets a portal login.

Then it signs the member in with Django's test ``Client`` and times each request in the script's own process
(``DJANGO_DEBUG=false``; from the request entering Django to the answer, no HTTP): the home page (the card,
available and pending points, the expiry schedule, the tier), the first and a deep page of the statement, and
the rewards, after a warm-up. It prints p50, p95 and max with the queries each makes and, unless
``--no-readme``, appends them to this script's section of ``bench/README.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from staff_pages import LINES, members_load, percentile, program_load, queries_of
from tiers_recalc import ROOT, database_recreate, machine, quiet_django

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/loyalty_bench_portal"
EMAIL = "heavy.member@bench.example"
PASSWORD = "bench-member-password-2026"  # noqa: S105 — a bench database's member, dropped on the next run


def history_load(*, program, store, entries: int, seed: int = 3):
    """One member's history, by the services, until their ledger holds ``entries`` entries."""
    from django.db import transaction

    from earning.services import purchase_record, purchase_return
    from ledger.models import LedgerEntry
    from loyalty.errors import DomainError
    from members.models import Member
    from members.services import member_login_create
    from rewards.models import Reward
    from rewards.services import reward_redeem

    rng = random.Random(seed)
    member = Member.objects.filter(program=program).order_by("card_number").first()
    Member.objects.filter(pk=member.pk).update(email=EMAIL)
    member.refresh_from_db()
    member_login_create(member=member, password=PASSWORD)
    coffee = Reward.objects.get(program=program, code="FREE-COFFEE")
    actor = f"api_key:{store.till_key.pk}"
    now = datetime.now(UTC)
    index = 0
    while True:
        moments = sorted(now - timedelta(days=rng.uniform(0, 730)) for _ in range(500))
        for moment in moments:
            lines = [{"sku": sku, "category": category, "quantity": rng.randint(1, 3), "unit_price": price}
                     for sku, category, price in rng.sample(LINES, rng.randint(1, 3))]
            total = sum(Decimal(line["unit_price"]) * line["quantity"] for line in lines)
            with transaction.atomic():
                purchase_record(store=store, actor=actor, external_id=f"P-{index}",
                                member_reference={"id": str(member.pk)}, currency="EUR", total=total,
                                occurred_at=moment, lines=lines)
            if index % 9 == 4:
                with transaction.atomic():
                    purchase_return(store=store, actor=actor, external_id=f"RET-{index}",
                                    purchase_external_id=f"P-{index}",
                                    amount=(total / 2).quantize(Decimal("0.01")))
            if index % 10 == 9:
                # not enough available yet (pending points): a later one will do
                with contextlib.suppress(DomainError), transaction.atomic():
                    reward_redeem(member=member, reward=coffee, store=store, actor=actor)
            index += 1
        held = LedgerEntry.objects.filter(account__member=member).count()
        print(f"  {index:,} purchases, {held:,} ledger entries", flush=True)
        if held >= entries:
            return member, held


def load(*, members: int, entries: int):
    from django.db import connection

    now = datetime.now(UTC).replace(microsecond=0)
    started = time.perf_counter()
    program, store, _tiers, _managers = program_load(now)
    members_load(program=program, members=members, now=now)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    print(f"{members:,} members in {time.perf_counter() - started:.1f}s", flush=True)
    started = time.perf_counter()
    _member, held = history_load(program=program, store=store, entries=entries)
    print(f"one member with {held:,} ledger entries in {time.perf_counter() - started:.1f}s", flush=True)
    connection.close()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")


def timed_whole(client, url: str, expect: str | None = None) -> float:
    """``timed``, reading a streamed answer (the data download) to its end."""
    started = time.perf_counter()
    response = client.get(url)
    if response.status_code != 200:
        raise SystemExit(f"{url}: {response.status_code}")
    body = b"".join(response.streaming_content) if response.streaming else response.content
    seconds = time.perf_counter() - started
    if expect and expect not in body.decode():
        raise SystemExit(f"{url}: expected {expect!r} in the answer")
    return seconds


def measure(*, requests: int) -> tuple[list[dict], int]:
    from django.test import Client
    from staff_pages import PROGRAM_SLUG

    from ledger.models import LedgerEntry
    from members.models import Member

    member = Member.objects.get(program__slug=PROGRAM_SLUG, email=EMAIL)
    held = LedgerEntry.objects.filter(account__member=member).count()
    client = Client()
    signed = client.post(f"/portal/{PROGRAM_SLUG}/login/", {"email": EMAIL, "password": PASSWORD})
    if signed.status_code != 302:
        raise SystemExit(f"sign-in: {signed.status_code}")
    base = f"/portal/{PROGRAM_SLUG}/"
    pages = [("home", base, "QR"), ("activity, first page", f"{base}activity/", None),
             ("activity, page 200", f"{base}activity/?page=200", None),
             ("activity, spent only", f"{base}activity/?show=spent", None), ("rewards", f"{base}rewards/", None),
             ("my vouchers", f"{base}vouchers/", None), ("give & share", f"{base}give/", None),
             ("profile", f"{base}profile/", None), ("surveys", f"{base}surveys/", None),
             ("download my data (whole file)", f"{base}profile/data/", None)]
    results = []
    for kind, url, expect in pages:
        for _ in range(20):
            timed_whole(client, url, expect)
        times = [timed_whole(client, url, expect) for _ in range(requests // 10 if "data" in kind else requests)]
        results.append({"kind": kind, "times": times, "queries": queries_of(client, url)})
    return results, held


def readme_add(results: list[dict], *, held: int, members: int, requests: int, note: str = "") -> None:
    readme = ROOT / "bench" / "README.md"
    text = readme.read_text(encoding="utf-8")
    heading = "## portal_home.py — the member portal for a member with 10,000 ledger entries"
    rows = "\n".join(f"| {r['kind']} | {statistics.median(r['times']) * 1000:.1f} | "
                     f"{percentile(r['times'], 0.95) * 1000:.1f} | {max(r['times']) * 1000:.1f} | {r['queries']} |"
                     for r in results)
    run = (f"\n{datetime.now(UTC):%Y-%m-%d}, {machine()}{note}: {held:,} entries, {members:,} members, "
           f"{requests} timed requests per page (ms).\n\n| page | p50 | p95 | max | queries |\n"
           f"| --- | --- | --- | --- | --- |\n{rows}\n")
    if heading not in text:
        text = text.rstrip("\n") + f"\n\n{heading}\n\n```\n.venv/bin/python bench/portal_home.py\n```\n\n" + \
            (__doc__ or "").split("\n\n", 2)[2].strip() + "\n"
    start = text.index(heading)
    following = text.find("\n## ", start + len(heading))
    end = len(text) if following == -1 else following
    text = text[:end].rstrip("\n") + "\n" + run + text[end:]
    readme.write_text(text, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--reuse", action="store_true", help="Measure the database an earlier run loaded.")
    parser.add_argument("--no-readme", action="store_true", help="Print only; do not touch bench/README.md.")
    parser.add_argument("--label", default="", help="Said after the run's date, e.g. what else ran meanwhile.")
    args = parser.parse_args()

    url = os.environ.get("DATABASE_URL", DEFAULT_URL)
    quiet_django(url)
    if not args.reuse:
        database_recreate(url)

    import django

    django.setup()
    if not args.reuse:
        load(members=args.members, entries=args.entries)
    results, held = measure(requests=args.requests)
    print(f"{'page':24} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'queries':>8}   ({held:,} entries)")
    for r in results:
        print(f"{r['kind']:24} {statistics.median(r['times']) * 1000:8.1f} {percentile(r['times'], 0.95) * 1000:8.1f} "
              f"{max(r['times']) * 1000:8.1f} {r['queries']:8d}")
    if not args.no_readme:
        readme_add(results, held=held, members=args.members, requests=args.requests,
                   note=f" ({args.label})" if args.label else "")


if __name__ == "__main__":
    main()

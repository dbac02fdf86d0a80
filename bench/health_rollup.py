"""Benchmark: the members' health rollup (analytics.health) and the At risk page at scale.

    .venv/bin/python bench/health_rollup.py [--members 1000000] [--purchases 10000000] [--answers 200000]

Uses ``DATABASE_URL`` (default postgres://postgres@127.0.0.1:5432/loyalty_bench_health), which it drops,
recreates and migrates, then bulk-loads with ``INSERT … SELECT generate_series``: one program (Europe/Berlin),
N members who joined over the last two years, P purchases spread between each buyer's joining and now (a
skewed share per member: many buy once or twice, a few every week; one in ten members never buys; one purchase
in thirty partly returned) and A NPS answers. Redemptions are left out: each needs a ledger transaction, and
the rollup reads them through the member index exactly as it reads the answers.

Then it times, on the loaded rows:

1. the first rollup, which reads every member (what ``analytics_rebuild`` does for the health rows);
2. a night: one more day of purchases (P / 730 of them) and answers, joined members, then the health rollup of
   yesterday and today, which re-reads only the members those days touched;
3. the At risk page's reads (bands, distribution, both lists at their first and a far page, the list sizes of
   the bonus form) and the page itself through the test client, as a manager, five times each (the median).
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
from tiers_recalc import ROOT, database_recreate

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/loyalty_bench_health"


MEMBERS_SQL = """
    INSERT INTO members_member (id, program_id, card_number, email, phone, first_name, last_name, birth_date,
        language, referral_code, referred_by_id, marketing_opt_in, marketing_opt_in_at, marketing_opt_in_source,
        status, enrolled_at, enrolled_store_id, user_id)
    SELECT gen_random_uuid(), %(program)s, lpad(g::text, 16, '0'), 'member' || g || '@bench.example', NULL,
        (ARRAY['Anna','Ben','Clara','David','Emma','Felix','Greta','Hugo','Ida','Jonas'])[1 + g %% 10],
        (ARRAY['Schmidt','Meyer','Weber','Fischer','Wagner','Becker','Hoffmann','Koch'])[1 + g %% 8], NULL, 'en',
        'B' || g, NULL, false, NULL, '', 'active', now() - random() * interval '730 days', %(store)s, NULL
    FROM generate_series(%(first)s::bigint, %(last)s::bigint) g"""

# Each purchase picks a buyer among the nine in ten members who buy, skewed (power 3: a few buy very often),
# at a moment between the buyer's joining and now.
PURCHASES_SQL = """
    WITH buyers AS (
        SELECT row_number() OVER (ORDER BY id) AS n, id, enrolled_at FROM members_member
         WHERE program_id = %(program)s AND card_number::bigint %% 10 <> 0
    ), picks AS (
        SELECT g, 1 + floor((SELECT count(*) FROM buyers) * power(random(), 3))::bigint AS n
          FROM generate_series(%(first)s::bigint, %(last)s::bigint) g
    )
    INSERT INTO earning_purchase (id, program_id, store_id, external_id, member_id, currency, total, returned_total,
        occurred_at, lines, points_awarded, points_reversed, breakdown, claimable_until, claimed_at, actor,
        created_at, earn_transaction_id)
    SELECT gen_random_uuid(), %(program)s, %(store)s, %(prefix)s || p.g, b.id, 'EUR', t.total,
        CASE WHEN p.g %% 30 = 0 THEN round(t.total / 2, 2) ELSE 0 END,
        greatest(b.enrolled_at, %(since)s) + random() * (%(until)s - greatest(b.enrolled_at, %(since)s)),
        '[]', 0, 0, '[]', NULL, NULL, 'bench', now(), NULL
      FROM picks p JOIN buyers b ON b.n = p.n
      CROSS JOIN LATERAL (SELECT round((5 + random() * 80 + 0 * p.g)::numeric, 2) AS total) t"""

ANSWERS_SQL = """
    INSERT INTO surveys_response (id, program_id, survey_id, member_id, store_id, external_id, channel, score,
        category, comment, answers, answered_at, created_at, incentivised, invitation_id)
    SELECT gen_random_uuid(), %(program)s, %(survey)s, m.id, NULL, '', 'email', s.score,
        CASE WHEN s.score >= 9 THEN 'promoter' WHEN s.score >= 7 THEN 'passive' ELSE 'detractor' END, '', '{}',
        %(since)s + random() * (%(until)s - %(since)s), now(), false, NULL
      FROM (SELECT id FROM members_member WHERE program_id = %(program)s ORDER BY random() LIMIT %(answers)s) m
      CROSS JOIN LATERAL (SELECT floor(random() * 11)::int + 0 * length(m.id::text) AS score) s"""


def load(*, members: int, purchases: int, answers: int):
    from django.db import connection, transaction
    from django.utils import timezone

    from programs.models import Program, Store
    from surveys.services import survey_create

    with transaction.atomic():
        program = Program.objects.create(slug="bench-health", name="Bench health", currency="EUR",
                                         points_per_unit=1, pending_days=0, expiry_days=365,
                                         time_zone="Europe/Berlin", default_phone_region="DE")
        store = Store.objects.create(program=program, code="BENCH-1", name="Bench store")
        survey = survey_create(program=program, code="nps", kind="nps")
    now = timezone.now()
    params = {"program": program.pk, "store": store.pk, "survey": survey.pk, "answers": answers,
              "since": now - timedelta(days=730), "until": now - timedelta(days=2), "prefix": "P"}
    with connection.cursor() as cursor:
        started = time.monotonic()
        for first in range(1, members + 1, 250_000):
            cursor.execute(MEMBERS_SQL, {**params, "first": first, "last": min(members, first + 249_999)})
        cursor.execute("ANALYZE members_member")
        for first in range(1, purchases + 1, 1_000_000):
            cursor.execute(PURCHASES_SQL, {**params, "first": first, "last": min(purchases, first + 999_999)})
        cursor.execute(ANSWERS_SQL, params)
        cursor.execute("ANALYZE")
        print(f"loaded {members:,} members, {purchases:,} purchases, {answers:,} answers "
              f"in {time.monotonic() - started:.0f} s", flush=True)
    return program, store, survey


def a_day_more(*, program, store, survey, purchases: int, members: int):
    """Yesterday's and today's activity: purchases, answers and members who joined."""
    from django.db import connection
    from django.utils import timezone

    now = timezone.now()
    params = {"program": program.pk, "store": store.pk, "survey": survey.pk, "answers": purchases // 20,
              "since": now - timedelta(hours=30), "until": now, "prefix": f"N{now:%H%M%S}-", "first": 1,
              "last": purchases}
    with connection.cursor() as cursor:
        cursor.execute(PURCHASES_SQL, params)
        cursor.execute(ANSWERS_SQL, params)
        cursor.execute(MEMBERS_SQL.replace("now() - random() * interval '730 days'", "now() - interval '2 hours'"),
                       {**params, "first": members + 1, "last": members + purchases // 10})


def median_ms(fn, times: int = 5) -> float:
    spent = []
    for _ in range(times):
        started = time.perf_counter()
        fn()
        spent.append((time.perf_counter() - started) * 1000)
    return statistics.median(spent)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--purchases", type=int, default=10_000_000)
    parser.add_argument("--answers", type=int, default=200_000)
    parser.add_argument("--keep", action="store_true", help="Use the loaded database as it is (no reload).")
    parser.add_argument("--no-first", action="store_true",
                        help="With --keep: keep the health rows too and time only a night and the page.")
    args = parser.parse_args()

    url = os.environ.setdefault("DATABASE_URL", DEFAULT_URL)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "loyalty.settings")
    os.environ.setdefault("DJANGO_DEBUG", "true")
    if not args.keep:
        database_recreate(url)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.utils import timezone

    from analytics import health
    from analytics.models import MemberHealth
    from analytics.services import local_today, program_zone
    from programs.models import Program, Store
    from surveys.models import Survey

    if args.keep:
        program = Program.objects.get(slug="bench-health")
        store, survey = Store.objects.get(program=program), Survey.objects.get(program=program)
    else:
        program, store, survey = load(members=args.members, purchases=args.purchases, answers=args.answers)
    zone, today = program_zone(program), local_today(program)

    if not (args.keep and args.no_first):
        MemberHealth.objects.filter(program=program).delete()
        started = time.monotonic()
        rows = health.health_rollup(program=program, first=today - timedelta(days=730), last=today, zone=zone)
        print(f"first rollup, every member: {rows:,} rows in {time.monotonic() - started:.1f} s", flush=True)

    daily = max(1, args.purchases // 730)
    from members.models import Member

    a_day_more(program=program, store=store, survey=survey, purchases=daily,
               members=Member.objects.filter(program=program).count())
    started = time.monotonic()
    touched = {}

    def counted(fn):
        def wrapper(*a, **k):
            found = fn(*a, **k)
            touched[fn.__name__] = len(found)
            return found
        return wrapper

    for name in ("purchase_members_between", "redemption_members_between", "answer_members_between",
                 "members_enrolled_between"):
        setattr(health, name, counted(getattr(health, name)))
    rows = health.health_rollup(program=program, first=today - timedelta(days=1), last=today, zone=zone)
    print(f"nightly health rollup after a day of {daily:,} purchases: {rows:,} rows in "
          f"{time.monotonic() - started:.1f} s (members touched, by source: {touched})", flush=True)

    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE analytics_memberhealth")
    day = health.health_today(program)
    lagging = health.lagging_members(program=program, day=day)
    never = health.never_returned_members(program=program, day=day)
    reads = {
        "band counts": lambda: health.band_counts(program=program, day=day),
        "score distribution": lambda: health.score_distribution(program=program),
        "lagging, page 1": lambda: health.lagging_members(program=program, day=day, page=1),
        "lagging, last page": lambda: health.lagging_members(program=program, day=day, page=lagging.pages),
        "never came back, page 1": lambda: health.never_returned_members(program=program, day=day, page=1),
        "list sizes (bonus form)": lambda: [health.health_list_count(program=program, day=day, which=w)
                                            for w in ("lagging", "never-returned", "watch", "at-risk", "lost")],
    }
    for name, read in reads.items():
        print(f"{name}: {median_ms(read):.0f} ms", flush=True)
    print(f"(lagging {lagging.count:,}, never came back {never.count:,}; "
          f"bands {[(b.slug, b.members) for b in health.band_counts(program=program, day=day)]})")

    user, _ = get_user_model().objects.get_or_create(username="bench-health", defaults={"is_superuser": True,
                                                                                         "is_staff": True})
    client = Client()
    client.force_login(user)
    url = f"/staff/analytics/at-risk/?program={program.slug}"
    assert client.get(url).status_code == 200
    print(f"At risk page as a manager: {median_ms(lambda: client.get(url)):.0f} ms "
          f"(now {timezone.now():%Y-%m-%d %H:%M} UTC)")


if __name__ == "__main__":
    main()

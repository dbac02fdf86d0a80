"""Benchmark: the staff member search and the member pages at 1,000,000 members, server time, in-process.

    .venv/bin/python bench/staff_pages.py [--members 1000000] [--heavy 300] [--requests 200] [--reuse] [--no-readme]

Uses ``DATABASE_URL`` (default postgres://postgres@127.0.0.1:5432/loyalty_bench_members), which it drops,
recreates and migrates, then loads one program (the demo ladder, rewards, two earning rules, a manager) and:

* N members by ``COPY``: names drawn from pools of common first and last names with a long tail (so "Müller"
  or "Anna" match thousands, as in life), emails of several shapes and domains, a mobile phone for four in
  five, Luhn-valid card numbers, enrolments over five years; each with a points account;
* one member in ten with a light history in bulk SQL (three earns with their lots, entries and a tier
  status row);
* ``--heavy`` members with two years of real history through the services: 40 purchases each with lines the
  earning rules read (``purchase_record``; pending, released and expired lots follow), returns, redemptions
  and a cancelled voucher, staff adjustments (one above the approval threshold, approved by a second
  manager).

Then it signs a manager in with Django's test ``Client`` and times each request in the script's own process
(``DJANGO_DEBUG=false``; the time from the request entering Django to the answer, no HTTP, no network):
searches of each kind (a full name, a surname, a first name and an initial, the start of an email, a phone
number typed as people do, a card number with spaces, a query that matches nobody) and the member page (a
member with two years of history, and a member with a little), after a warm-up. It prints p50, p95 and
max per kind with the queries each request makes and, unless ``--no-readme``, appends the figures to the
section of ``bench/README.md`` about this script. ``--reuse`` measures a database loaded by an earlier run.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
import unicodedata
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tiers_recalc import ROOT, database_recreate, machine, quiet_django

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/loyalty_bench_members"
PROGRAM_SLUG = "bench-members"
MANAGER = "bench-manager"
SECOND_MANAGER = "bench-manager-2"

# Common names first: drawn with weights falling off as 1/rank, so the first few are shared by thousands.
_FIRST_NAMES = (
    "Anna Maria Emma Sophie Mia Hannah Lena Laura Lea Julia Sarah Lisa Katharina Johanna Marie Sandra Nicole "
    "Stefanie Sabine Claudia Andrea Petra Susanne Monika Ursula Ingrid Helga Renate Karin Birgit Ayşe Fatma "
    "Elif Zeynep Emine Olga Natalia Agnieszka Katarzyna Anna-Lena Chloé Camille Léa Manon Inès Giulia "
    "Francesca Chiara Lucía Carmen Sofía Isabel Ana Priya Aisha Fatima Amira Mei Ling Yuki Sakura Ngozi Amara "
    "Chiamaka Ifeoma Emily Olivia Charlotte Amelia Grace Chloe Ella Jessica Alexander Maximilian Paul Leon "
    "Lukas Jonas Felix Elias Noah Ben Finn Thomas Michael Andreas Stefan Christian Peter Wolfgang Klaus Jürgen "
    "Frank Markus Tobias Daniel Florian Sebastian Mehmet Mustafa Ahmet Ali Hüseyin Emre Piotr Krzysztof "
    "Tomasz Paweł Jan Pierre Louis Lucas Hugo Théo Marco Luca Giuseppe Alessandro Javier Carlos Diego Pablo "
    "Raj Arjun Vikram Mohammed Omar Yusuf Hamza Wei Jun Hiroshi Kenji Chinedu Emeka Oluwaseun Tunde James "
    "Oliver George Harry Jack William Charlie Liam Ethan Samuel Benjamin Anton Konstantin Dmitri Igor Erik "
    "Lars Nils Sven Björn Mats Kai Jannik Moritz Niklas Tim Jan-Erik Hans-Peter Karl-Heinz Joséphine Zoë"
)
_LAST_NAMES = (  # "_" is a space inside a name
    "Müller Schmidt Schneider Fischer Weber Meyer Wagner Becker Schulz Hoffmann Schäfer Koch Bauer Richter "
    "Klein Wolf Schröder Neumann Schwarz Zimmermann Braun Krüger Hofmann Hartmann Lange Schmitt Werner "
    "Schmitz Krause Meier Lehmann Schmid Schulze Maier Köhler Herrmann König Walter Mayer Huber Kaiser Fuchs "
    "Peters Lang Scholz Möller Weiß Jung Hahn Schubert Vogel Friedrich Keller Günther Frank Berger Winkler "
    "Roth Beck Lorenz Baumann Franke Albrecht Schuster Simon Ludwig Böhm Winter Kraus Martin Schumacher "
    "Krämer Vogt Stein Jäger Otto Sommer Groß Seidel Heinrich Brandt Haas Schreiber Graf Schulte Dietrich "
    "Ziegler Kuhn Kühn Pohl Engel Horn Busch Bergmann Thomas Voigt Sauer Arnold Wolff Pfeiffer Yılmaz Kaya "
    "Demir Şahin Çelik Yıldız Yıldırım Öztürk Aydın Özdemir Arslan Doğan Kılıç Nowak Kowalski Wiśniewski "
    "Wójcik Kowalczyk Kamiński Lewandowski Zieliński Szymański Dubois Durand Lefebvre Moreau Laurent "
    "Michel Garcia Bernard Petit Rossi Russo Ferrari Esposito Bianchi Romano Colombo Ricci García Fernández "
    "González Rodríguez López Martínez Sánchez Pérez Smith Jones Williams Taylor Brown Davies Evans Wilson "
    "Johnson Roberts Walker Wright Robinson Thompson White Hughes Edwards Green Hall Wood Harris Lewis Clarke "
    "Patel Shah Sharma Singh Kumar Gupta Khan Ahmed Hussain Ali Rahman Chen Wang Li Zhang Liu Yang Huang Zhao "
    "Wu Zhou Nguyen Tran Le Pham Hoang Tanaka Suzuki Takahashi Watanabe Okafor Okeke Adeyemi Eze Nwosu "
    "Obi Mensah Boateng Asante Ivanov Petrov Smirnov Popov Andersson Johansson Karlsson Nilsson Hansen "
    "Jensen Nielsen Larsen van_Dijk de_Vries Jansen de_Jong Bakker Visser Smit Meijer de_Boer Mulder "
    "Schmidt-Weber Müller-Lüdenscheidt O'Brien O'Connor McCarthy MacDonald D'Angelo Al-Hassan Ben-David"
)
FIRST_NAMES = _FIRST_NAMES.split()
LAST_NAMES = [name.replace("_", " ") for name in _LAST_NAMES.split()]
DOMAINS = ("gmail.com", "web.de", "gmx.de", "t-online.de", "outlook.com", "yahoo.com", "icloud.com",
           "posteo.de", "hotmail.com", "mail.example")
MOBILE_PREFIXES = ("151", "152", "157", "160", "162", "170", "171", "172", "175", "176", "177", "178", "179")


def weighted(names) -> tuple[list[str], list[float]]:
    return list(names), [1 / (rank + 3) for rank in range(len(names))]


def ascii_fold(text: str) -> str:
    text = text.replace("ß", "ss").replace("ı", "i").replace("ø", "o")
    for umlaut, folded in (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("Ä", "Ae"), ("Ö", "Oe"), ("Ü", "Ue")):
        text = text.replace(umlaut, folded)
    text = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in text if ch.isascii() and (ch.isalnum() or ch in "-.'")).replace("'", "")


def luhn(payload: str) -> str:
    total = 0
    for index, char in enumerate(reversed(payload)):
        digit = int(char) * (2 if index % 2 == 0 else 1)
        total += digit - 9 if digit > 9 else digit
    return payload + str((10 - total % 10) % 10)


def member_rows(*, program_id, members: int, now: datetime, seed: int = 7):
    """Tab-separated ``members_member`` rows for ``COPY``, and the identifiers searched for later."""
    rng = random.Random(seed)
    firsts, first_weights = weighted(FIRST_NAMES)
    lasts, last_weights = weighted(LAST_NAMES)
    emails: set[str] = set()
    chunk = []
    for i in range(members):
        first = rng.choices(firsts, first_weights)[0]
        last = rng.choices(lasts, last_weights)[0]
        if rng.random() < 0.08:  # double-barrelled
            last = f"{last}-{rng.choices(lasts, last_weights)[0]}"
        f, ln = ascii_fold(first).lower(), ascii_fold(last).lower()
        shape = rng.random()
        if shape < 0.35:
            local = f"{f}.{ln}"
        elif shape < 0.55:
            local = f"{f[0]}{ln}{rng.randint(1950, 2008) % 100:02d}"
        elif shape < 0.7:
            local = f"{f}_{ln[:3]}{rng.randint(1, 9999)}"
        elif shape < 0.85:
            local = f"{ln}.{f}"
        else:
            local = f"{f}{rng.randint(1, 999)}"
        email = f"{local}@{rng.choice(DOMAINS)}"
        while email.lower() in emails:
            email = f"{local}{rng.randint(1, 99999)}@{rng.choice(DOMAINS)}"
        emails.add(email.lower())
        phone = f"+49{rng.choice(MOBILE_PREFIXES)}{i:08d}" if rng.random() < 0.8 else "\\N"
        card = luhn("9" + f"{(i * 7919 + 104_729) % 10**14:014d}")
        enrolled = now - timedelta(seconds=rng.randint(0, 5 * 365 * 86400))
        birth = (f"{rng.randint(1940, 2006)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
                 if rng.random() < 0.6 else "\\N")
        opt_in = rng.random() < 0.4
        chunk.append("\t".join([
            str(uuid.UUID(int=rng.getrandbits(128), version=4)), str(program_id), card, email, phone, first, last,
            birth, "de" if rng.random() < 0.6 else "en", f"B{i:09d}", "\\N", "t" if opt_in else "f",
            enrolled.isoformat() if opt_in else "\\N", "suspended" if rng.random() < 0.004 else "active",
            enrolled.isoformat(), "\\N", "\\N"]) + "\n")
        if len(chunk) == 20_000:
            yield "".join(chunk)
            chunk = []
    if chunk:
        yield "".join(chunk)


def program_load(now: datetime):
    """The program, its store, ladder, rewards, earning rules and two managers."""
    from django.contrib.auth import get_user_model
    from django.db import transaction

    from earning.services import earning_rule_create
    from notifications.models import NotificationSettings
    from programs.services import api_key_create, program_create, store_create
    from rewards.models import Reward
    from staff.models import Role, StaffPolicy, StaffRole
    from tiers.models import TierPolicy
    from tiers.services import tier_define, tier_policy_set

    with transaction.atomic():
        program = program_create(slug=PROGRAM_SLUG, name="Bench Coffee Club", currency="EUR", points_per_unit=1,
                                 pending_days=14, expiry_days=365, claim_window_days=30, default_phone_region="DE")
        NotificationSettings.objects.create(program=program, from_email="club@bench.example", emails_enabled=False)
        store = store_create(program=program, code="BENCH-001", name="Bench store Mitte")
        store.till_key, _ = api_key_create(store=store, name="Till 1")
        tier_policy_set(program=program, metric=TierPolicy.Metric.POINTS, window=TierPolicy.Window.ROLLING_MONTHS,
                        window_months=12, downgrade=TierPolicy.Downgrade.END_OF_WINDOW)
        tiers = [tier_define(program=program, code=code, name=code.title(), rank=rank, threshold=threshold,
                             multiplier=multiplier)
                 for code, rank, threshold, multiplier in (("bronze", 1, 0, "1.0"), ("silver", 2, 500, "1.25"),
                                                           ("gold", 3, 2000, "1.5"))]
        for code, name, cost in (("FREE-COFFEE", "Free coffee", 50), ("TOTE-BAG", "Canvas tote bag", 400)):
            Reward.objects.create(program=program, code=code, name=name, points_cost=cost, voucher_valid_days=90)
        earning_rule_create(program=program, code="coffee-double", name="Double points on coffee",
                            conditions=[{"kind": "category", "categories": ["coffee"]}],
                            effect={"kind": "multiplier", "factor": "2"}, cap_per_purchase=200)
        earning_rule_create(program=program, code="big-basket", name="Big basket bonus",
                            conditions=[{"kind": "min_spend", "amount": "40.00"}],
                            effect={"kind": "fixed_bonus", "points": 25}, cap_per_member=100, cap_period="month")
        StaffPolicy.objects.create(program=program, approval_threshold=1000, agent_adjustment_limit=500)
        users = get_user_model().objects
        managers = []
        for username in (MANAGER, SECOND_MANAGER):
            user = users.create_user(username=username, password=uuid.uuid4().hex)
            StaffRole.objects.create(user=user, program=program, role=Role.MANAGER)
            managers.append(user)
    return program, store, tiers, managers


def members_load(*, program, members: int, now: datetime) -> None:
    from django.db import connection

    columns = ("id, program_id, card_number, email, phone, first_name, last_name, birth_date, language, "
               "referral_code, referred_by_id, marketing_opt_in, marketing_opt_in_at, status, enrolled_at, "
               "enrolled_store_id, user_id")
    with connection.cursor() as cursor:
        with cursor.copy(f"COPY members_member ({columns}) FROM STDIN") as copy:
            for block in member_rows(program_id=program.pk, members=members, now=now):
                copy.write(block)
        cursor.execute("""INSERT INTO ledger_pointsaccount (program_id, member_id, available, pending, debt,
                              updated_at)
                          SELECT program_id, id, 0, 0, 0, enrolled_at FROM members_member WHERE program_id = %s""",
                       [program.pk])


def light_history_load(*, program, tiers, now: datetime) -> None:
    """One member in ten: three earns (lots, transactions, entries), qualifying activity and a tier status."""
    from django.db import connection

    params = {"program": program.pk, "now": now, "bronze": tiers[0].pk, "silver": tiers[1].pk}
    with connection.cursor() as cursor:
        cursor.execute("""
            INSERT INTO ledger_pointslot (program_id, account_id, amount, remaining, earned_at, available_at,
                released, expires_at, expired)
            SELECT %(program)s, a.id, 5 + (a.id * 7 + k * 131) %% 120, 5 + (a.id * 7 + k * 131) %% 120,
                %(now)s - k * interval '61 days', %(now)s - k * interval '61 days' + interval '14 days', true,
                %(now)s - k * interval '61 days' + interval '365 days', false
            FROM ledger_pointsaccount a CROSS JOIN generate_series(1, 3) k
            WHERE a.program_id = %(program)s AND a.id %% 10 = 0 ORDER BY a.id, k""", params)
        cursor.execute("""
            INSERT INTO ledger_ledgertransaction (program_id, kind, idempotency_key, source_type, source_id, actor,
                reason, reverses_id, created_at)
            SELECT program_id, 'earn', 'bench:earn:' || id, 'bench', id::text, 'system:bench', '', NULL, earned_at
            FROM ledger_pointslot WHERE program_id = %(program)s ORDER BY id""", params)
        cursor.execute("""
            INSERT INTO ledger_ledgerentry (public_id, transaction_id, program_id, account_id, kind, points,
                available_delta, pending_delta, debt_delta, lot_id, expires_at, description, created_at)
            SELECT gen_random_uuid(), t.id, l.program_id, l.account_id, 'earn', l.amount, l.amount, 0, 0, l.id,
                l.expires_at, 'Purchase at Bench store Mitte', l.earned_at
            FROM ledger_ledgertransaction t JOIN ledger_pointslot l ON l.id = t.source_id::bigint
            WHERE t.program_id = %(program)s AND t.source_type = 'bench' ORDER BY t.id""", params)
        cursor.execute("""
            UPDATE ledger_pointsaccount a SET available = s.available
            FROM (SELECT account_id, SUM(remaining) AS available FROM ledger_pointslot
                  WHERE program_id = %(program)s GROUP BY account_id) s
            WHERE a.id = s.account_id""", params)
        cursor.execute("""
            INSERT INTO tiers_qualifyingactivity (program_id, member_id, occurred_at, points, spend, credits,
                source_type, source_id, actor, created_at)
            SELECT %(program)s, a.member_id, l.earned_at, l.amount, l.amount, 0, 'bench', l.id::text, 'system:bench',
                l.earned_at
            FROM ledger_pointslot l JOIN ledger_pointsaccount a ON a.id = l.account_id
            WHERE l.program_id = %(program)s""", params)
        cursor.execute("""
            INSERT INTO tiers_membertier (program_id, member_id, tier_id, qualifying_value, achieved_at,
                valid_until, below_since, locked_until, updated_at)
            SELECT %(program)s, member_id, CASE WHEN SUM(points) >= 500 THEN %(silver)s ELSE %(bronze)s END,
                SUM(points), MIN(occurred_at), MIN(occurred_at) + interval '12 months', NULL, NULL, %(now)s
            FROM tiers_qualifyingactivity WHERE program_id = %(program)s GROUP BY member_id""", params)


LINES = (  # sku, category, unit price
    ("LATTE", "coffee", "3.40"), ("ESPRESSO", "coffee", "2.20"), ("BEANS-1KG", "coffee", "18.90"),
    ("CROISSANT", "bakery", "2.60"), ("BAGEL", "bakery", "3.10"), ("MUG", "merchandise", "12.00"),
    ("TEA", "tea", "2.90"),
)


def heavy_history_load(*, program, store, managers, heavy: int, now: datetime, seed: int = 11) -> list:
    """Members with two years of history made by the services, as tills and staff make it."""
    from django.db import transaction

    from earning.services import purchase_record, purchase_return
    from loyalty.errors import DomainError
    from members.models import Member
    from rewards.models import Reward
    from rewards.services import redemption_cancel, reward_redeem
    from staff.adjustments.services import adjustment_approve, adjustment_request
    from staff.models import Role

    rng = random.Random(seed)
    rewards = list(Reward.objects.filter(program=program).order_by("points_cost"))
    members = list(Member.objects.filter(program=program, status="active").order_by("card_number")[:heavy * 7:7])
    actor = f"api_key:{store.till_key.pk}"  # as programs.auth names a till
    for number, member in enumerate(members):
        moments = sorted(now - timedelta(days=rng.uniform(1, 730)) for _ in range(40))
        purchases = []
        for index, moment in enumerate(moments):
            lines = [{"sku": sku, "category": category, "quantity": rng.randint(1, 3), "unit_price": price}
                     for sku, category, price in rng.sample(LINES, rng.randint(1, 4))]
            total = sum(Decimal(line["unit_price"]) * line["quantity"] for line in lines)
            with transaction.atomic():
                purchases.append(purchase_record(
                    store=store, actor=actor, external_id=f"R-{number}-{index}",
                    member_reference={"id": str(member.pk)}, currency="EUR", total=total, occurred_at=moment,
                    lines=lines))
            if index % 9 == 4:
                with transaction.atomic():
                    purchase_return(store=store, actor=actor, external_id=f"RET-{number}-{index}",
                                    purchase_external_id=f"R-{number}-{index}",
                                    amount=(total / 2).quantize(Decimal("0.01")))
            if index % 10 == 9:
                # The ledger runs in today's time: the first year's points expire as soon as the account is
                # touched, so a redemption back then may find too little.
                try:
                    with transaction.atomic():
                        redemption = reward_redeem(member=member, reward=rewards[0], store=store, actor=actor)
                except DomainError as error:
                    if error.code != "insufficient_points":
                        raise
                else:
                    if index == 29:
                        with transaction.atomic():
                            redemption_cancel(redemption=redemption, actor=actor, reason="Changed their mind")
        with transaction.atomic():
            adjustment_request(member=member, points=30, reason_code="goodwill", note="Coffee was cold",
                               actor=managers[0], role=Role.MANAGER, idempotency_key=f"bench-adjust:{member.pk}:1")
            waiting = adjustment_request(member=member, points=1500, reason_code="migration",
                                         note="Balance from the old card", actor=managers[0], role=Role.MANAGER,
                                         idempotency_key=f"bench-adjust:{member.pk}:2")
            adjustment_approve(adjustment=waiting, actor=managers[1], note="Checked the old card's statement")
        if number % 50 == 0:
            print(f"  heavy members: {number + 1:,} of {len(members):,}", flush=True)
    return members


def load(*, members: int, heavy: int) -> None:
    from django.db import connection

    now = datetime.now(UTC).replace(microsecond=0)
    started = time.perf_counter()
    program, store, tiers, managers = program_load(now)
    members_load(program=program, members=members, now=now)
    print(f"{members:,} members with their accounts copied in {time.perf_counter() - started:.1f}s", flush=True)
    started = time.perf_counter()
    light_history_load(program=program, tiers=tiers, now=now)
    print(f"light history of one member in ten in {time.perf_counter() - started:.1f}s", flush=True)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    started = time.perf_counter()
    heavy_history_load(program=program, store=store, managers=managers, heavy=heavy, now=now)
    print(f"{heavy:,} members with two years of history in {time.perf_counter() - started:.1f}s", flush=True)
    connection.close()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")


# --- measuring ---------------------------------------------------------------------------------------------


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def national(phone: str) -> str:
    """+4915112345678 → "0151 12345678", as a member reads their number out."""
    rest = phone[3:]
    return f"0{rest[:3]} {rest[3:]}"


def search_cases(program, rng: random.Random, count: int) -> dict[str, list[tuple[str, object]]]:
    """Per kind of query, ``count`` queries and the member each must find (None: any or none)."""
    from members.models import Member

    fields = ("id", "first_name", "last_name", "email", "phone", "card_number")
    sample = list(Member.objects.filter(program=program).exclude(phone=None).order_by("?").only(*fields)[:count])
    rare = list(Member.objects.filter(program=program, first_name__in=FIRST_NAMES[-40:],
                                      last_name__in=LAST_NAMES[-60:]).order_by("?").only(*fields)[:count])
    card = lambda m: " ".join(m.card_number[i:i + 4] for i in range(0, 16, 4))  # noqa: E731
    return {
        "name: first and last": [(f"{m.first_name} {m.last_name}", None) for m in sample],
        "name: surname alone": [(m.last_name, None) for m in sample],
        "name: first name, initial": [(f"{m.first_name} {m.last_name[0]}", None) for m in sample],
        "name: first three letters": [(m.first_name[:3], None) for m in sample],
        "name: rare first and last": [(f"{m.first_name} {m.last_name}", m) for m in rare],
        "email: its first 9 characters": [(m.email[:9], None) for m in sample],
        "email: whole, upper case": [(m.email.upper(), m) for m in sample],
        "phone: as said (0151 …)": [(national(m.phone), m) for m in sample],
        "card number, with spaces": [(card(m), m) for m in sample],
        "nobody (qxqz…)": [(f"qxqz{rng.randint(1, 999)}", None) for _ in sample],
    }


def plan_of(program, query: str) -> str:
    """How PostgreSQL finds the matches of ``query`` (the search's first statement), in a few words."""
    import re

    from members.selectors import member_search_plan

    plan = member_search_plan(program=program, query=query)
    indexes = sorted(set(re.findall(r"(?:Index Scan|Index Only Scan|Bitmap Index Scan) (?:using|on) (\w+)", plan)))
    return ", ".join(indexes) if indexes else plan.splitlines()[0]


def timed(client, url: str, expect: str | None = None) -> float:
    started = time.perf_counter()
    response = client.get(url)
    seconds = time.perf_counter() - started
    if response.status_code != 200 or (expect and expect not in response.content.decode()):
        raise SystemExit(f"{url}: {response.status_code}, expected {expect!r} in the answer")
    return seconds


def queries_of(client, url: str) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        client.get(url)
    return len(captured)


def measure(*, requests: int, seed: int = 5) -> list[dict]:
    from urllib.parse import urlencode

    from django.contrib.auth import get_user_model
    from django.test import Client

    from earning.models import Purchase
    from members.models import Member
    from programs.models import Program

    rng = random.Random(seed)
    program = Program.objects.get(slug=PROGRAM_SLUG)
    client = Client()
    client.force_login(get_user_model().objects.get(username=MANAGER))
    results = []

    for kind, cases in search_cases(program, rng, requests).items():
        for query, _ in cases[:20]:  # warm-up: the plan cache, the buffers the indexes live in
            timed(client, "/staff/members/?" + urlencode({"q": query}))
        times = [timed(client, "/staff/members/?" + urlencode({"q": query}),
                       f"/staff/members/{member.pk}/" if member is not None else None) for query, member in cases]
        results.append({"page": "search", "kind": kind, "times": times,
                        "queries": queries_of(client, "/staff/members/?" + urlencode({"q": cases[0][0]})),
                        "example": cases[0][0], "plan": plan_of(program, cases[0][0])})

    heavy = list(Member.objects.filter(program=program, purchases__isnull=False).distinct()
                 .values_list("pk", flat=True))
    light = list(Member.objects.filter(program=program, purchases__isnull=True, account__available__gt=0)
                 .order_by("?").values_list("pk", flat=True)[:requests])
    purchases = list(Purchase.objects.filter(program=program, member_id__in=heavy).order_by("?")
                     .values_list("member_id", "pk")[:requests])
    pages = {
        "member page: two years of history": [f"/staff/members/{rng.choice(heavy)}/" for _ in range(requests)],
        "member page: three earns": [f"/staff/members/{pk}/" for pk in light],
        "explain a purchase": [f"/staff/members/{member}/purchases/{pk}/" for member, pk in purchases],
        "explain the tier": [f"/staff/members/{rng.choice(heavy)}/tier/explain/" for _ in range(requests)],
    }
    for kind, urls in pages.items():
        for url in urls[:20]:
            timed(client, url)
        times = [timed(client, url) for url in urls]
        results.append({"page": kind.split(":")[0], "kind": kind, "times": times,
                        "queries": queries_of(client, urls[0]), "example": urls[0], "plan": ""})
    return results


def example(result: dict) -> str:
    return f" (“{result['example']}”)" if result["page"] == "search" else ""


def readme_add(results: list[dict], *, members: int, heavy: int, requests: int, note: str = "") -> None:
    """The run's table at the end of this script's section of bench/README.md."""
    readme = ROOT / "bench" / "README.md"
    text = readme.read_text()
    date = datetime.now(UTC).date().isoformat()
    rows = "\n".join(
        f"| {r['kind']}{example(r)} | {len(r['times'])} | "
        f"{statistics.median(r['times']) * 1000:.1f} | {percentile(r['times'], 0.95) * 1000:.1f} | "
        f"{max(r['times']) * 1000:.1f} | {r['queries']} | {r['plan']} |"
        for r in results)
    table = (f"\n### {date}, {machine()}: {members:,} members, {heavy} with two years of history, "
             f"{requests} requests per row{note}\n\n"
             "| request (example) | n | p50 ms | p95 ms | max ms | queries | matches found by |\n"
             f"| --- | --- | --- | --- | --- | --- | --- |\n{rows}\n")
    marker = "<!-- staff_pages runs end -->"
    if marker not in text:
        raise SystemExit(f"bench/README.md has no {marker} line to add the run before")
    readme.write_text(text.replace(marker, table.lstrip("\n") + "\n" + marker))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--heavy", type=int, default=300, help="Members given two years of history by the services.")
    parser.add_argument("--requests", type=int, default=200, help="Timed requests per kind of query or page.")
    parser.add_argument("--reuse", action="store_true", help="Measure the database an earlier run loaded.")
    parser.add_argument("--no-readme", action="store_true", help="Print only; do not touch bench/README.md.")
    parser.add_argument("--label", default="", help="Said after the run's heading, e.g. what else ran meanwhile.")
    args = parser.parse_args()

    url = os.environ.get("DATABASE_URL", DEFAULT_URL)
    quiet_django(url)
    if not args.reuse:
        database_recreate(url)

    import django

    django.setup()
    if not args.reuse:
        started = time.perf_counter()
        load(members=args.members, heavy=args.heavy)
        print(f"loaded in {time.perf_counter() - started:.1f}s", flush=True)

    results = measure(requests=args.requests)
    print(f"{'request':40} {'n':>4} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'queries':>8}  example; plan")
    for r in results:
        print(f"{r['kind']:40} {len(r['times']):4d} {statistics.median(r['times']) * 1000:8.1f} "
              f"{percentile(r['times'], 0.95) * 1000:8.1f} {max(r['times']) * 1000:8.1f} {r['queries']:8d}  "
              f"{r['example']}; {r['plan']}")
    if not args.no_readme:
        readme_add(results, members=args.members, heavy=args.heavy, requests=args.requests,
                   note=f" ({args.label})" if args.label else "")


if __name__ == "__main__":
    main()

"""Seed the analytics scale database: one program, 1,000,000 members, 10,000,000 purchases over two years.

    .venv/bin/python bench/seed_scale.py [--members 1000000] [--purchases 10000000] [--verify sample|full|none]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/loyalty_scale_small .venv/bin/python bench/seed_scale.py \
        --members 10000 --purchases 100000 --verify full          # 1/100 scale, about a minute

Uses ``DATABASE_URL`` (default postgres://postgres@127.0.0.1:5432/loyalty_scale), which it drops, recreates and
migrates (``manage.py migrate``). The program (eight stores, a bronze/silver/gold ladder over a rolling twelve
months that never downgrades, four rewards, a manager) is made through the services; everything else is written
set-based, in one session, with ``INSERT … SELECT`` over ``generate_series`` and window functions:

* members enrolling over two years (more of them lately), each with a points account; one in five never comes
  back after the purchase they enrolled with, the others buy at their own pace (log-normal) until they drift
  away (an exponential lifetime);
* purchases between the enrolment and the end of that lifetime, at shop hours, mostly in the member's own store,
  plus 15 % guest purchases; one point per euro, pending for no days, expiring after 365;
* returns of 3 % of the purchases within three weeks, whole or half, taken from the purchase's own lot;
* redemptions of four rewards: three members in four save for one of them and try for it right after the
  purchase that takes their points past the next multiple of its cost (times a saving habit of one to one and a half),
  and redeem when their points allow it then;
* expiry of what is left of each lot 365 days after it was earned;
* a return that leaves debt: members whose last act was a redemption that spent the last purchase's points,
  who then bring that purchase back;
* qualifying activity, tier statuses and tier changes, as the rolling twelve months say.

The ledger is consistent, as the services would have written it: each lot is a stretch of the account's queue
of points, in the order lots are spent (soonest expiry first, which with one expiry period is the order they
were earned); redemptions, expiry and the debt-leaving return take the queue's front, so where each one's points
come from, and what each lot has left, follow from running sums. A redemption is kept only when the account held
enough at that moment (dropping one never makes a later one short, so one pass settles it). Transactions and
entries are written in booking order (the entry table's block-range index on ``created_at`` depends on it).

Indexes and foreign keys of the big tables are dropped for the load and made again after it; ``--verify`` then
runs the ledger's own verifier (``ledger.selectors.ledger_verify_report``) on a sample of accounts or on all.
Prints each step's time, the machine's load and the tables' sizes.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from staff_pages import FIRST_NAMES, LAST_NAMES
from tiers_recalc import database_recreate, machine, quiet_django

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/loyalty_scale"
PROGRAM_SLUG = "scale"
MANAGER = "scale-manager"
STORES = (  # code, name, weight of its purchases
    ("BER-MITTE", "Berlin Mitte", 24), ("BER-KREUZBERG", "Berlin Kreuzberg", 18), ("HAM-ALTONA", "Hamburg Altona", 15),
    ("MUC-ZENTRUM", "München Zentrum", 14), ("KOE-DEUTZ", "Köln Deutz", 10), ("FRA-BAHNHOF", "Frankfurt Hbf", 9),
    ("LEI-SUED", "Leipzig Süd", 6), ("WEB", "Online shop", 4),
)
REWARDS = (  # code, name, points, weight among redemptions
    ("FREE-COFFEE", "Free coffee", 100, 55), ("PASTRY-BOX", "Pastry box", 250, 28),
    ("BEANS-1KG", "A kilo of beans", 500, 12), ("VOUCHER-10", "€10 voucher", 1000, 5),
)
BIG_TABLES = (
    "members_member", "ledger_pointsaccount", "ledger_ledgertransaction", "ledger_ledgerentry", "ledger_pointslot",
    "ledger_lotmovement", "earning_purchase", "earning_return", "rewards_redemption", "tiers_qualifyingactivity",
    "tiers_membertier", "tiers_tierchange",
)
GUEST_SHARE = 0.15
ONE_TIMERS = 0.20
RETURN_SHARE = 0.03
REDEEMERS = 0.75  # share of members who ever redeem
DEBT_SHARE = 0.5  # of the members who could leave debt, those who do


def program_load(now: datetime) -> dict:
    """The program and what belongs to it, through the services, as staff would set it up."""
    from django.contrib.auth import get_user_model
    from django.db import transaction

    from notifications.models import NotificationSettings
    from programs.services import api_key_create, program_create, store_create
    from rewards.models import Reward
    from staff.models import Role, StaffRole
    from tiers.models import TierPolicy
    from tiers.services import tier_define, tier_policy_set

    with transaction.atomic():
        program = program_create(slug=PROGRAM_SLUG, name="Scale Coffee Club", currency="EUR", points_per_unit=1,
                                 pending_days=0, expiry_days=365, claim_window_days=30, time_zone="Europe/Berlin",
                                 default_phone_region="DE")
        NotificationSettings.objects.create(program=program, from_email="club@scale.example", emails_enabled=False)
        stores = []
        for code, name, weight in STORES:
            store = store_create(program=program, code=code, name=name)
            key, _ = api_key_create(store=store, name="Till 1")
            stores.append({"id": str(store.pk), "name": name, "weight": weight, "actor": f"api_key:{key.pk}"})
        tier_policy_set(program=program, metric=TierPolicy.Metric.POINTS, window=TierPolicy.Window.ROLLING_MONTHS,
                        window_months=12, downgrade=TierPolicy.Downgrade.NEVER)
        tiers = [tier_define(program=program, code=code, name=code.title(), rank=rank, threshold=threshold).pk
                 for code, rank, threshold in (("bronze", 1, 0), ("silver", 2, 500), ("gold", 3, 2000))]
        rewards = []
        for code, name, cost, weight in REWARDS:
            reward = Reward.objects.create(program=program, code=code, name=name, points_cost=cost,
                                           voucher_valid_days=90)
            rewards.append({"id": str(reward.pk), "name": name, "cost": cost, "weight": weight})
        user = get_user_model().objects.create_user(username=MANAGER, password=uuid.uuid4().hex)
        StaffRole.objects.create(user=user, program=program, role=Role.MANAGER)
    return {"program": str(program.pk), "stores": stores, "tiers": tiers, "rewards": rewards}


# --- dropping and remaking the big tables' indexes and keys ---------------------------------------------------


def keys_drop(cursor) -> list[str]:
    """Drop the big tables' indexes, unique and primary keys and foreign keys (to and from them); return the
    statements that make them again, in an order that works (keys, then indexes, then foreign keys)."""
    cursor.execute("""
        SELECT c.conname, c.conrelid::regclass::text, pg_get_constraintdef(c.oid), c.contype
        FROM pg_constraint c
        WHERE c.contype IN ('p', 'u', 'f') AND (c.conrelid::regclass::text = ANY(%(t)s)
              OR (c.contype = 'f' AND c.confrelid::regclass::text = ANY(%(t)s)))""", {"t": list(BIG_TABLES)})
    constraints = cursor.fetchall()
    cursor.execute("""
        SELECT i.indexname, i.indexdef FROM pg_indexes i
        WHERE i.schemaname = 'public' AND i.tablename = ANY(%(t)s)
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)""",
                   {"t": list(BIG_TABLES)})
    indexes = cursor.fetchall()
    remake = ([f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}'
               for name, table, definition, kind in constraints if kind in "pu"]
              + [definition for _, definition in indexes]
              + [f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}'
                 for name, table, definition, kind in constraints if kind == "f"])
    for name, table, _, _kind in sorted(constraints, key=lambda c: c[3] != "f"):  # foreign keys first
        cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT IF EXISTS "{name}"')
    for name, _ in indexes:
        cursor.execute(f'DROP INDEX IF EXISTS "{name}"')
    return remake


# --- the load --------------------------------------------------------------------------------------------------


def sql_steps(p: dict) -> list[tuple[str, str]]:
    """(what, SQL) in order; ``p`` is formatted in (numbers and ids the script made itself, never user input)."""
    return [
        ("staging schema", """
DROP SCHEMA IF EXISTS seed CASCADE; CREATE SCHEMA seed;
CREATE FUNCTION seed.luhn(payload text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT payload || ((10 - SUM(CASE WHEN d > 9 THEN d - 9 ELSE d END) % 10) % 10)::text
  FROM (SELECT substr(reverse(payload), i, 1)::int * (CASE WHEN i % 2 = 1 THEN 2 ELSE 1 END) AS d
        FROM generate_series(1, length(payload)) i) x $$;
CREATE FUNCTION seed.store_at(u float8) RETURNS uuid LANGUAGE sql IMMUTABLE AS $$ SELECT {store_case} $$;
CREATE FUNCTION seed.reward_at(u float8) RETURNS int LANGUAGE sql IMMUTABLE AS $$ SELECT {reward_case} $$;
CREATE FUNCTION seed.shop_hours(t timestamptz) RETURNS timestamptz LANGUAGE sql IMMUTABLE AS $$
  SELECT date_trunc('day', t) + interval '6 hours' + (t - date_trunc('day', t)) * (14.0 / 24) $$;
"""),
        ("members", """
CREATE UNLOGGED TABLE seed.member AS
SELECT n, enrolled_at, store_id, one_timer, g,
       LEAST(TIMESTAMPTZ '{now}', enrolled_at + lifetime) AS active_until
FROM (
  SELECT n, LEAST(seed.shop_hours(TIMESTAMPTZ '{start}' + interval '{days} days' * power(random(), 0.8)),
                  TIMESTAMPTZ '{now}' - interval '10 minutes') AS enrolled_at,
         CASE WHEN random() < 0.85 THEN seed.store_at(random()) END AS store_id,
         random() < {one_timers} AS one_timer,
         exp(0.9 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())) AS g,
         interval '1 day' * (-420 * ln(1 - random())) AS lifetime
  FROM generate_series(1::bigint, {members}) n) m;
CREATE UNLOGGED TABLE seed.account AS
SELECT row_number() OVER (ORDER BY enrolled_at, n) AS account_id, n, gen_random_uuid() AS member_id, enrolled_at,
       store_id, one_timer, g, active_until, random() < {redeemers} AS redeemer, seed.reward_at(random()) AS reward,
       1 + 0.5 * random() AS saving
FROM seed.member;
DROP TABLE seed.member;
INSERT INTO members_member (id, program_id, card_number, email, phone, first_name, last_name, birth_date, language,
    referral_code, referred_by_id, marketing_opt_in, marketing_opt_in_at, marketing_opt_in_source, email_verified_at,
    status, enrolled_at, enrolled_store_id, user_id)
SELECT member_id, '{program}'::uuid, seed.luhn('9' || lpad(((n * 7919 + 104729) % 100000000000000)::text, 14, '0')),
       'member' || n || '@scale.example',
       CASE WHEN n % 5 <> 0 THEN '+49' || (150 + n % 30) || lpad(n::text, 8, '0') END,
       first_names[1 + floor(array_length(first_names, 1) * power(random(), 2))::int],
       last_names[1 + floor(array_length(last_names, 1) * power(random(), 2))::int],
       CASE WHEN n % 5 < 3 THEN DATE '1945-01-01' + (n * 37 % 22000)::int END,
       CASE WHEN n % 5 < 3 THEN 'de' ELSE 'en' END, 'R' || lpad(n::text, 9, '0'), NULL,
       n % 5 < 2, CASE WHEN n % 5 < 2 THEN enrolled_at END, CASE WHEN n % 5 < 2 THEN 'pos' ELSE '' END,
       CASE WHEN n % 3 = 0 THEN enrolled_at + interval '1 hour' END,
       CASE WHEN n % 250 = 0 THEN 'suspended' ELSE 'active' END, enrolled_at, store_id, NULL
FROM seed.account, (SELECT ARRAY[{first_names}] AS first_names, ARRAY[{last_names}] AS last_names) names;
INSERT INTO ledger_pointsaccount (id, program_id, member_id, available, pending, debt, updated_at)
SELECT account_id, '{program}'::uuid, member_id, 0, 0, 0, enrolled_at FROM seed.account;
"""),
        ("purchases", """
CREATE UNLOGGED TABLE seed.purchase_raw AS
WITH pace AS (
  SELECT ({member_purchases} - {members}) / SUM(g * EXTRACT(epoch FROM active_until - enrolled_at) / 86400) AS k
  FROM seed.account WHERE NOT one_timer
), counts AS (
  SELECT a.account_id, a.member_id, a.enrolled_at, a.active_until, a.store_id,
         1 + CASE WHEN one_timer THEN 0
                  ELSE floor(k * g * EXTRACT(epoch FROM active_until - enrolled_at) / 86400 + random())::int END AS n
  FROM seed.account a, pace
)
SELECT account_id, member_id,
       CASE WHEN i = 1 THEN enrolled_at + interval '2 minutes'
            ELSE LEAST(GREATEST(seed.shop_hours(enrolled_at + (active_until - enrolled_at) * random()),
                                enrolled_at + interval '3 minutes'), TIMESTAMPTZ '{now}' - interval '1 minute')
       END AS occurred_at,
       CASE WHEN store_id IS NOT NULL AND random() < 0.7 THEN store_id ELSE seed.store_at(random()) END AS store_id
FROM counts, generate_series(1, n) i
UNION ALL
SELECT NULL, NULL, LEAST(seed.shop_hours(TIMESTAMPTZ '{start}' + interval '{days} days' * random()),
                         TIMESTAMPTZ '{now}' - interval '1 minute'),
       seed.store_at(random())
FROM generate_series(1, {guest_purchases});
CREATE UNLOGGED TABLE seed.purchase AS
SELECT row_number() OVER (ORDER BY occurred_at) AS n, gen_random_uuid() AS id, account_id, member_id, occurred_at,
       store_id, total, floor(total)::bigint AS points
FROM (SELECT *, round((4 + 76 * power(random(), 2.2))::numeric, 2) AS total FROM seed.purchase_raw) p;
DROP TABLE seed.purchase_raw;
CREATE INDEX ON seed.purchase (account_id, occurred_at);
ANALYZE seed.purchase;
"""),
        ("returns", """
CREATE UNLOGGED TABLE seed.ret AS
SELECT row_number() OVER (ORDER BY returned_at) AS n, gen_random_uuid() AS id, purchase_n, account_id, store_id,
       returned_at, amount,
       CASE WHEN account_id IS NULL THEN 0
            ELSE points - floor(points * (total - amount) / total)::bigint END AS points
FROM (SELECT p.n AS purchase_n, p.account_id, p.store_id, p.total, p.points,
             p.occurred_at + interval '1 day' * (1 + 19 * random()) AS returned_at,
             CASE WHEN random() < 0.6 THEN p.total ELSE round(p.total / 2, 2) END AS amount
      FROM seed.purchase p WHERE random() < {return_share}) r
WHERE returned_at < TIMESTAMPTZ '{now}';
CREATE INDEX ON seed.ret (account_id, returned_at);
-- each lot is the stretch (q_end - eff, q_end] of its account's queue; a return's points are set aside
CREATE UNLOGGED TABLE seed.lot AS
SELECT *, SUM(eff) OVER (PARTITION BY account_id ORDER BY earned_at, lot_n) AS q_end FROM (
  SELECT p.n AS lot_n, p.account_id, p.occurred_at AS earned_at, p.points AS amount,
         p.points - COALESCE(r.points, 0) AS eff
  FROM seed.purchase p LEFT JOIN seed.ret r ON r.purchase_n = p.n
  WHERE p.account_id IS NOT NULL) l;
CREATE INDEX ON seed.lot (account_id, q_end);
ANALYZE seed.ret; ANALYZE seed.lot;
"""),
        ("redemptions: who could afford them", """
CREATE UNLOGGED TABLE seed.try AS
-- a member who redeems at all saves for a reward of their liking and tries for it after the purchase that
-- takes their points earned past the next multiple of its cost (times how long they like to save)
SELECT row_number() OVER () AS try_n, account_id, occurred_at + interval '2 minutes' AS t, cost, reward_id, store_id
FROM (SELECT p.*, (ARRAY[{reward_costs}])[a.reward] AS cost, (ARRAY[{reward_ids}])[a.reward] AS reward_id
      FROM seed.lot l JOIN seed.account a USING (account_id) JOIN seed.purchase p ON p.n = l.lot_n
      WHERE a.redeemer AND l.eff > 0
        AND floor(l.q_end / ((ARRAY[{reward_costs}])[a.reward] * a.saving))
            > floor((l.q_end - l.eff) / ((ARRAY[{reward_costs}])[a.reward] * a.saving))) p
WHERE occurred_at + interval '2 minutes' < TIMESTAMPTZ '{now}'
  -- not while a purchase of the member is waiting to be returned: that return takes from its own lot
  AND NOT EXISTS (SELECT 1 FROM seed.ret r JOIN seed.purchase rp ON rp.n = r.purchase_n
                  WHERE r.account_id = p.account_id AND rp.occurred_at < p.occurred_at + interval '2 minutes'
                    AND r.returned_at > p.occurred_at + interval '2 minutes');
CREATE UNLOGGED TABLE seed.kept AS
SELECT try_n FROM (
  SELECT kind, try_n, cost, {avail_window}
  FROM ({events_with_tries}) e
  WINDOW w AS (PARTITION BY account_id ORDER BY t, ord, ref ROWS UNBOUNDED PRECEDING)
) x WHERE kind = 'r' AND avail >= cost;
CREATE UNLOGGED TABLE seed.redemption AS
SELECT row_number() OVER (ORDER BY t.t) AS n, gen_random_uuid() AS id, t.*
FROM seed.try t JOIN seed.kept k USING (try_n);
DROP TABLE seed.try; DROP TABLE seed.kept;
CREATE INDEX ON seed.redemption (account_id, t);
ANALYZE seed.redemption;
"""),
        ("expiry and where each redemption's points come from", """
CREATE UNLOGGED TABLE seed.flow AS
SELECT kind, account_id, t, ref, amount, q_end, runr_before + x_before AS p_before, x_before,
       GREATEST(x_before, COALESCE(x_incl, 0), 0) AS x_after
FROM (
  SELECT e.*, SUM(CASE WHEN kind = 'r' THEN amount ELSE 0 END) OVER w - CASE WHEN kind = 'r' THEN amount ELSE 0 END
              AS runr_before,
         GREATEST(COALESCE(MAX(cand) OVER wp, 0), 0) AS x_before, MAX(cand) OVER w AS x_incl
  FROM (SELECT *, CASE WHEN kind = 'x' THEN q_end - SUM(CASE WHEN kind = 'r' THEN amount ELSE 0 END) OVER w END
               AS cand
        FROM ({events}) e0
        WINDOW w AS (PARTITION BY account_id ORDER BY t, ord, ref ROWS UNBOUNDED PRECEDING)) e
  WINDOW w AS (PARTITION BY account_id ORDER BY t, ord, ref ROWS UNBOUNDED PRECEDING),
         wp AS (PARTITION BY account_id ORDER BY t, ord, ref ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
) x WHERE kind IN ('x', 'r');
CREATE INDEX ON seed.flow (account_id, t);
ANALYZE seed.flow;
"""),
        ("returns that leave debt", """
CREATE UNLOGGED TABLE seed.debt AS
WITH last_purchase AS (
  SELECT DISTINCT ON (account_id) account_id, n AS purchase_n, occurred_at, points, total, store_id
  FROM seed.purchase WHERE account_id IS NOT NULL ORDER BY account_id, occurred_at DESC, n DESC
), last_redemption AS (
  SELECT account_id, MAX(t) AS t FROM seed.redemption GROUP BY account_id
), totals AS (
  SELECT l.account_id, MAX(l.q_end) AS earned FROM seed.lot l GROUP BY l.account_id
), candidates AS (
  SELECT lp.*, lr.t + interval '1 day' * (1 + 4 * random()) AS t_d
  FROM last_purchase lp JOIN last_redemption lr USING (account_id)
  WHERE lr.t > lp.occurred_at AND random() < {debt_share}
    AND NOT EXISTS (SELECT 1 FROM seed.ret r WHERE r.account_id = lp.account_id)
)
SELECT row_number() OVER (ORDER BY c.t_d) AS n, c.account_id, c.purchase_n, c.t_d, c.points, c.total,
       c.store_id, s.p_d, tt.earned - s.p_d AS available
FROM candidates c JOIN totals tt USING (account_id)
CROSS JOIN LATERAL (
  SELECT COALESCE((SELECT SUM(amount) FROM seed.flow f WHERE f.account_id = c.account_id AND f.kind = 'r'), 0)
         + COALESCE((SELECT MAX(x_after) FROM seed.flow f WHERE f.account_id = c.account_id AND f.kind = 'x'
                     AND f.t < c.t_d), 0) AS p_d) s
WHERE c.t_d < TIMESTAMPTZ '{now}' AND tt.earned - s.p_d < c.points;
CREATE UNIQUE INDEX ON seed.debt (account_id);
-- the lots the return empties expire no more
DELETE FROM seed.flow f USING seed.debt d WHERE f.account_id = d.account_id AND f.kind = 'x' AND f.t >= d.t_d;
ANALYZE seed.debt;
"""),
        ("ledger rows in booking order", """
CREATE UNLOGGED TABLE seed.move (ref_kind text, ref bigint, lot_n bigint, points bigint);
-- redemptions and the debt-leaving returns: the lots their stretch of the queue crosses
INSERT INTO seed.move
SELECT 'r', f.ref, l.lot_n, -(LEAST(f.p_before + f.amount, l.q_end) - GREATEST(f.p_before, l.q_end - l.eff))
FROM seed.flow f JOIN LATERAL (
  SELECT * FROM seed.lot l WHERE l.account_id = f.account_id AND l.q_end > f.p_before
    AND l.q_end < f.p_before + f.amount + {max_points} ORDER BY l.q_end) l
  ON l.q_end - l.eff < f.p_before + f.amount AND l.eff > 0
WHERE f.kind = 'r';
INSERT INTO seed.move
SELECT 'd', d.n, l.lot_n, -(l.q_end - GREATEST(d.p_d, l.q_end - l.eff))
FROM seed.debt d JOIN seed.lot l ON l.account_id = d.account_id AND l.q_end > d.p_d AND l.eff > 0;
INSERT INTO seed.move SELECT 'x', f.ref, f.ref, -(f.x_after - f.x_before) FROM seed.flow f
WHERE f.kind = 'x' AND f.x_after > f.x_before;
INSERT INTO seed.move SELECT 'ret', r.n, r.purchase_n, -r.points FROM seed.ret r
WHERE r.account_id IS NOT NULL AND r.points > 0;
CREATE INDEX ON seed.move (lot_n);
ANALYZE seed.move;
CREATE UNLOGGED TABLE seed.book AS
SELECT row_number() OVER (ORDER BY t, ord, ref) AS id, b.* FROM (
  SELECT p.occurred_at AS t, 1 AS ord, p.n AS ref, 'earn' AS kind, 'purchase' AS source_type, p.id::text AS source_id,
         'purchase:' || p.store_id || ':S' || p.n AS idempotency_key, p.account_id, p.points,
         p.points AS available_delta, 0::bigint AS debt_delta, p.n AS lot_n,
         p.occurred_at + interval '365 days' AS expires_at,
         'Purchase S' || p.n || ' at ' || s.name AS description, s.actor
  FROM seed.purchase p JOIN seed.store s ON s.id = p.store_id WHERE p.account_id IS NOT NULL
  UNION ALL
  SELECT r.t, 2, r.n, 'redeem', 'redemption', r.id::text, 'redemption:' || r.id, r.account_id, -r.cost, -r.cost, 0,
         NULL, NULL, 'Redeemed ' || w.name, s.actor
  FROM seed.redemption r JOIN seed.reward w ON w.id = r.reward_id JOIN seed.store s ON s.id = r.store_id
  UNION ALL
  SELECT r.returned_at, 3, r.n, 'return', 'return', r.id::text, 'return:' || r.store_id || ':T' || r.n, r.account_id,
         -r.points, -r.points, 0, NULL, NULL, 'Return T' || r.n || ' of purchase S' || r.purchase_n, s.actor
  FROM seed.ret r JOIN seed.store s ON s.id = r.store_id WHERE r.account_id IS NOT NULL AND r.points > 0
  UNION ALL
  SELECT d.t_d, 4, d.n, 'return', 'return', NULL, 'return:' || d.store_id || ':D' || d.n, d.account_id, -d.points,
         -d.available, d.points - d.available, NULL, NULL, 'Return D' || d.n || ' of purchase S' || d.purchase_n,
         s.actor
  FROM seed.debt d JOIN seed.store s ON s.id = d.store_id
  UNION ALL
  SELECT f.t, 0, f.ref, 'expire', 'lot', f.ref::text, 'expire:lot:' || f.ref, f.account_id, -(f.x_after - f.x_before),
         -(f.x_after - f.x_before), 0, NULL, NULL, 'Points expired', 'system:expiry'
  FROM seed.flow f WHERE f.kind = 'x' AND f.x_after > f.x_before
) b;
CREATE UNLOGGED TABLE seed.debt_return AS SELECT d.n, gen_random_uuid() AS id FROM seed.debt d;
UPDATE seed.book b SET source_id = dr.id::text FROM seed.debt_return dr WHERE b.ord = 4 AND b.ref = dr.n;
CREATE INDEX ON seed.book (ord, ref);
ANALYZE seed.book;
"""),
        ("ledger tables", """
INSERT INTO ledger_pointslot (id, program_id, account_id, amount, remaining, earned_at, available_at, released,
                              expires_at, expired)
SELECT l.lot_n, '{program}'::uuid, l.account_id, l.amount, l.amount + COALESCE(m.moved, 0), l.earned_at, l.earned_at,
       true, l.earned_at + interval '365 days', COALESCE(m.expired, false)
FROM seed.lot l LEFT JOIN (SELECT lot_n, SUM(points) AS moved, bool_or(ref_kind = 'x') AS expired
                           FROM seed.move GROUP BY lot_n) m USING (lot_n);
INSERT INTO ledger_ledgertransaction (id, program_id, kind, idempotency_key, source_type, source_id, actor, reason,
                                      reverses_id, created_at)
SELECT id, '{program}'::uuid, kind, idempotency_key, source_type, source_id, actor, '', NULL, t
FROM seed.book;  -- written in id order already
INSERT INTO ledger_ledgerentry (id, public_id, transaction_id, program_id, account_id, kind, points, available_delta,
                                pending_delta, debt_delta, lot_id, expires_at, description, created_at)
SELECT id, gen_random_uuid(), id, '{program}'::uuid, account_id, kind, points, available_delta, 0, debt_delta, lot_n,
       expires_at, description, t FROM seed.book;
INSERT INTO ledger_lotmovement (entry_id, lot_id, points)
SELECT b.id, m.lot_n, m.points FROM seed.move m
JOIN seed.book b ON b.ord = CASE m.ref_kind WHEN 'x' THEN 0 WHEN 'r' THEN 2 WHEN 'ret' THEN 3 ELSE 4 END
                AND b.ref = m.ref
WHERE m.points <> 0 ORDER BY b.id, m.lot_n;
UPDATE ledger_pointsaccount a SET available = s.available, debt = s.debt, updated_at = s.updated_at
FROM (SELECT account_id, SUM(available_delta) AS available, SUM(debt_delta) AS debt, MAX(t) AS updated_at
      FROM seed.book GROUP BY account_id) s
WHERE a.id = s.account_id;
"""),
        ("purchases, returns and redemptions", """
INSERT INTO earning_purchase (id, program_id, store_id, external_id, member_id, currency, total, returned_total,
    occurred_at, lines, points_awarded, points_reversed, breakdown, earn_transaction_id, claimable_until, claimed_at,
    actor, created_at)
SELECT p.id, '{program}'::uuid, p.store_id, 'S' || p.n, p.member_id, 'EUR', p.total,
       COALESCE(r.amount, d.total, 0), p.occurred_at, '[]', CASE WHEN p.account_id IS NULL THEN 0 ELSE p.points END,
       COALESCE(r.points, d.points, 0), '[]', b.id,
       CASE WHEN p.account_id IS NULL THEN p.occurred_at + interval '30 days' END, NULL, s.actor, p.occurred_at
FROM seed.purchase p JOIN seed.store s ON s.id = p.store_id
LEFT JOIN seed.ret r ON r.purchase_n = p.n LEFT JOIN seed.debt d ON d.purchase_n = p.n
LEFT JOIN seed.book b ON b.ord = 1 AND b.ref = p.n;
INSERT INTO earning_return (id, program_id, store_id, external_id, purchase_id, amount, points_reversed,
                            reverse_transaction_id, actor, created_at)
SELECT id, '{program}'::uuid, store_id, external_id, purchase_id, amount, points, txn, actor, created_at FROM (
  SELECT r.id, r.store_id, 'T' || r.n AS external_id, p.id AS purchase_id, r.amount, r.points, b.id AS txn, s.actor,
         r.returned_at AS created_at
  FROM seed.ret r JOIN seed.purchase p ON p.n = r.purchase_n JOIN seed.store s ON s.id = r.store_id
  LEFT JOIN seed.book b ON b.ord = 3 AND b.ref = r.n
  UNION ALL
  SELECT dr.id, d.store_id, 'D' || d.n, p.id, d.total, d.points, b.id, s.actor, d.t_d
  FROM seed.debt d JOIN seed.debt_return dr USING (n) JOIN seed.purchase p ON p.n = d.purchase_n
  JOIN seed.store s ON s.id = d.store_id JOIN seed.book b ON b.ord = 4 AND b.ref = d.n
) x ORDER BY created_at;
INSERT INTO rewards_redemption (id, program_id, reward_id, member_id, store_id, points_spent, discount_amount,
    voucher_code, status, issued_at, expires_at, used_at, used_store_id, spend_transaction_id, refund_transaction_id,
    actor)
SELECT r.id, '{program}'::uuid, r.reward_id, a.member_id, r.store_id, r.cost, NULL, 'V' || lpad(r.n::text, 11, '0'),
       CASE WHEN used THEN 'used' WHEN r.t + interval '90 days' <= TIMESTAMPTZ '{now}' THEN 'expired' ELSE 'issued' END,
       r.t, r.t + interval '90 days', CASE WHEN used THEN used_at END, CASE WHEN used THEN r.store_id END, b.id, NULL,
       s.actor
FROM (SELECT *, random() < 0.85 AND t + interval '1 day' * used_days < TIMESTAMPTZ '{now}' AS used,
             t + interval '1 day' * used_days AS used_at
      FROM (SELECT *, power(random(), 2) * 60 AS used_days FROM seed.redemption) r0) r
JOIN seed.account a USING (account_id) JOIN seed.store s ON s.id = r.store_id
JOIN seed.book b ON b.ord = 2 AND b.ref = r.n
ORDER BY r.n;
"""),
        ("tiers", """
CREATE UNLOGGED TABLE seed.tiered AS
SELECT p.account_id, p.member_id, p.occurred_at, p.points,
       SUM(p.points) OVER (PARTITION BY p.account_id ORDER BY p.occurred_at
                           RANGE BETWEEN interval '12 months' PRECEDING AND CURRENT ROW) AS rolling
FROM seed.purchase p WHERE p.account_id IS NOT NULL;
INSERT INTO tiers_qualifyingactivity (program_id, member_id, occurred_at, points, spend, credits, source_type,
                                      source_id, actor, created_at)
SELECT '{program}'::uuid, p.member_id, p.occurred_at, p.points, p.total, 0, 'purchase', p.id::text, s.actor,
       p.occurred_at
FROM seed.purchase p JOIN seed.store s ON s.id = p.store_id WHERE p.account_id IS NOT NULL
UNION ALL
SELECT '{program}'::uuid, p.member_id, p.occurred_at, -r.points, -r.amount, 0, 'return', r.id::text, s.actor,
       r.returned_at
FROM seed.ret r JOIN seed.purchase p ON p.n = r.purchase_n JOIN seed.store s ON s.id = r.store_id
WHERE r.account_id IS NOT NULL
UNION ALL
SELECT '{program}'::uuid, p.member_id, p.occurred_at, -d.points, -d.total, 0, 'return', dr.id::text, s.actor, d.t_d
FROM seed.debt d JOIN seed.debt_return dr USING (n) JOIN seed.purchase p ON p.n = d.purchase_n
JOIN seed.store s ON s.id = d.store_id;
CREATE UNLOGGED TABLE seed.reached AS
SELECT member_id, tier, MIN(occurred_at) AS at, MIN(rolling) FILTER (WHERE true) AS value
FROM (SELECT member_id, occurred_at, rolling,
             unnest(ARRAY[1] || CASE WHEN rolling >= 500 THEN ARRAY[2] ELSE '{{}}'::int[] END
                            || CASE WHEN rolling >= 2000 THEN ARRAY[3] ELSE '{{}}'::int[] END) AS tier
      FROM seed.tiered) t
GROUP BY member_id, tier;
INSERT INTO tiers_tierchange (program_id, member_id, from_tier_id, to_tier_id, cause, reason, actor, qualifying_value,
                              created_at)
SELECT '{program}'::uuid, member_id, (ARRAY[NULL, {bronze}, {silver}]::bigint[])[tier], (ARRAY[{tiers}])[tier],
       'upgrade', '', 'system:tiers', value, at
FROM seed.reached ORDER BY at;
INSERT INTO tiers_membertier (member_id, program_id, tier_id, qualifying_value, achieved_at, valid_until,
                              below_since, locked_until, updated_at)
SELECT r.member_id, '{program}'::uuid, (ARRAY[{tiers}])[r.tier], COALESCE(w.value, 0), r.at, NULL, NULL, NULL,
       TIMESTAMPTZ '{now}'
FROM (SELECT DISTINCT ON (member_id) * FROM seed.reached ORDER BY member_id, tier DESC) r
LEFT JOIN (SELECT t.member_id, SUM(t.points) AS value FROM seed.tiered t
           WHERE t.occurred_at > TIMESTAMPTZ '{now}' - interval '12 months' GROUP BY t.member_id) w USING (member_id);
"""),
    ]


def events_sql(*, with_tries: bool) -> str:
    """Each account's earns, expiries and redemptions (tried, or kept) as one stream, in the order they happen."""
    redemptions = ("SELECT 'r' AS kind, account_id, t, 2 AS ord, try_n AS ref, cost AS amount, NULL::bigint AS q_end, "
                   "try_n, cost FROM seed.try" if with_tries else
                   "SELECT 'r', account_id, t, 2, n, cost, NULL::bigint, n, cost FROM seed.redemption")
    return f"""
        SELECT 'e' AS kind, account_id, earned_at AS t, 1 AS ord, lot_n AS ref, eff AS amount, q_end,
               NULL::bigint AS try_n, NULL::int AS cost FROM seed.lot
        UNION ALL
        SELECT 'x', account_id, earned_at + interval '365 days', 0, lot_n, 0, q_end, NULL, NULL FROM seed.lot
        WHERE earned_at + interval '365 days' <= TIMESTAMPTZ '{{now}}'
        UNION ALL
        {redemptions}"""


# The points an account holds just before each redemption it tries: earned so far − redeemed before − expired,
# where the expired total is the running maximum over expiries of (the lot's queue end − redeemed before it).
AVAIL_WINDOW = """
    SUM(CASE WHEN kind = 'e' THEN amount ELSE 0 END) OVER w
    - (SUM(CASE WHEN kind = 'r' THEN amount ELSE 0 END) OVER w - CASE WHEN kind = 'r' THEN amount ELSE 0 END)
    - GREATEST(COALESCE(MAX(cand) OVER w, 0), 0) AS avail"""


def events_with_candidates(with_tries: bool) -> str:
    return f"""
        SELECT *, CASE WHEN kind = 'x' THEN q_end - SUM(CASE WHEN kind = 'r' THEN amount ELSE 0 END) OVER w END
               AS cand
        FROM ({events_sql(with_tries=with_tries)}) e0
        WINDOW w AS (PARTITION BY account_id ORDER BY t, ord, ref ROWS UNBOUNDED PRECEDING)"""


def picked(values: list[str], weights: list[int]) -> str:
    """A CASE over ``u`` (uniform in [0, 1)) that gives each value with its weight's share."""
    total, running, branches = sum(weights), 0, []
    for value, weight in zip(values[:-1], weights[:-1], strict=True):
        running += weight
        branches.append(f"WHEN u < {running / total:.6f} THEN {value}")
    return f"CASE {' '.join(branches)} ELSE {values[-1]} END"


def quoted(values) -> str:
    return ",".join("'" + value.replace("'", "''") + "'" for value in values)


def load(*, members: int, purchases: int, setup: dict, now: datetime) -> list[tuple[str, float, str]]:
    """Run every step; returns (step, seconds, load average after it)."""
    from django.db import connection

    member_purchases = round(purchases * (1 - GUEST_SHARE))
    if member_purchases < members:
        raise SystemExit("--purchases must give every member at least the purchase they enrolled with")
    params = {
        "program": setup["program"], "now": now.isoformat(), "start": (now - timedelta(days=730)).isoformat(),
        "days": 730, "members": members, "member_purchases": member_purchases,
        "guest_purchases": purchases - member_purchases, "one_timers": ONE_TIMERS, "return_share": RETURN_SHARE,
        "redeemers": REDEEMERS, "debt_share": DEBT_SHARE, "max_points": 100,
        "store_ids": ",".join(f"'{s['id']}'::uuid" for s in setup["stores"]),
        "store_case": picked([f"'{s['id']}'::uuid" for s in setup["stores"]], [s["weight"] for s in setup["stores"]]),
        "reward_case": picked([str(i + 1) for i in range(len(setup["rewards"]))],
                              [r["weight"] for r in setup["rewards"]]),
        "reward_ids": ",".join(f"'{r['id']}'::uuid" for r in setup["rewards"]),
        "reward_costs": ",".join(str(r["cost"]) for r in setup["rewards"]),
        "first_names": quoted(FIRST_NAMES), "last_names": quoted(LAST_NAMES),
        "tiers": ",".join(map(str, setup["tiers"])), "bronze": setup["tiers"][0], "silver": setup["tiers"][1],
        "one": 1,
    }
    params["events_with_tries"] = events_with_candidates(True).replace("{now}", params["now"])
    params["events"] = events_sql(with_tries=False).replace("{now}", params["now"])
    params["avail_window"] = AVAIL_WINDOW
    timings = []
    with connection.cursor() as cursor:
        for setting in ("SET TimeZone = 'UTC'", "SET work_mem = '512MB'", "SET maintenance_work_mem = '1GB'",
                        "SET synchronous_commit = off", "SET max_parallel_maintenance_workers = 2"):
            cursor.execute(setting)
        started = time.perf_counter()
        remake = keys_drop(cursor)
        timings.append(("indexes and keys of the big tables dropped", time.perf_counter() - started, loadavg()))
        cursor.execute("DROP SCHEMA IF EXISTS seed CASCADE")
        steps = sql_steps(params)
        stores = ",".join(f"({quoted([s['id']])}::uuid, {quoted([s['name']])}, {quoted([s['actor']])})"
                          for s in setup["stores"])
        rewards = ",".join(f"({quoted([r['id']])}::uuid, {quoted([r['name']])})" for r in setup["rewards"])
        for what, template in steps:
            started = time.perf_counter()
            statement = template.format(**params)
            cursor.execute(statement)
            if what == "staging schema":
                cursor.execute(f"CREATE UNLOGGED TABLE seed.store (id uuid, name text, actor text); "
                               f"INSERT INTO seed.store VALUES {stores}; "
                               f"CREATE UNLOGGED TABLE seed.reward (id uuid, name text); "
                               f"INSERT INTO seed.reward VALUES {rewards};")
            connection.commit() if not connection.get_autocommit() else None
            timings.append((what, time.perf_counter() - started, loadavg()))
            print(f"  {what}: {timings[-1][1]:.1f}s (load {timings[-1][2]})", flush=True)
        started = time.perf_counter()
        slowest = []
        for statement in remake:
            began = time.perf_counter()
            cursor.execute(statement)
            slowest.append((time.perf_counter() - began, statement))
        for seconds, statement in sorted(slowest, reverse=True)[:8]:
            print(f"    {seconds:6.1f}s {statement[:110]}")
        foreign = sum(seconds for seconds, statement in slowest if "FOREIGN KEY" in statement)
        print(f"    of which foreign keys (each checked against its table): {foreign:.1f}s")
        timings.append(("indexes and keys made again", time.perf_counter() - started, loadavg()))
        print(f"  indexes and keys made again: {timings[-1][1]:.1f}s (load {timings[-1][2]})", flush=True)
        started = time.perf_counter()
        cursor.execute("SELECT table_name FROM information_schema.columns WHERE table_name = ANY(%s) "
                       "AND column_name = 'id' AND data_type = 'bigint'", [list(BIG_TABLES)])
        for (table,) in cursor.fetchall():  # ids written by the load: the next ones follow them
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                           f"GREATEST((SELECT MAX(id) FROM {table}), 1))")
        cursor.execute("DROP SCHEMA seed CASCADE")
        timings.append(("sequences set, staging dropped", time.perf_counter() - started, loadavg()))
    return timings


def loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def vacuum() -> float:
    import psycopg
    from django.conf import settings

    db = settings.DATABASES["default"]
    started = time.perf_counter()
    with psycopg.connect(host=db["HOST"], port=db["PORT"] or 5432, user=db["USER"], password=db["PASSWORD"],
                         dbname=db["NAME"], autocommit=True) as conn:
        conn.execute("SET maintenance_work_mem = '1GB'")
        conn.execute("VACUUM (ANALYZE)")
    return time.perf_counter() - started


def verify(mode: str) -> tuple[str, float, bool]:
    from django.db.models.functions import Mod

    from ledger.models import PointsAccount
    from ledger.selectors import ledger_verify_report

    started = time.perf_counter()
    accounts = None
    if mode == "sample":  # every 50th account: all kinds of history, a fiftieth of the time
        accounts = PointsAccount.objects.annotate(slot=Mod("id", 50)).filter(slot=7)
    report = ledger_verify_report(accounts=accounts)
    seconds = time.perf_counter() - started
    verdict = (f"{report.accounts_checked:,} accounts and {report.lots_checked:,} lots checked: "
               f"{len(report.accounts)} accounts and {len(report.lots)} lots drifted")
    if not report.ok:
        print(json.dumps({"accounts": report.accounts[:5], "lots": report.lots[:5]}, indent=1, default=str))
    return verdict, seconds, report.ok


def sizes() -> list[tuple[str, int, int]]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("""
            SELECT c.relname, c.reltuples::bigint, pg_total_relation_size(c.oid)
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = 'public' AND c.relkind = 'r' AND pg_total_relation_size(c.oid) > 8 * 1024 * 1024
            ORDER BY pg_total_relation_size(c.oid) DESC""")
        rows = cursor.fetchall()
        cursor.execute("SELECT pg_database_size(current_database())")
        rows.append(("whole database", 0, cursor.fetchone()[0]))
    return rows


def counts() -> dict:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("""
            SELECT (SELECT COUNT(*) FROM members_member), (SELECT COUNT(*) FROM earning_purchase),
                   (SELECT COUNT(*) FROM earning_purchase WHERE member_id IS NULL),
                   (SELECT COUNT(*) FROM earning_return), (SELECT COUNT(*) FROM rewards_redemption),
                   (SELECT COUNT(*) FROM ledger_pointsaccount WHERE debt > 0),
                   (SELECT json_object_agg(kind, json_build_array(n, points)) FROM (
                        SELECT kind, COUNT(*) n, SUM(points) points FROM ledger_ledgerentry GROUP BY kind) k),
                   (SELECT SUM(available - debt) FROM ledger_pointsaccount)""")
        row = cursor.fetchone()
    kinds = row[6] if isinstance(row[6], dict) else json.loads(row[6])
    return {"members": row[0], "purchases": row[1], "guest purchases": row[2], "returns": row[3],
            "redemptions": row[4], "accounts in debt": row[5], "entries by kind": kinds, "outstanding": row[7]}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--purchases", type=int, default=10_000_000)
    parser.add_argument("--verify", choices=("sample", "full", "none"), default="sample")
    args = parser.parse_args()

    url = os.environ.get("DATABASE_URL", DEFAULT_URL)
    if url.rsplit("/", 1)[1].split("?")[0] in ("loyalty", "loyalty_main") or "/test_" in url:
        raise SystemExit(f"{url} looks like a working or test database; seed a database of its own")
    quiet_django(url)
    print(f"load before: {loadavg()}", flush=True)
    began = time.perf_counter()
    database_recreate(url)
    migrated = time.perf_counter() - began
    print(f"database made and migrated in {migrated:.1f}s", flush=True)

    import django

    django.setup()
    now = datetime.now(UTC)
    setup = program_load(now)
    load(members=args.members, purchases=args.purchases, setup=setup, now=now)
    vacuumed = vacuum()
    print(f"  vacuum and analyze: {vacuumed:.1f}s (load {loadavg()})", flush=True)
    total = time.perf_counter() - began
    print(f"seeded in {total:.1f}s, {total / 60:.1f} minutes (load {loadavg()})", flush=True)
    print(json.dumps(counts(), indent=1, default=str))
    for name, rows, size in sizes():
        print(f"  {name:32} {rows:>12,} rows {size / 2**20:>10,.0f} MB")
    if args.verify != "none":
        verdict, seconds, ok = verify(args.verify)
        print(f"ledger_verify_report ({args.verify}): {verdict} in {seconds:.1f}s", flush=True)
        if not ok:
            raise SystemExit(1)
    print(f"machine: {machine()}")


if __name__ == "__main__":
    main()

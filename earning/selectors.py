"""Reads for earning: the rules that apply, and what capped rules already gave."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time

from django.db import connection
from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from loyalty.rows import prep, rows_exist, statement_cursor

from .models import EarningRule, Event, Purchase, Return, RuleAward
from .rules import program_timezone


def cap_period_bounds(*, program, period: str, at: datetime) -> tuple[datetime, datetime]:
    """The calendar day, month or year (in the program's zone) that contains ``at``."""
    zone = program_timezone(program)
    local = at.astimezone(zone).date()
    if period == EarningRule.CapPeriod.DAY:
        start, end = local, date.fromordinal(local.toordinal() + 1)
    elif period == EarningRule.CapPeriod.MONTH:
        start = local.replace(day=1)
        end = date(local.year + (local.month == 12), local.month % 12 + 1, 1)
    else:
        start, end = date(local.year, 1, 1), date(local.year + 1, 1, 1)
    return datetime.combine(start, time(0), zone), datetime.combine(end, time(0), zone)


def rule_points_awarded(*, program, rule: EarningRule, member, at: datetime) -> int:
    """What ``rule`` already gave ``member`` in the cap period that contains ``at``."""
    start, end = cap_period_bounds(program=program, period=rule.cap_period, at=at)
    # The cursor, not an aggregate queryset: every purchase runs this once per capped rule, and compiling the
    # queryset cost more than the query (the index rule_award_cap_sum_idx answers it alone).
    with statement_cursor() as cursor:
        cursor.execute("SELECT COALESCE(SUM(points), 0) FROM earning_ruleaward WHERE rule_id = %s AND member_id = %s "
                       "AND occurred_at >= %s AND occurred_at < %s",
                       [prep(RuleAward, "rule", rule.pk), prep(RuleAward, "member", getattr(member, "pk", member)),
                        prep(RuleAward, "occurred_at", start), prep(RuleAward, "occurred_at", end)])
        return int(cursor.fetchone()[0])


def member_has_purchased(*, member) -> bool:
    return rows_exist(Purchase, '"member_id" = %s', [prep(Purchase, "member", member.pk)])



def member_purchased_earlier(*, member, than: datetime) -> bool:
    """Whether the member has a purchase dated before ``than``: "first purchase" for a purchase of that date
    (a claimed one)."""
    return Purchase.objects.filter(member=member, occurred_at__lt=than).exists()


def referral_bonus_granted(*, referee) -> bool:
    return RuleAward.objects.filter(member=referee, source_type="referral", source_id=str(referee.pk)).exists()


def purchases_recorded(*, program, keys) -> set[tuple]:
    """Which of ``keys`` — ``(store id, external id)`` pairs — name a purchase the program recorded already."""
    keys = set(keys)
    if not keys:
        return set()
    stores = {store_id for store_id, _ in keys}
    external_ids = {external_id for _, external_id in keys}
    found = Purchase.objects.filter(program=program, store_id__in=stores, external_id__in=external_ids)
    return set(found.values_list("store_id", "external_id")) & keys

def member_purchased_before(*, member, before: datetime) -> bool:
    """Whether the member had a purchase recorded before ``before``: "first purchase" as it was then."""
    return Purchase.objects.filter(member=member, created_at__lt=before).exists()


def rule_points_awarded_before(*, program, rule: EarningRule, member, at: datetime, before: datetime,
                               exclude_source: str = "") -> int:
    """What ``rule`` had given ``member`` in the cap period containing ``at``, counting the awards recorded by
    ``before`` (other than ``exclude_source``'s): what its cap per member saw then. A member's purchases are
    earned one at a time, so an award of a later one is always recorded after ``before``."""
    start, end = cap_period_bounds(program=program, period=rule.cap_period, at=at)
    awards = RuleAward.objects.filter(rule=rule, member=member, occurred_at__gte=start, occurred_at__lt=end,
                                      created_at__lte=before).exclude(source_id=exclude_source)
    return awards.aggregate(total=Sum("points"))["total"] or 0


def member_purchases_recent(*, member, limit: int = 10) -> list[Purchase]:
    """The member's latest purchases with their store and returns (``purchase_member_recent_idx``)."""
    return list(Purchase.objects.filter(member=member).select_related("store").prefetch_related("returns")
                .order_by("-occurred_at", "-id")[:limit])


def purchases_daily(*, program_id, start_at, end_at, zone) -> list[tuple]:
    """``[(local date, store id, purchases, by members, sales, sales to members, returned)]`` of the purchases
    made (``occurred_at``) from ``start_at`` up to ``end_at``, by store."""
    member = Q(member__isnull=False)
    return list(
        Purchase.objects.filter(program_id=program_id, occurred_at__gte=start_at, occurred_at__lt=end_at)
        .annotate(day=TruncDate("occurred_at", tzinfo=zone)).order_by().values("day", "store_id")
        .annotate(purchases=Count("id"), member_purchases=Count("id", filter=member), sales=Sum("total"),
                  member_sales=Sum("total", filter=member), returned=Sum("returned_total"))
        .values_list("day", "store_id", "purchases", "member_purchases", "sales", "member_sales", "returned"))


def member_purchase_get(*, member, purchase_id) -> Purchase | None:
    """One of ``member``'s own purchases by id, with its store; another member's is None."""
    try:
        purchase_id = uuid.UUID(str(purchase_id))
    except ValueError:
        return None
    return Purchase.objects.filter(member=member, pk=purchase_id).select_related("store").first()


def program_rewards_birthdays(*, program) -> bool:
    """Whether the program pays anything on a member's birthday: a birthday bonus, or a rule with a birthday
    condition, active and not over. Then a member's birth date is worth points, and they may set it only once."""
    now = timezone.now()
    return (EarningRule.objects.filter(program=program, active=True)
            .filter(Q(applies_to=EarningRule.AppliesTo.BIRTHDAY) | Q(conditions__contains=[{"kind": "birthday"}]))
            .filter(Q(valid_until__isnull=True) | Q(valid_until__gt=now)).exists())


# --- a member's own data (the portal's "Download my data") -------------------------------------

def member_purchases_export(*, member):
    """The member's purchases, oldest first, as dicts (a lazy queryset: iterate it with ``.iterator()``)."""
    return (Purchase.objects.filter(member=member).order_by("occurred_at", "id")
            .values("id", "external_id", "store__name", "occurred_at", "currency", "total", "returned_total",
                    "points_awarded", "points_reversed", "lines", "claimed_at"))


def member_returns_export(*, member):
    """Returns of the member's purchases, oldest first, as dicts (a lazy queryset)."""
    return (Return.objects.filter(purchase__member=member).order_by("created_at", "id")
            .values("id", "purchase_id", "external_id", "store__name", "amount", "points_reversed", "created_at"))


def member_events_export(*, member):
    """The member's activity other than purchases (events posted by the program), oldest first (a lazy queryset)."""
    return (Event.objects.filter(member=member).order_by("occurred_at", "id")
            .values("id", "type", "quantity", "attributes", "occurred_at", "points_awarded", "store__name"))


# --- read by analytics: behaviour ---

def purchase_mix_daily(*, program_id, start_at, end_at, zone, base_tier_id, gap_edges) -> list[tuple]:
    """``[(local date, tier id, gap bucket, purchases, sales)]`` of members' purchases made from ``start_at`` up to
    ``end_at``, by the tier the member holds now (``base_tier_id`` for a member without a tier row yet) and by the
    local days since their previous purchase: bucket 0 for a first purchase, else ``1 + width_bucket(days,
    gap_edges)``. A member's previous purchase may lie before ``start_at``: it is looked up by the member's index,
    only for their first purchase in the range."""
    zone_name = str(zone)
    sql = """
        WITH made AS (
            SELECT p.member_id, p.occurred_at, p.total,
                   lag(p.occurred_at) OVER (PARTITION BY p.member_id ORDER BY p.occurred_at, p.id) AS before
              FROM earning_purchase p
             WHERE p.program_id = %s AND p.occurred_at >= %s AND p.occurred_at < %s AND p.member_id IS NOT NULL
        ), gaps AS (
            SELECT made.member_id, made.occurred_at, made.total,
                   coalesce(made.before, (SELECT max(q.occurred_at) FROM earning_purchase q
                                           WHERE q.member_id = made.member_id AND q.occurred_at < %s)) AS previous
              FROM made
        )
        SELECT (g.occurred_at AT TIME ZONE %s)::date AS day,
               CASE WHEN mt.member_id IS NULL THEN %s ELSE mt.tier_id END AS tier_id,
               CASE WHEN g.previous IS NULL THEN 0
                    ELSE 1 + width_bucket((g.occurred_at AT TIME ZONE %s)::date
                                          - (g.previous AT TIME ZONE %s)::date, %s::int[]) END AS gap,
               count(*), sum(g.total)
          FROM gaps g LEFT JOIN tiers_membertier mt ON mt.member_id = g.member_id
         GROUP BY 1, 2, 3"""
    with connection.cursor() as cursor:
        cursor.execute(sql, [program_id, start_at, end_at, start_at, zone_name, base_tier_id, zone_name, zone_name,
                             list(gap_edges)])
        return cursor.fetchall()


def member_months(*, program_id, start_at, end_at, months_start_at, months_end_at, zone) -> list[tuple]:
    """``[(member id, local month, local month of enrolment, purchases, sales, last local date)]``: each member who
    purchased from ``start_at`` up to ``end_at``, their purchases in each local month from ``months_start_at`` up to
    ``months_end_at`` (the months around the range, whole)."""
    zone_name = str(zone)
    sql = """
        SELECT p.member_id, date_trunc('month', p.occurred_at AT TIME ZONE %s)::date,
               date_trunc('month', m.enrolled_at AT TIME ZONE %s)::date,
               count(*), sum(p.total), max((p.occurred_at AT TIME ZONE %s)::date)
          FROM earning_purchase p JOIN members_member m ON m.id = p.member_id
         WHERE p.program_id = %s AND p.occurred_at >= %s AND p.occurred_at < %s
           AND p.member_id IN (SELECT r.member_id FROM earning_purchase r
                                WHERE r.program_id = %s AND r.occurred_at >= %s AND r.occurred_at < %s
                                  AND r.member_id IS NOT NULL)
         GROUP BY 1, 2, 3"""
    with connection.cursor() as cursor:
        cursor.execute(sql, [zone_name, zone_name, zone_name, program_id, months_start_at, months_end_at,
                             program_id, start_at, end_at])
        return cursor.fetchall()


def first_purchase_at(*, program_id):
    """When the program's earliest purchase was made (``None``: it has none); an imported purchase may be older
    than any ledger entry."""
    return Purchase.objects.filter(program_id=program_id).order_by("occurred_at").values_list(
        "occurred_at", flat=True).first()
# --- read by analytics: simulator ---

def purchase_rules_for_replay(*, program) -> list[EarningRule]:
    """Every purchase rule of the program, switched on or off, in the order the rule engine runs them."""
    return list(EarningRule.objects.filter(program=program, applies_to=EarningRule.AppliesTo.PURCHASE)
                .order_by("priority", "code"))


# Per member, in the order their points were decided: when the receipt was recorded, or claimed. "First purchase"
# as the earn saw it: no other purchase of the member decided before it (for a claim: dated before it), that is
# the member's earliest of all their purchases, read once per member rather than probed per purchase.
_REPLAY_SQL = """
SELECT id, member_id, store_id, total, returned_total, lines, occurred_at, decided_at, points_awarded,
       points_reversed,
       CASE WHEN claimed_at IS NULL THEN decided_at = first_decided ELSE occurred_at = first_occurred END
FROM (SELECT p.id, p.member_id, p.store_id, p.total, p.returned_total, p.lines, p.occurred_at, p.claimed_at,
             p.points_awarded, p.points_reversed, COALESCE(p.claimed_at, p.created_at) AS decided_at,
             MIN(COALESCE(p.claimed_at, p.created_at)) OVER member AS first_decided,
             MIN(p.occurred_at) OVER member AS first_occurred
      FROM earning_purchase p
      WHERE p.program_id = %s AND p.member_id >= %s AND p.member_id <= %s
      WINDOW member AS (PARTITION BY p.member_id)) p
WHERE occurred_at >= %s AND occurred_at < %s
ORDER BY member_id, decided_at, id
"""


def purchases_for_replay(*, program_id, first_member, last_member, start_at, end_at) -> list[tuple]:
    """The purchases made (``occurred_at``) from ``start_at`` up to ``end_at`` by the members whose ids run from
    ``first_member`` to ``last_member`` (both included), per member in the order they were earned:
    ``[(id, member id, store id, total, returned total, lines, occurred at, decided at, points awarded,
    points reversed, first purchase)]``. One range scan of ``purchase_member_recent_idx``."""
    with statement_cursor() as cursor:
        cursor.execute(_REPLAY_SQL, [prep(Purchase, "program", program_id), prep(Purchase, "member", first_member),
                                     prep(Purchase, "member", last_member), prep(Purchase, "occurred_at", start_at),
                                     prep(Purchase, "occurred_at", end_at)])
        rows = cursor.fetchall()
    lines = Purchase._meta.get_field("lines")  # the driver hands JSON over as text, as the ORM reads it
    return [(*row[:5], lines.from_db_value(row[5], None, None), *row[6:]) for row in rows]


def rule_awards_for_replay(*, rule_ids, first_member, last_member, since, until) -> list[tuple]:
    """``[(rule id, member id, occurred at, points)]`` of what the rules gave those members from ``since`` up to
    ``until``: what their caps per member had counted before a replay's first day."""
    if not rule_ids:
        return []
    return list(RuleAward.objects.filter(rule_id__in=list(rule_ids), member_id__gte=first_member,
                                         member_id__lte=last_member, occurred_at__gte=since, occurred_at__lt=until)
                .values_list("rule_id", "member_id", "occurred_at", "points"))
# --- read by analytics: at risk ---

def purchase_members_between(*, program_id, start_at, end_at) -> set:
    """The ids of the members whose purchases changed from ``start_at`` up to ``end_at``: they bought then,
    claimed a receipt then, or returned something then."""
    bought = Purchase.objects.filter(program_id=program_id, occurred_at__gte=start_at, occurred_at__lt=end_at,
                                     member__isnull=False).values_list("member_id")
    claimed = Purchase.objects.filter(program_id=program_id, claimed_at__gte=start_at, claimed_at__lt=end_at,
                                      member__isnull=False).values_list("member_id")
    returned = Return.objects.filter(program_id=program_id, created_at__gte=start_at, created_at__lt=end_at,
                                     purchase__member__isnull=False).values_list("purchase__member_id")
    return {member_id for (member_id,) in bought.union(claimed, returned)}


def member_purchase_stats(*, program_id, zone, member_ids=None, id_range: tuple | None = None) -> list[tuple]:
    """``[(member id, purchases, first local date, last local date, gap 1, gap 2, gap 3, own usual gap, net
    spend)]`` of the members among ``member_ids`` who bought: gap *n* is the days from purchase *n* to the next
    (``None`` until there is one); the own usual gap is the 90th percentile of all their gaps (the smallest gap
    that at least 90 % of them do not exceed), once they have four purchases or more. The members are
    ``member_ids``, or those with ids in ``id_range`` (``(after, up to)``, ``after`` None for the first): one
    grouped read over their purchases by the member index."""
    sql = f"""
        WITH bought AS (
            SELECT member_id, (occurred_at AT TIME ZONE %(zone)s)::date AS day, total - returned_total AS net,
                   row_number() OVER visits AS n
              FROM {Purchase._meta.db_table}
             WHERE program_id = %(program)s AND {_members_condition(member_ids, id_range)}
            WINDOW visits AS (PARTITION BY member_id ORDER BY occurred_at, id)
        ), gaps AS (
            SELECT member_id, day, net, n, day - lag(day) OVER (PARTITION BY member_id ORDER BY n) AS gap
              FROM bought
        )
        SELECT member_id, count(*), min(day), max(day),
               max(gap) FILTER (WHERE n = 2), max(gap) FILTER (WHERE n = 3), max(gap) FILTER (WHERE n = 4),
               CASE WHEN count(*) >= 4 THEN percentile_disc(0.9) WITHIN GROUP (ORDER BY gap) END,
               sum(net)
          FROM gaps GROUP BY member_id"""  # noqa: S608 - the only interpolation is the model's own table name
    with connection.cursor() as cursor:
        cursor.execute(sql, {"zone": str(zone), "program": program_id, "members": list(member_ids or ()),
                             "after": (id_range or (None, None))[0], "upto": (id_range or (None, None))[1]})
        return cursor.fetchall()


def _members_condition(member_ids, id_range) -> str:
    if id_range is None:
        return "member_id = ANY(%(members)s)"
    return "member_id <= %(upto)s" + (" AND member_id > %(after)s" if id_range[0] is not None else "")

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

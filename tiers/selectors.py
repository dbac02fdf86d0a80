"""Reads about tiers: a member's tier (cheap, for every member object and earn) and their progress."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone

from loyalty.rows import prep, rows_select_one

from .counting import CONFIG, status_tier_id, tier_in, window_units
from .models import MemberTier, QualifyingActivity, Tier, TierChange, TierPolicy
from .qualification import Window, units_to_value

CACHE_ATTRIBUTE = "current_tier"


def member_tier_get(*, member, fresh: bool = False) -> Tier | None:
    """The member's tier: their status row's, else the program's lowest tier with threshold 0.

    The answer is kept on the instance as ``member.current_tier``; the tier services
    update it there when they change it, and ``fresh=True`` reads the database again.

    Without ``fresh``, the tier is taken from the program's memoised ladder (``tiers.counting``,
    at most PROGRAM_CONFIG_CACHE_SECONDS old, like the earning rules): one query of the status
    row's tier id, none when the status row was read with the member (``select_related
    ("tier_status")``). A tier the memo does not know yet is read from the database.
    """
    if not fresh:
        if CACHE_ATTRIBUTE in member.__dict__:
            return member.__dict__[CACHE_ATTRIBUTE]
        if type(member).tier_status.is_cached(member):
            status = type(member).tier_status.related.get_cached_value(member)
            if status is not None and MemberTier.tier.is_cached(status):  # read with ``tier_status__tier``
                setattr(member, CACHE_ATTRIBUTE, status.tier)
                return status.tier
            found, tier_id = status is not None, getattr(status, "tier_id", None)
        else:
            found, tier_id = status_tier_id(member_id=member.pk)
        known, tier = _tier_of_status(member, found, tier_id)
        if known:
            return tier
    status = MemberTier.objects.filter(member=member).select_related("tier").only("tier").first()
    if status is not None:
        tier = status.tier
    else:
        tier = Tier.objects.filter(program_id=member.program_id, threshold=0).order_by("rank").first()
    setattr(member, CACHE_ATTRIBUTE, tier)
    return tier


def _tier_of_status(member, found: bool, tier_id) -> tuple[bool, Tier | None]:
    """(whether the memoised ladder knows it, the tier) for a status row that exists or not with ``tier_id``;
    a known tier is kept on ``member``."""
    ladder = CONFIG.get(member.program_id)[1]
    tier = tier_in(ladder, tier_id) if found else ladder.base
    if tier is None and tier_id is not None:
        return False, None
    setattr(member, CACHE_ATTRIBUTE, tier)
    return True, tier


def tier_list(*, program) -> QuerySet[Tier]:
    return Tier.objects.filter(program=program).order_by("rank")


def tier_history_list(*, member) -> QuerySet[TierChange]:
    return (TierChange.objects.filter(member=member).select_related("from_tier", "to_tier")
            .order_by("-created_at", "-id"))


@dataclass(frozen=True)
class TierProgress:
    tier: Tier | None
    next_tier: Tier | None
    metric: str
    qualifying_value: Decimal
    window_start: datetime
    needed_for_next: Decimal | None  # how much more reaches the next tier (None: at the top)
    needed_to_keep: Decimal  # how much more this window keeps the current tier (0: already kept)
    keep_by: datetime | None  # when not keeping it would cost the tier (None: the policy never downgrades)
    locked_until: datetime | None
    window_closes: datetime | None = None  # a calendar year's end, when the value counted now starts again


def member_tier_progress(*, member, now: datetime | None = None) -> TierProgress:
    """How far the member is from the next tier and what they need to keep theirs."""
    now = now or timezone.now()
    # The policy and ladder as earning reads them (``tiers.counting.CONFIG``, at most
    # PROGRAM_CONFIG_CACHE_SECONDS old); the member's own rows fresh: three statements with the member's.
    policy, ladder = CONFIG.get(member.program_id)
    window = Window.of(policy, now)
    units = window_units(member_id=member.pk, metric=policy.metric, since=window.start)
    status = rows_select_one(MemberTier, '"tiers_membertier"."member_id" = %s', [prep(MemberTier, "member", member.pk)])
    known, tier = _tier_of_status(member, status is not None, status.tier_id if status is not None else None)
    if not known:  # a tier newer than the memo
        tier = member_tier_get(member=member, fresh=True)
    rank = ladder.rank_of(tier.pk if tier else None)
    next_tier = ladder.next_above(rank)
    value = units_to_value(units, ladder.scale)

    needed_for_next = None
    if next_tier is not None:
        needed_for_next = max(Decimal(0), units_to_value(ladder.threshold_units(next_tier) - units, ladder.scale))
    keep_units = ladder.threshold_units(tier) if tier is not None else 0
    needed_to_keep = max(Decimal(0), units_to_value(keep_units - units, ladder.scale))

    keep_by = None
    locked_until = status.locked_until if status is not None and status.locked_until and status.locked_until > now \
        else None
    if status is not None and keep_units > 0:
        if policy.downgrade == TierPolicy.Downgrade.END_OF_WINDOW:
            keep_by = status.valid_until
        elif policy.downgrade == TierPolicy.Downgrade.STEPWISE:
            keep_by = (status.below_since or now) + timedelta(days=policy.grace_days)
        if locked_until is not None and keep_by is not None:
            keep_by = max(keep_by, locked_until)
    return TierProgress(tier=tier, next_tier=next_tier, metric=policy.metric, qualifying_value=value,
                        window_start=window.start, needed_for_next=needed_for_next, needed_to_keep=needed_to_keep,
                        keep_by=keep_by, locked_until=locked_until,
                        window_closes=_year_end(window) if policy.window == TierPolicy.Window.CALENDAR_YEAR else None)


def _year_end(window: Window) -> datetime:
    return window.start.replace(year=window.start.year + 1)


def member_tier_names(*, program_id, member_ids) -> dict:
    """``{member_id: tier name}`` for a batch of members (one query, and one for the base tier); a member
    without a status row is at the program's lowest tier with threshold 0, as ``member_tier_get`` says."""
    names = dict(MemberTier.objects.filter(member_id__in=list(member_ids)).values_list("member_id", "tier__name"))
    base = Tier.objects.filter(program_id=program_id, threshold=0).order_by("rank").values_list("name", flat=True)
    base_name = next(iter(base[:1]), None)
    return {member_id: names.get(member_id, base_name) for member_id in member_ids}

def member_tier_at(*, member, at: datetime) -> Tier | None:
    """The tier the member held just before ``at``, from their tier history (the tier now if it never changed)."""
    changes = TierChange.objects.filter(member=member).select_related("from_tier", "to_tier")
    before = changes.filter(created_at__lt=at).order_by("-created_at", "-id").first()
    if before is not None:
        return before.to_tier
    after = changes.filter(created_at__gte=at).order_by("created_at", "id").first()
    if after is not None:
        return after.from_tier
    return member_tier_get(member=member)


def qualifying_activity_list(*, member, since: datetime, limit: int = 200) -> list[QualifyingActivity]:
    """The member's activity counted in a window that starts at ``since``, newest first (``limit`` rows at most)."""
    return list(QualifyingActivity.objects.filter(member=member, occurred_at__gte=since)
                .order_by("-occurred_at", "-id")[:limit])


def qualifying_activity_before(*, member, until: datetime, limit: int = 10) -> list[QualifyingActivity]:
    """The member's most recent activity from before ``until``: what no longer counts."""
    return list(QualifyingActivity.objects.filter(member=member, occurred_at__lt=until)
                .order_by("-occurred_at", "-id")[:limit])


def member_tier_history_export(*, member):
    """The member's tier changes, oldest first, as dicts (a lazy queryset)."""
    return (TierChange.objects.filter(member=member).order_by("created_at", "id")
            .values("created_at", "from_tier__name", "to_tier__name", "cause", "reason", "qualifying_value"))


# --- read by analytics: behaviour ---

def tier_base_id(*, program_id) -> int | None:
    """The tier a member holds before any change (the lowest with no threshold), or None."""
    return Tier.objects.filter(program_id=program_id, threshold=0).order_by("rank").values_list("id", flat=True) \
        .first()


def tier_flows_monthly(*, program_id, start_at, end_at, zone) -> list[tuple]:
    """``[(local month, tier id or None, entered, left, upgrades, downgrades)]`` of the tier changes made from
    ``start_at`` up to ``end_at``: members who entered each tier (from a lower one: an upgrade; from a higher one:
    a downgrade; no tier ranks below every tier) and who left it."""
    sql = """
        WITH moved AS (
            SELECT date_trunc('month', c.created_at AT TIME ZONE %s)::date AS month, c.from_tier_id, c.to_tier_id,
                   coalesce(f.rank, -1) AS from_rank, coalesce(t.rank, -1) AS to_rank
              FROM tiers_tierchange c
              LEFT JOIN tiers_tier f ON f.id = c.from_tier_id
              LEFT JOIN tiers_tier t ON t.id = c.to_tier_id
             WHERE c.program_id = %s AND c.created_at >= %s AND c.created_at < %s
               AND c.from_tier_id IS DISTINCT FROM c.to_tier_id
        )
        SELECT month, tier_id, sum(entered), sum(left_), sum(up), sum(down) FROM (
            SELECT month, to_tier_id AS tier_id, 1 AS entered, 0 AS left_, (to_rank > from_rank)::int AS up,
                   (to_rank < from_rank)::int AS down FROM moved
            UNION ALL
            SELECT month, from_tier_id, 0, 1, 0, 0 FROM moved
        ) flows GROUP BY 1, 2"""
    with connection.cursor() as cursor:
        cursor.execute(sql, [str(zone), program_id, start_at, end_at])
        return cursor.fetchall()
# --- read by analytics: simulator ---

def tier_policy_ladder(*, program_id):
    """The program's tier policy and ladder as they are now (read fresh, not from the memo)."""
    from .counting import policy_and_ladder  # here, not at the top: this section is appended by its readers

    return policy_and_ladder(program_id)


def tier_changes_for_members(*, program_id, first_member, last_member) -> list[tuple]:
    """``[(member id, from tier id, to tier id, created at)]`` of the members whose ids run from ``first_member``
    to ``last_member``, per member oldest first: where each stood at any moment (``member_tier_at`` in bulk)."""
    return list(TierChange.objects.filter(program_id=program_id, member_id__gte=first_member,
                                          member_id__lte=last_member)
                .order_by("member_id", "created_at", "id")
                .values_list("member_id", "from_tier_id", "to_tier_id", "created_at"))


def qualifying_for_members(*, program_id, first_member, last_member, metric: str, since: datetime,
                           until: datetime) -> list[tuple]:
    """``[(member id, occurred at, units)]`` of the members whose ids run from ``first_member`` to ``last_member``,
    per member oldest first: their qualifying activity that occurred from ``since`` until before ``until``, in the
    metric's units (by the member index)."""
    from .counting import METRIC_SQL

    sql = ("SELECT qa.member_id, qa.occurred_at, " + METRIC_SQL[metric].format(t="qa") + " "
           "FROM tiers_qualifyingactivity qa WHERE qa.member_id >= %(first)s AND qa.member_id <= %(last)s "
           "AND qa.occurred_at >= %(since)s AND qa.occurred_at < %(until)s AND qa.program_id = %(program)s "
           "ORDER BY qa.member_id, qa.occurred_at, qa.id")
    params = {"first": prep(QualifyingActivity, "member", first_member),
              "last": prep(QualifyingActivity, "member", last_member), "since": since, "until": until,
              "program": prep(QualifyingActivity, "program", program_id)}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [(member_id, occurred_at, int(units)) for member_id, occurred_at, units in cursor.fetchall()]


# ``{units}``: the metric's fixed fragment (``tiers.counting.METRIC_SQL``); every value is a parameter.
_STANDINGS_SQL = (
    "SELECT status.member_id, status.tier_id, COALESCE(status.locked_until > %(now)s, FALSE), "
    "COALESCE(activity.units, 0), activity.previous_units "
    "FROM tiers_membertier status LEFT JOIN ("
    "  SELECT qa.member_id, SUM(CASE WHEN qa.occurred_at >= %(since)s THEN {units} ELSE 0 END) AS units, "
    "  CASE WHEN %(has_previous)s THEN SUM(CASE WHEN qa.occurred_at < %(since)s THEN {units} ELSE 0 END) END "
    "   AS previous_units "
    "  FROM tiers_qualifyingactivity qa WHERE qa.member_id >= %(first)s AND qa.member_id <= %(last)s "
    "  AND qa.occurred_at >= %(lower)s GROUP BY qa.member_id) activity ON activity.member_id = status.member_id "
    "WHERE status.program_id = %(program)s AND status.member_id >= %(first)s AND status.member_id <= %(last)s "
    "ORDER BY status.member_id")


def tier_standings(*, program_id, first_member, last_member, metric: str, since: datetime,
                   previous_start: datetime | None, now: datetime) -> list[tuple]:
    """``[(member id, tier id, locked, units, previous units)]`` of the members with a status row whose ids run
    from ``first_member`` to ``last_member``: their tier, whether a staff lock holds it, and their qualifying
    units in the window from ``since`` (and, for a calendar year, in the year before from ``previous_start``;
    else None), summed as the recalculation sums them."""
    from django.db import connection

    from .counting import METRIC_SQL

    sql = _STANDINGS_SQL.format(units=METRIC_SQL[metric].format(t="qa"))
    lower = previous_start or since
    params = {"now": now, "since": since, "lower": lower, "has_previous": previous_start is not None,
              "first": prep(MemberTier, "member", first_member), "last": prep(MemberTier, "member", last_member),
              "program": prep(MemberTier, "program", program_id)}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [(member_id, tier_id, locked, int(units), None if previous is None else int(previous))
                for member_id, tier_id, locked, units, previous in cursor.fetchall()]

"""The member page (member 360), as the members area and other staff areas render it (a form with errors shown
again in place).

Everything on it is read with a fixed number of queries, whatever the member's history: the account and its
open lots, the tier with the ladder and the policy, one page of the statement (``statement.py``), the latest
purchases with their returns, the latest redemptions. The side column (``_actions.html``) gathers its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.shortcuts import render
from django.utils import timezone

from analytics.health import member_health_get
from earning.selectors import member_purchases_recent
from ledger.models import PointsAccount
from ledger.selectors import account_open_lots
from members.services import member_is_anonymised
from rewards.selectors import member_redemptions_recent
from tiers.models import Tier, TierPolicy
from tiers.selectors import member_tier_progress, tier_history_list, tier_list
from tiers.services import tier_policy_for

from .statement import member_statement

EXPIRY_SOON_DAYS = 90
SHOWN_DATES = 6


@dataclass(frozen=True)
class Amount:
    """Points falling due on one day: released from pending, or expiring."""

    day: date
    points: int
    soon: bool = False
    due: bool = False  # the day has passed: it happens at the account's next movement or the next run


@dataclass(frozen=True)
class Rung:
    """One tier of the ladder seen from where the member stands."""

    tier: Tier
    reached: bool
    current: bool
    to_go: Decimal


def program_zone(program) -> ZoneInfo:
    return program.zone


def member_account(member) -> PointsAccount | None:
    try:
        return member.account
    except PointsAccount.DoesNotExist:
        return None


def _by_day(lots, moment, zone: ZoneInfo, now) -> list[Amount]:
    days: dict[date, int] = {}
    for lot in lots:
        day = getattr(lot, moment).astimezone(zone).date()
        days[day] = days.get(day, 0) + lot.remaining
    today = now.astimezone(zone).date()
    soon = today + timedelta(days=EXPIRY_SOON_DAYS)
    return [Amount(day=day, points=points, soon=day <= soon, due=day < today) for day, points in sorted(days.items())]


def balance_context(member, account, zone: ZoneInfo) -> dict:
    """Available and pending with the days pending points release, and the days points expire."""
    lots = account_open_lots(account=account) if account is not None else []
    now = timezone.now()
    pending = _by_day([lot for lot in lots if not lot.released], "available_at", zone, now)
    expiring = _by_day([lot for lot in lots if lot.released and lot.expires_at], "expires_at", zone, now)
    return {
        "available": account.spendable if account else 0,
        "pending": account.pending if account else 0,
        "debt": account.debt if account else 0,
        "pending_days": pending[:SHOWN_DATES], "pending_more": max(0, len(pending) - SHOWN_DATES),
        "expiring_days": expiring[:SHOWN_DATES], "expiring_more": max(0, len(expiring) - SHOWN_DATES),
        "expiring_soon": sum(a.points for a in expiring if a.soon),
        "never_expiring": sum(lot.remaining for lot in lots if lot.released and not lot.expires_at),
        "expiry_soon_days": EXPIRY_SOON_DAYS,
    }


def metric_unit(policy: TierPolicy, program) -> str:
    return {TierPolicy.Metric.POINTS: "points earned", TierPolicy.Metric.SPEND: f"{program.currency} spent",
            TierPolicy.Metric.CREDITS: "qualifying credits"}[policy.metric]


def window_text(policy: TierPolicy) -> str:
    if policy.window == TierPolicy.Window.CALENDAR_YEAR:
        return "this calendar year"
    return f"the last {policy.window_months} months"


def tier_context(member) -> dict:
    """Where the member stands: the ladder against the window's figure, what keeps the tier, what reaches the
    next, and the latest changes with their causes."""
    program = member.program
    progress = member_tier_progress(member=member)
    policy = tier_policy_for(program=program)
    current_rank = progress.tier.rank if progress.tier is not None else None
    ladder = [Rung(tier=tier, reached=progress.qualifying_value >= tier.threshold,
                   current=tier.rank == current_rank,
                   to_go=max(Decimal(0), tier.threshold - progress.qualifying_value))
              for tier in tier_list(program=program)]
    history = list(tier_history_list(member=member)[:5])
    return {"progress": progress, "policy": policy, "ladder": ladder, "tier_history": history,
            "tier_why": _tier_why(progress, history[0] if history else None),
            "metric_unit": metric_unit(policy, program), "window_text": window_text(policy),
            "last_change": history[0] if history else None}


def _tier_why(progress, last_change) -> str:
    """Why the member is in their tier, in one sentence: a lock, else the last change with its cause."""
    if progress.locked_until:
        return (f"Set by hand and locked until {timezone.localtime(progress.locked_until):%-d %b %Y}: "
                "recalculations leave it alone until then.")
    if last_change is not None:
        reason = last_change.reason.strip().rstrip(".")
        return (f"{last_change.get_cause_display()} on {timezone.localtime(last_change.created_at):%-d %b %Y}"
                + (f": {reason}." if reason else "."))
    if progress.tier is not None:
        return "In the entry tier, which every member starts in."
    return "The program has no tiers."


def page_number(request) -> int:
    try:
        return int(request.GET.get("page", "1"))
    except (TypeError, ValueError):
        return 1


def member_page_context(request, member) -> dict:
    """Everything ``staff/members/detail.html`` shows about one member."""
    zone = program_zone(member.program)
    account = member_account(member)
    return {
        "member": member,
        "anonymised": member_is_anonymised(member),
        "card_groups": [member.card_number[i:i + 4] for i in range(0, len(member.card_number), 4)],
        **balance_context(member, account, zone),
        **tier_context(member),
        "statement": member_statement(member=member, account=account, page=page_number(request)),
        "purchases": member_purchases_recent(member=member),
        "redemptions": member_redemptions_recent(member=member),
        "health": member_health_get(program=member.program, member_id=member.pk),
        "zone": zone,
    }


def render_member_page(request, member, *, status: int = 200, **extra):
    """The member page, with ``extra`` context (e.g. ``adjust_form`` holding a form with its errors).

    Times read in the program's own time zone, as its staff and members live them.
    """
    with timezone.override(program_zone(member.program)):
        return render(request, "staff/members/detail.html",
                      {**member_page_context(request, member), **extra}, status=status)

"""Every write about tiers: definitions, qualifying activity, upgrades, manual tiers, recalculation."""

from __future__ import annotations

import math
import uuid
from datetime import datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from loyalty.edits import changes_apply, record_check
from loyalty.errors import DomainError
from loyalty.events import announce
from loyalty.transactions import service_atomic
from programs.models import Program

from .counting import CONFIG, activity_count, policy_and_ladder, tier_in, window_units
from .events import tier_changed_payload
from .models import MemberTier, Tier, TierChange, TierPolicy
from .qualification import Ladder, Standing, Window, decide, units_to_value
from .recalculation import (
    DOWNGRADE_REASON,
    RAISE_REASON,
    SYSTEM_ACTOR,
    ProgramRecalculation,
    RecalculationResult,
    member_id_ranges,
)

BATCH_MEMBERS = 50_000


def tier_policy_for(*, program) -> TierPolicy:
    """The program's policy; a program that never set one qualifies on points over 12 months, no downgrades."""
    policy = TierPolicy.objects.filter(program=program).first()
    return policy if policy is not None else TierPolicy(program=program)


@transaction.atomic
def tier_policy_set(*, program, metric: str = TierPolicy.Metric.POINTS,
                    window: str = TierPolicy.Window.ROLLING_MONTHS, window_months: int = 12,
                    downgrade: str = TierPolicy.Downgrade.NEVER, grace_days: int = 30) -> TierPolicy:
    policy, _ = TierPolicy.objects.update_or_create(program=program, defaults={
        "metric": metric, "window": window, "window_months": window_months, "downgrade": downgrade,
        "grace_days": grace_days})
    policy.full_clean()
    return policy


@transaction.atomic
def tier_define(*, program, code: str, name: str, rank: int, threshold: Decimal | int,
                multiplier: Decimal | str = Decimal(1), benefits: str = "", perks: list | None = None) -> Tier:
    """Create or update the program's tier ``code``."""
    if Tier.objects.filter(program=program, rank=rank).exclude(code=code).exists():
        raise DomainError.invalid("rank", f"Another tier of this program already has rank {rank}.")
    tier, _ = Tier.objects.update_or_create(program=program, code=code, defaults={
        "name": name, "rank": rank, "threshold": Decimal(threshold), "multiplier": Decimal(multiplier),
        "benefits": benefits, "perks": list(perks or [])})
    tier.full_clean(validate_unique=False)
    return tier


TIER_FIELDS = frozenset({"name", "rank", "threshold", "multiplier", "benefits", "perks"})


def _ladder_errors(tier: Tier) -> dict[str, list[str]]:
    """Where ``tier`` would break its program's ladder: ranks are unique, and a higher rank needs more to reach."""
    others = Tier.objects.filter(program_id=tier.program_id).exclude(pk=tier.pk)
    errors: dict[str, list[str]] = {}
    if tier.rank is not None and (same := others.filter(rank=tier.rank).first()) is not None:
        errors["rank"] = [f"{same.name} already has rank {tier.rank}; each tier needs its own."]
        return errors
    if tier.rank is None or tier.threshold is None:
        return errors
    threshold = Decimal(tier.threshold)
    below = others.filter(rank__lt=tier.rank).order_by("-rank").first()
    above = others.filter(rank__gt=tier.rank).order_by("rank").first()
    if below is not None and threshold <= below.threshold:
        errors["threshold"] = [f"A higher tier must need more than the one below: above {below.name}'s "
                               f"{below.threshold.normalize():f}."]
    elif above is not None and threshold >= above.threshold:
        errors["threshold"] = [f"A lower tier must need less than the one above: below {above.name}'s "
                               f"{above.threshold.normalize():f}."]
    return errors


def _ladder_lock(*, program_id) -> None:
    """One ladder edit at a time per program, so two edits cannot each pass the order check alone.

    NO KEY UPDATE: the rows that reference the program (members, purchases) go on being written meanwhile.
    """
    list(Program.objects.select_for_update(no_key=True).filter(pk=program_id).values_list("pk", flat=True))


def _tier_save(tier: Tier) -> Tier:
    record_check(tier, _ladder_errors(tier))
    tier.save()
    return tier


@transaction.atomic
def tier_create(*, program, code: str, name: str, rank: int, threshold: Decimal | int,
                multiplier: Decimal | str = Decimal(1), benefits: str = "", perks: list | None = None) -> Tier:
    """Add a tier to the program's ladder; a code in use, a rank taken or a threshold out of order is refused.

    Unlike ``tier_define`` (which creates or updates, for seeding) a code already in use is an error.
    """
    _ladder_lock(program_id=program.pk)
    if Tier.objects.filter(program=program, code=code).exists():
        raise ValidationError({"code": [f"This program already has a tier {code}."]})
    tier = Tier(program=program, code=code, name=name, rank=rank, threshold=threshold,
                multiplier=Decimal(multiplier), benefits=benefits, perks=list(perks or []))
    return _tier_save(tier)


@transaction.atomic
def tier_update(*, tier: Tier, **changes) -> Tier:
    """Change a tier (``TIER_FIELDS``; the code stays, as the POS and webhooks name tiers by it).

    A change that would put the ladder out of order raises ``ValidationError`` and changes nothing.
    Members move at their next activity or the nightly recalculation, under the program's policy.
    """
    _ladder_lock(program_id=tier.program_id)
    tier = Tier.objects.select_for_update(no_key=True).get(pk=tier.pk)
    changes_apply(tier, changes, allowed=TIER_FIELDS, what="tier")
    return _tier_save(tier)


def _locked_status(*, member, ladder: Ladder, now: datetime) -> MemberTier:
    """The member's status row with its tier, created at the base tier if missing, locked for this transaction.

    One query when the row exists (the usual case): the row is locked and read with its tier (the tier
    row itself is not locked)."""
    status = _locked_status_row(member=member)
    if status is None:
        status, _ = MemberTier.objects.get_or_create(member=member, defaults={
            "program_id": member.program_id, "tier": ladder.base, "achieved_at": now})
        status = _locked_status_row(member=member)
    return status


def _locked_status_row(*, member) -> MemberTier | None:
    return MemberTier.objects.select_for_update(of=("self",)).select_related("tier").filter(member=member).first()


def _window_units(*, member, policy: TierPolicy, window: Window) -> tuple[int, int | None]:
    units = window_units(member_id=member.pk, metric=policy.metric, since=window.start)
    if window.previous_start is None:
        return units, None
    return units, window_units(member_id=member.pk, metric=policy.metric, since=window.previous_start,
                               until=window.start)


def _record_change(*, status: MemberTier, from_tier: Tier | None, cause: str, reason: str, actor: str,
                   now: datetime) -> TierChange:
    change = TierChange.objects.create(
        program_id=status.program_id, member_id=status.member_id, from_tier=from_tier, to_tier=status.tier,
        cause=cause, reason=reason, actor=actor, qualifying_value=status.qualifying_value, created_at=now)
    announce(program=status.program_id, type="tier.changed", member=status.member, key=str(change.pk),
                         payload=tier_changed_payload(cause=cause, from_tier=from_tier, to_tier=status.tier))
    return change


@service_atomic
def tier_activity_record(*, member, occurred_at: datetime, points: int, spend: Decimal, credits: int = 0,
                         source_type: str, source_id: str, actor: str) -> MemberTier:
    """Count one earn (or, negative, one return) towards tiers; upgrade at once if a threshold is reached.

    Never downgrades: a return lowers the qualifying value, and what that does to
    the tier is left to the program's downgrade policy at the next recalculation.

    Usually one statement (``tiers.counting``): the activity, the new qualifying value, and the
    member's tier and lock read back. Only a member without a status row, a status row changed
    concurrently, or a suggested upgrade takes the heavier path under the row lock.
    """
    now = timezone.now()
    policy, ladder = CONFIG.get(member.program_id)
    counted = activity_count(
        program_id=member.program_id, member_id=member.pk, metric=policy.metric, scale=ladder.scale,
        since=Window.of(policy, now).start, now=now, occurred_at=occurred_at, points=points, spend=spend,
        credits=credits, source_type=source_type, source_id=source_id, actor=actor)
    if counted is not None:
        tier = tier_in(ladder, counted.tier_id)
        known = tier is not None or counted.tier_id is None  # else a tier newer than the memo: settle
        if known and (counted.locked or ladder.earned_rank(counted.units) <= ladder.rank_of(counted.tier_id)):
            status = MemberTier.from_db(connection.alias, _COUNTED_FIELDS, (
                member.pk, member.program_id, counted.tier_id, units_to_value(counted.units, ladder.scale), now))
            status.tier = tier
            member.current_tier = tier
            return status
    return _activity_settle(member=member, now=now, source_type=source_type, source_id=source_id, actor=actor)


# What the one-statement path knows of the status row; the rest loads on first access.
_COUNTED_FIELDS = ("member_id", "program_id", "tier_id", "qualifying_value", "updated_at")


def _activity_settle(*, member, now: datetime, source_type: str, source_id: str, actor: str) -> MemberTier:
    """The member's value and tier from fresh rows, under the status row lock (the activity is recorded)."""
    policy, ladder = policy_and_ladder(member.program_id)
    status = _locked_status(member=member, ladder=ladder, now=now)
    window = Window.of(policy, now)
    units, _ = _window_units(member=member, policy=policy, window=window)
    reached = ladder.earned_rank(units)
    locked = status.locked_until is not None and status.locked_until > now
    status.qualifying_value = units_to_value(units, ladder.scale)
    fields = ["qualifying_value", "updated_at"]
    if not locked and reached > ladder.rank_of(status.tier_id):
        previous = status.tier
        status.tier, status.achieved_at, status.valid_until, status.below_since = (
            ladder.tier_at(reached), now, window.term_end, None)
        fields += ["tier", "achieved_at", "valid_until", "below_since"]
        status.save(update_fields=fields)
        _record_change(status=status, from_tier=previous, cause=TierChange.Cause.UPGRADE,
                       reason=f"Reached {status.tier.threshold.normalize():f} with {source_type} {source_id}.",
                       actor=actor, now=now)
    else:
        status.save(update_fields=fields)
    member.current_tier = status.tier
    return status


@transaction.atomic
def tier_assign(*, member, tier: Tier, reason: str, actor: str, locked_until: datetime | None = None) -> MemberTier:
    """Staff set a member's tier; with ``locked_until`` no recalculation changes it before then."""
    reason = (reason or "").strip()
    if not reason:
        raise DomainError.invalid("reason", "Say why the tier is set by hand.")
    if tier.program_id != member.program_id:
        raise DomainError.invalid("tier", "This tier belongs to another program.")
    now = timezone.now()
    if locked_until is not None and locked_until <= now:
        raise DomainError.invalid("locked_until", "A lock must end in the future.")
    policy = tier_policy_for(program=member.program)
    ladder = Ladder.of(member.program_id, policy)
    window = Window.of(policy, now)
    status = _locked_status(member=member, ladder=ladder, now=now)
    previous = status.tier
    status.tier, status.achieved_at, status.below_since, status.locked_until = tier, now, None, locked_until
    status.valid_until = max(window.term_end, locked_until) if locked_until else window.term_end
    status.save()
    _record_change(status=status, from_tier=previous, cause=TierChange.Cause.MANUAL, reason=reason, actor=actor,
                   now=now)
    member.current_tier = tier
    return status


@transaction.atomic
def tier_recalculate_member(*, member, now: datetime | None = None, actor: str = SYSTEM_ACTOR) -> MemberTier | None:
    """Recompute one member's standing now (the per-member twin of ``tier_recalculate_program``).

    A member without a status row has no qualifying activity and stays where
    they are (at the base tier).
    """
    now = now or timezone.now()
    status = MemberTier.objects.select_for_update().filter(member=member).first()
    if status is None:
        return None
    policy = tier_policy_for(program=member.program)
    ladder = Ladder.of(member.program_id, policy)
    window = Window.of(policy, now)
    units, previous_units = _window_units(member=member, policy=policy, window=window)
    decision = decide(
        ladder=ladder, policy=policy, window=window, units=units, previous_units=previous_units,
        standing=Standing(rank=ladder.rank_of(status.tier_id), achieved_at=status.achieved_at,
                          valid_until=status.valid_until, below_since=status.below_since,
                          locked_until=status.locked_until))
    previous = status.tier
    status.qualifying_value = units_to_value(units, ladder.scale)
    status.achieved_at, status.valid_until, status.below_since = (
        decision.achieved_at, decision.valid_until, decision.below_since)
    if decision.changed:
        status.tier = ladder.tier_at(decision.rank)
    status.save()
    if decision.changed:
        reason = DOWNGRADE_REASON.get(policy.downgrade, "") if decision.cause == "downgrade" else RAISE_REASON
        _record_change(status=status, from_tier=previous, cause=decision.cause, reason=reason, actor=actor, now=now)
    member.current_tier = status.tier
    return status


def tier_recalculate_program(*, program, now: datetime | None = None,
                             batch_members: int = BATCH_MEMBERS) -> RecalculationResult:
    """Recompute every member of the program, set-based, one transaction per batch of member ids.

    Safe to run twice or concurrently: a batch locks its rows, and a second run
    finds nothing left to change.
    """
    now = now or timezone.now()
    policy = tier_policy_for(program=program)
    ladder = Ladder.of(program.pk, policy)
    result = RecalculationResult()
    if not ladder.tiers:
        return result
    members = MemberTier.objects.filter(program=program).count()
    recalculation = ProgramRecalculation(program=program, policy=policy, ladder=ladder, window=Window.of(policy, now))
    run_id = uuid.uuid4()
    for low, high in member_id_ranges(max(1, math.ceil(members / batch_members))):
        with transaction.atomic():
            recalculation.run_batch(run_id, low, high, result)
    return result


import uuid

from django.db.models import Count, F, Max, Q, Sum, Value
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from loyalty.batches import member_batch
from loyalty.errors import DomainError
from loyalty.rows import prep, rows_select_one

from .models import Cause, Donation, Redemption, Reward, RewardCategory
from .services import (
    VOUCHER_ALPHABET,
    VOUCHER_LENGTH,
    period_start,
    redemption_undo_until,
    reward_refusal,
    voucher_code_normalize,
)


def reward_list(*, program, category: RewardCategory | None = None):
    rewards = Reward.objects.filter(program=program, is_active=True)
    if category is not None:
        rewards = rewards.filter(categories=category)
    return rewards.select_related("min_tier").order_by("points_cost", "code")


def reward_category_list(*, program) -> list[RewardCategory]:
    """The program's categories that hold at least one active reward, in their order."""
    return list(RewardCategory.objects.filter(program=program, rewards__is_active=True).distinct()
                .order_by("position", "name"))


def reward_get_by_code(*, program, code: str) -> Reward:
    # Every redemption starts here: one statement through ``loyalty.rows`` (the unique (program, code) index).
    reward = rows_select_one(
        Reward, '"rewards_reward"."program_id" = %s AND "rewards_reward"."code" = %s AND "rewards_reward"."is_active"',
        [prep(Reward, "program", program.pk), code.strip().upper()], related=("min_tier",))
    if reward is None:
        raise DomainError("reward_not_found", "No active reward with this code.", title="Reward not found")
    return reward


def reward_eligibility(*, rewards, member) -> dict:
    """For each reward, ``(redeemable, reason code or None)`` for ``member`` now — two queries in all."""
    now = timezone.now()
    limited = [r for r in rewards if r.limit_per_member is not None]
    taken: dict = {}
    if limited:
        # One aggregate with a filtered count per reward's own period.
        aggregates = {
            str(r.pk): Count("pk", filter=Q(reward=r) & (
                Q(issued_at__gte=period_start(r.limit_period, now)) if period_start(r.limit_period, now) else Q()))
            for r in limited
        }
        counts = Redemption.objects.filter(member=member, reward__in=limited).exclude(
            status=Redemption.Status.CANCELLED).aggregate(**aggregates)
        taken = {r.pk: counts[str(r.pk)] for r in limited}
    spendable = member.account.spendable
    result = {}
    for reward in rewards:
        refusal = reward_refusal(reward=reward, member=member, now=now,
                                 points=reward.points_min or 1 if reward.is_pay_with_points else reward.points_cost,
                                 spendable=spendable, taken_in_period=taken.get(reward.pk))
        result[reward.pk] = (refusal is None, refusal.code if refusal else None)
    return result


def redemption_get(*, program, redemption_id) -> Redemption:
    import uuid

    try:
        redemption_id = uuid.UUID(str(redemption_id))
    except ValueError:
        redemption_id = None
    redemption = Redemption.objects.select_related("reward", "member").filter(
        program=program, pk=redemption_id).first() if redemption_id else None
    if redemption is None:
        raise DomainError("redemption_not_found", "No redemption with this id.", title="Redemption not found")
    return redemption


def voucher_get(*, program, code: str) -> Redemption:
    code = voucher_code_normalize(code)
    well_formed = len(code) == VOUCHER_LENGTH and all(ch in VOUCHER_ALPHABET for ch in code)
    # One statement through ``loyalty.rows`` (the unique (program, voucher_code) index): tills call this for
    # every voucher shown or used, and compiling the queryset cost more than the query.
    redemption = rows_select_one(
        Redemption, '"rewards_redemption"."program_id" = %s AND "rewards_redemption"."voucher_code" = %s',
        [prep(Redemption, "program", program.pk), code], related=("reward", "member")) if well_formed else None
    if redemption is None:
        raise DomainError("voucher_not_found", "No voucher with this code.", title="Voucher not found")
    return redemption


def donation_totals(*, program, member=None) -> list[dict]:
    """Points given to each cause (donation reward), for the whole program or one member."""
    donations = Redemption.objects.filter(program=program, reward__type=Reward.Type.DONATION).exclude(
        status=Redemption.Status.CANCELLED)
    if member is not None:
        donations = donations.filter(member=member)
    return list(donations.values("reward__code", "reward__name").annotate(points=Sum("points_spent"),
                                                                          donations=Count("pk"))
                .order_by("-points"))


def member_redemptions_recent(*, member, limit: int = 10) -> list[Redemption]:
    """The member's latest redemptions, whatever became of their vouchers, with the reward."""
    return list(Redemption.objects.filter(member=member).select_related("reward", "used_store")
                .order_by("-issued_at", "-id")[:limit])


def member_vouchers_usable(*, member, now=None, limit: int = 50) -> list[Redemption]:
    """The member's vouchers a till would take now (issued, not past their date), soonest to expire first."""
    now = now or timezone.now()
    return list(Redemption.objects.filter(member=member, status=Redemption.Status.ISSUED)
                .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now)).select_related("reward")
                .order_by(F("expires_at").asc(nulls_last=True), "-issued_at", "-id")[:limit])


def member_vouchers_past(*, member, now=None, offset: int = 0, limit: int = 20) -> list[Redemption]:
    """The member's vouchers no longer usable (used, cancelled, expired or past their date), newest first."""
    now = now or timezone.now()
    return list(Redemption.objects.filter(member=member)
                .exclude(Q(status=Redemption.Status.ISSUED) & (Q(expires_at__isnull=True) | Q(expires_at__gt=now)))
                .select_related("reward").order_by("-issued_at", "-id")[offset:offset + limit])


def redemption_undoable_until(*, redemption: Redemption, minutes: int, now=None):
    """Until when the member may still undo ``redemption`` (``services.redemption_undo`` decides), or ``None``
    when it cannot be undone now: used, cancelled, past its date, or the program's window of ``minutes`` over."""
    now = now or timezone.now()
    if redemption.status != Redemption.Status.ISSUED or (redemption.expires_at and redemption.expires_at <= now):
        return None
    until = redemption_undo_until(redemption, minutes=minutes)
    return until if now < until else None


def cause_list(*, program, member=None) -> list[Cause]:
    """The program's active causes, each with ``points_total`` (given by every member) and, with ``member``,
    ``points_mine`` (given by them): one grouped query."""
    causes = Cause.objects.filter(program=program, active=True).annotate(
        points_total=Coalesce(Sum("donations__points"), Value(0)),
        points_mine=Coalesce(Sum("donations__points", filter=Q(donations__member=member)), Value(0))
        if member is not None else Value(0),
    ).order_by("name")
    return list(causes)


def cause_get(*, program, code: str, member=None) -> Cause:
    """An active cause of ``program`` by its code, with its totals as ``cause_list`` gives them."""
    code = (code or "").strip().upper()
    well_formed = code.isprintable() and len(code) <= 32  # PostgreSQL refuses NUL in text: junk is a plain miss
    found = list(Cause.objects.filter(program=program, active=True, code=code)[:1]) if well_formed else []
    if not found:
        raise DomainError("cause_not_found", "No active cause with this code.", title="Cause not found")
    totals = Donation.objects.filter(cause=found[0]).aggregate(
        total=Coalesce(Sum("points"), Value(0)),
        mine=Coalesce(Sum("points", filter=Q(member=member)), Value(0)) if member is not None else Value(0))
    found[0].points_total, found[0].points_mine = totals["total"], totals["mine"]
    return found[0]


def donation_get(*, member, donation_id) -> Donation | None:
    """One of ``member``'s own donations by id (another member's is None), with its cause."""
    try:
        donation_id = uuid.UUID(str(donation_id))
    except ValueError:
        return None
    return Donation.objects.filter(member=member, pk=donation_id).select_related("cause").first()


def member_redemptions_export(*, member):
    """Every reward the member redeemed with its voucher, oldest first, as dicts (a lazy queryset)."""
    return (Redemption.objects.filter(member=member).order_by("issued_at", "id")
            .values("id", "reward__code", "reward__name", "points_spent", "discount_amount", "voucher_code",
                    "status", "issued_at", "expires_at", "used_at", "store__name", "used_store__name"))


def member_vouchers_unused_count(*, member) -> int:
    """How many of the member's vouchers are issued and not used, cancelled or expired."""
    return Redemption.objects.filter(member=member, status=Redemption.Status.ISSUED).count()


# --- read by analytics: behaviour ---

def redemptions_daily(*, program_id, start_at, end_at, zone) -> list[tuple]:
    """``[(local date, reward id, redemptions, cancelled since, points spent net of the cancelled)]`` of the
    redemptions issued from ``start_at`` up to ``end_at``."""
    kept = ~Q(status=Redemption.Status.CANCELLED)
    return list(
        Redemption.objects.filter(program_id=program_id, issued_at__gte=start_at, issued_at__lt=end_at)
        .annotate(day=TruncDate("issued_at", tzinfo=zone)).order_by().values("day", "reward_id")
        .annotate(redemptions=Count("id"), cancelled=Count("id", filter=~kept),
                  points=Coalesce(Sum("points_spent", filter=kept), Value(0)))
        .values_list("day", "reward_id", "redemptions", "cancelled", "points"))


def reward_names(*, program_id, reward_ids) -> dict:
    """``{reward id: name}`` of the program's rewards among ``reward_ids``."""
    return dict(Reward.objects.filter(program_id=program_id, pk__in=list(reward_ids)).values_list("id", "name"))
# --- read by analytics: simulator ---

def rewards_with_fixed_cost(*, program) -> list[Reward]:
    """The program's rewards that cost a fixed number of points (pay-with-points rewards cost what the member
    chooses), cheapest first."""
    return list(Reward.objects.filter(program=program).exclude(type=Reward.Type.PAY_WITH_POINTS)
                .order_by("points_cost", "name"))


def redemptions_by_reward(*, program_id, start_at, end_at) -> list[tuple]:
    """``[(reward id, redemptions, points spent)]`` of the redemptions issued from ``start_at`` up to ``end_at``
    and not cancelled (a cancelled one gave its points back)."""
    return list(Redemption.objects.filter(program_id=program_id, issued_at__gte=start_at, issued_at__lt=end_at)
                .exclude(status=Redemption.Status.CANCELLED).order_by().values("reward_id")
                .annotate(redemptions=Count("id"), points=Sum("points_spent"))
                .values_list("reward_id", "redemptions", "points"))
# --- read by analytics: at risk ---

def redemption_members_between(*, program_id, start_at, end_at) -> set:
    """The ids of the members who redeemed a reward from ``start_at`` up to ``end_at``."""
    return set(Redemption.objects.filter(program_id=program_id, issued_at__gte=start_at, issued_at__lt=end_at)
               .order_by().values_list("member_id", flat=True).distinct())


def member_redemption_stats(*, program_id, zone, member_ids=None, id_range: tuple | None = None) -> list[tuple]:
    """``[(member id, redemptions, local date of the last)]`` of the members who redeemed among ``member_ids``, or
    with ids in ``id_range`` (``(after, up to)``, ``after`` None for the first) (cancelled redemptions count: the
    member came for a reward)."""
    redemptions = Redemption.objects.filter(member_batch(member_ids, id_range), program_id=program_id)
    return list(redemptions.order_by()
                .values("member_id").annotate(redemptions=Count("id"),
                                              last=Max(TruncDate("issued_at", tzinfo=zone)))
                .values_list("member_id", "redemptions", "last"))

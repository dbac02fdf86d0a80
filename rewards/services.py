"""Redeeming rewards: checks in the contract's order, points through the ledger, stock and voucher."""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime, timedelta
from decimal import ROUND_FLOOR, Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.text import slugify

from ledger.services import account_lock, points_refund, points_spend
from loyalty.edits import changes_apply, record_check
from loyalty.errors import DomainError
from loyalty.events import announce
from loyalty.rows import locked_row_suffix, prep, row_insert, row_update, rows_select_one
from loyalty.transactions import service_atomic
from tiers.selectors import member_tier_get

from .models import Cause, Donation, Redemption, RedemptionStatusChange, Reward, RewardCategory

VOUCHER_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # 32 symbols, none easily confused
VOUCHER_LENGTH = 10  # 50 bits


def voucher_code_generate() -> str:
    return "".join(secrets.choice(VOUCHER_ALPHABET) for _ in range(VOUCHER_LENGTH))


def voucher_code_normalize(code: str) -> str:
    """Codes are read aloud and typed: ignore case, spaces and dashes."""
    return "".join(ch for ch in code.upper() if ch not in " -")


def period_start(period: str, now: datetime) -> datetime | None:
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return {
        Reward.Period.DAY: day,
        Reward.Period.WEEK: day - timedelta(days=day.weekday()),
        Reward.Period.MONTH: day.replace(day=1),
        Reward.Period.YEAR: day.replace(month=1, day=1),
        Reward.Period.EVER: None,
    }[period]


def period_end(period: str, now: datetime) -> datetime | None:
    """When the limit period holding ``now`` ends (the next one starts); ``None`` for a limit in total."""
    start = period_start(period, now)
    if start is None:
        return None
    if period == Reward.Period.DAY:
        return start + timedelta(days=1)
    if period == Reward.Period.WEEK:
        return start + timedelta(days=7)
    if period == Reward.Period.MONTH:
        return (start + timedelta(days=32)).replace(day=1)
    return start.replace(year=start.year + 1)


def _member_tier_rank(member) -> int | None:
    tier = member_tier_get(member=member)
    return tier.rank if tier is not None else None


def redemptions_in_period(*, member, reward, now: datetime) -> int:
    since = period_start(reward.limit_period, now)
    taken = Redemption.objects.filter(member=member, reward=reward).exclude(status=Redemption.Status.CANCELLED)
    if since is not None:
        taken = taken.filter(issued_at__gte=since)
    return taken.count()


def reward_refusal(*, reward: Reward, member, now: datetime, points: int, spendable: int,
                   taken_in_period: int | None = None) -> DomainError | None:
    """The first reason, in the contract's order, why ``member`` cannot redeem ``reward`` now."""
    if not reward.is_active:
        return DomainError("reward_not_found", "No active reward with this code.", title="Reward not found")
    if member.is_suspended:
        return DomainError("member_suspended", "This member is suspended and cannot earn or redeem points.",
                           title="Member suspended")
    if reward.min_tier_id is not None:
        rank = _member_tier_rank(member)
        if rank is None or rank < reward.min_tier.rank:
            return DomainError("tier_required", f"This reward needs tier {reward.min_tier.name} or above.",
                               title="Tier required")
    if (reward.available_from and now < reward.available_from) or (
            reward.available_until and now >= reward.available_until):
        return DomainError("reward_not_available", "This reward cannot be redeemed at this time.",
                           title="Reward not available")
    if reward.limit_per_member is not None:
        if taken_in_period is None:
            taken_in_period = redemptions_in_period(member=member, reward=reward, now=now)
        if taken_in_period >= reward.limit_per_member:
            return DomainError("limit_reached",
                               f"This reward can be redeemed {reward.limit_per_member} time(s) "
                               f"{reward.get_limit_period_display()} per member.", title="Limit reached")
    if reward.stock_remaining is not None and reward.stock_remaining <= 0:
        return DomainError("out_of_stock", "This reward is out of stock.", title="Out of stock")
    if spendable < points:
        return DomainError("insufficient_points", f"Reward costs {points} points; {max(spendable, 0)} available.",
                           title="Insufficient points")
    return None


def redemption_points(*, reward: Reward, points: int | None) -> int:
    """What this redemption costs: the reward's price, or the member's chosen amount for pay-with-points."""
    if not reward.is_pay_with_points:
        if points is not None:
            raise DomainError.invalid("points", "Only pay-with-points rewards take a points amount.")
        return reward.points_cost
    if points is None:
        raise DomainError.invalid("points", "Say how many points to pay with.")
    low, high, step = reward.points_min or 1, reward.points_max, reward.points_step or 1
    if points < low or (high is not None and points > high) or (points - low) % step:
        bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise DomainError.invalid("points", f"Pay {bounds} points, in steps of {step}.")
    return points


def _log(redemption: Redemption, from_status: str, actor: str, now: datetime, reason: str = "") -> None:
    row_insert(RedemptionStatusChange(redemption=redemption, from_status=from_status, to_status=redemption.status,
                                      actor=actor, reason=reason, created_at=now))


@service_atomic
def reward_redeem(*, member, reward: Reward, store=None, actor: str, points: int | None = None,
                  redemption_id: uuid.UUID | None = None) -> Redemption:
    """``redemption_id`` lets a caller name the redemption before asking (a form's one-time id), so it can tell
    a second submit of the same form from a new redemption."""
    cost = redemption_points(reward=reward, points=points)
    now = timezone.now()
    account = account_lock(member=member)  # serialises this member's redemptions (limits, balance)
    if refusal := reward_refusal(reward=reward, member=member, now=now, points=cost, spendable=account.spendable):
        raise refusal
    if reward.stock_remaining is not None:
        # Conditional decrement: concurrent redeemers queue on the row; none takes the last unit twice.
        taken = Reward.objects.filter(pk=reward.pk, stock_remaining__gt=0).update(
            stock_remaining=F("stock_remaining") - 1)
        if not taken:
            raise DomainError("out_of_stock", "This reward is out of stock.", title="Out of stock")

    redemption = Redemption(
        program_id=reward.program_id, reward=reward, member=member, store=store, points_spent=cost,
        issued_at=now, actor=actor,
        expires_at=now + timedelta(days=reward.voucher_valid_days) if reward.voucher_valid_days else None,
    )
    if redemption_id is not None:
        redemption.id = redemption_id
    if reward.is_pay_with_points:
        redemption.discount_amount = (Decimal(cost) * reward.money_per_point).quantize(Decimal("0.01"),
                                                                                       rounding=ROUND_FLOOR)
    redemption.spend_transaction = points_spend(
        member=member, points=cost, idempotency_key=f"redemption:{redemption.pk}", source_type="redemption",
        source_id=str(redemption.pk), actor=actor, description=f"Redeemed {reward.name}", locked=account,
    )
    if reward.is_donation:
        # Nothing to hand over at a till: the donation is complete when the points are given.
        redemption.status, redemption.used_at = Redemption.Status.USED, now
    for _ in range(8):
        redemption.voucher_code = voucher_code_generate()
        if row_insert(redemption, unless_exists=("program", "voucher_code")):  # a taken code: draw again
            break
    else:  # pragma: no cover - 2^50 codes
        raise RuntimeError("could not allocate a voucher code")
    _log(redemption, "", actor, now)
    announce(program=redemption.program_id, type="reward.redeemed", member=member, key=str(redemption.pk),
                         payload={"redemption_id": redemption.pk, "reward": {"code": reward.code, "name": reward.name},
                                  "points": cost, "voucher_code": redemption.voucher_code,
                                  "donation": reward.is_donation, "expires_at": redemption.expires_at,
                                  "store": store.code if store else None})
    return redemption


def _not_usable(redemption: Redemption) -> DomainError:
    if redemption.status == Redemption.Status.USED:
        return DomainError("voucher_already_used", "This voucher has already been used.",
                           title="Voucher already used")
    return DomainError("voucher_not_usable", f"This voucher is {redemption.status}.", title="Voucher not usable")


def _lock(redemption: Redemption) -> Redemption:
    """The redemption read again with its row locked (its reward and member with it), as it is now."""
    return rows_select_one(Redemption, '"rewards_redemption"."id" = %s', [prep(Redemption, "id", redemption.pk)],
                           suffix=locked_row_suffix(Redemption), related=("reward", "member"))


@transaction.atomic
def voucher_use(*, redemption: Redemption, store=None, actor: str) -> Redemption:
    redemption = _lock(redemption)
    now = timezone.now()
    if redemption.status == Redemption.Status.ISSUED and redemption.expires_at and redemption.expires_at <= now:
        raise DomainError("voucher_not_usable", "This voucher has expired.", title="Voucher not usable")
    if redemption.status != Redemption.Status.ISSUED:
        raise _not_usable(redemption)
    redemption.status, redemption.used_at, redemption.used_store = Redemption.Status.USED, now, store
    row_update(Redemption, redemption.pk, status=redemption.status, used_at=now, used_store=redemption.used_store_id)
    _log(redemption, Redemption.Status.ISSUED, actor, now)
    announce(program=redemption.program_id, type="voucher.used", member=redemption.member,
                         key=str(redemption.pk), payload={
                             "redemption_id": redemption.pk, "reward": {"code": redemption.reward.code,
                                                                        "name": redemption.reward.name},
                             "voucher_code": redemption.voucher_code, "used_at": now,
                             "store": store.code if store else None})
    return redemption


def _give_back(redemption: Redemption, *, new_status: str, actor: str, reason: str, refund: bool) -> Redemption:
    now = timezone.now()
    if refund:
        redemption.refund_transaction = points_refund(
            spend=redemption.spend_transaction, idempotency_key=f"refund:redemption:{redemption.pk}", actor=actor,
            source_type="redemption", source_id=str(redemption.pk),
            description=f"Refund: {redemption.reward.name} ({new_status})",
        )
    if redemption.reward.stock_remaining is not None:
        Reward.objects.filter(pk=redemption.reward_id).update(stock_remaining=F("stock_remaining") + 1)
    redemption.status = new_status
    redemption.save(update_fields=["status", "refund_transaction"])
    _log(redemption, Redemption.Status.ISSUED, actor, now, reason)
    return redemption


@transaction.atomic
def redemption_cancel(*, redemption: Redemption, actor: str, reason: str = "") -> Redemption:
    """Undo an unused redemption: points back (kind ``refund``), stock back."""
    redemption = _lock(redemption)
    if redemption.status != Redemption.Status.ISSUED:
        raise _not_usable(redemption)
    if redemption.expires_at and redemption.expires_at <= timezone.now():
        raise DomainError("voucher_not_usable", "This voucher has expired.", title="Voucher not usable")
    return _give_back(redemption, new_status=Redemption.Status.CANCELLED, actor=actor, reason=reason, refund=True)


def redemption_undo_until(redemption: Redemption, *, minutes: int) -> datetime:
    """Until when (not included) the member may undo ``redemption``, given the program's undo window."""
    return redemption.issued_at + timedelta(minutes=minutes)


@transaction.atomic
def redemption_undo(*, redemption: Redemption, member, now: datetime | None = None) -> Redemption:
    """The member takes back a redemption they made moments ago: their own, unused, within the program's
    ``redemption_undo_minutes``. Points and stock come back as when staff cancel it (kind ``refund``).

    The row is locked first, so an undo racing the till's use of the voucher sees what the other did: one
    of them wins, the other is refused. Undoing twice refuses the second (the voucher is cancelled).
    """
    now = now or timezone.now()
    redemption = _lock(redemption)
    if redemption.member_id != member.pk:  # another member's voucher: as if there were none
        raise DomainError("voucher_not_found", "No voucher with this code.", title="Voucher not found")
    if redemption.status != Redemption.Status.ISSUED:
        raise _not_usable(redemption)
    if redemption.expires_at and redemption.expires_at <= now:
        raise DomainError("voucher_not_usable", "This voucher has expired.", title="Voucher not usable")
    minutes = redemption.program.redemption_undo_minutes
    if now >= redemption_undo_until(redemption, minutes=minutes):
        raise DomainError("undo_window_closed",
                          f"A redemption can be undone within {minutes} minutes of being made.",
                          status=409, title="Too late to undo")
    actor = f"user:{member.user_id}" if member.user_id else f"member:{member.pk}"
    return _give_back(redemption, new_status=Redemption.Status.CANCELLED, actor=actor,
                      reason="undone by the member", refund=True)


@transaction.atomic
def voucher_expire(*, redemption: Redemption, now: datetime | None = None,
                   actor: str = "system:voucher-expiry") -> bool:
    redemption = _lock(redemption)
    now = now or timezone.now()
    if redemption.status != Redemption.Status.ISSUED or not redemption.expires_at or redemption.expires_at > now:
        return False
    _give_back(redemption, new_status=Redemption.Status.EXPIRED, actor=actor, reason="validity ended",
               refund=redemption.reward.refund_on_expiry)
    return True


def vouchers_expire_due(*, now: datetime | None = None, batch_size: int = 500) -> int:
    """Expire every issued voucher past its date (each in its own short transaction; safe to rerun)."""
    now = now or timezone.now()
    expired = 0
    while True:
        due = list(Redemption.objects.filter(status=Redemption.Status.ISSUED, expires_at__lte=now)
                   .order_by("expires_at", "pk").values_list("pk", flat=True)[:batch_size])
        if not due:
            return expired
        for pk in due:
            expired += voucher_expire(redemption=Redemption(pk=pk), now=now)
        if len(due) < batch_size:
            return expired


# ---------------------------------------------------------------------------------------- the catalogue

REWARD_FIELDS = frozenset({
    "name", "description", "image", "type", "points_cost", "discount_value", "points_min", "points_max",
    "points_step", "money_per_point", "is_active", "available_from", "available_until", "stock_remaining",
    "limit_per_member", "limit_period", "min_tier", "voucher_valid_days", "refund_on_expiry"})
_DISCOUNTS = (Reward.Type.PERCENT_DISCOUNT, Reward.Type.FIXED_DISCOUNT)


def _reward_errors(reward: Reward, categories) -> dict[str, list[str]]:
    """What makes this reward one a member could not sensibly redeem, field by field."""
    errors: dict[str, list[str]] = {}
    if reward.is_pay_with_points:
        for field in ("points_min", "points_max", "points_step", "money_per_point"):
            if getattr(reward, field) is None:
                errors[field] = ["Pay-with-points rewards need this."]
        if reward.points_min is not None and reward.points_max is not None and reward.points_max < reward.points_min:
            errors["points_max"] = ["The most points must be at least the fewest."]
        if reward.money_per_point is not None and reward.money_per_point <= 0:
            errors["money_per_point"] = ["A point must be worth something."]
    elif not reward.points_cost:
        errors["points_cost"] = ["A reward costs at least 1 point."]
    if reward.type in _DISCOUNTS:
        if reward.discount_value is None or reward.discount_value <= 0:
            errors["discount_value"] = ["Say how much the discount is."]
        elif reward.type == Reward.Type.PERCENT_DISCOUNT and reward.discount_value > 100:
            errors["discount_value"] = ["A percentage discount is at most 100."]
    if reward.available_from and reward.available_until and reward.available_until <= reward.available_from:
        errors["available_until"] = ["The end of the window must come after its start."]
    if reward.limit_per_member == 0:
        errors["limit_per_member"] = ["Leave it empty for no limit; 0 would let nobody redeem it."]
    if reward.voucher_valid_days == 0:
        errors["voucher_valid_days"] = ["Leave it empty for vouchers that never expire."]
    if reward.min_tier is not None and reward.min_tier.program_id != reward.program_id:
        errors["min_tier"] = ["This tier belongs to another program."]
    if categories is not None and any(c.program_id != reward.program_id for c in categories):
        errors["categories"] = ["A category belongs to another program."]
    return errors


def _reward_save(reward: Reward, categories, old_image: str = "") -> Reward:
    record_check(reward, _reward_errors(reward, categories), exclude=["categories"])
    reward.save()
    if categories is not None:
        reward.categories.set(categories)
    if old_image and old_image != reward.image.name:
        storage = reward.image.storage
        transaction.on_commit(lambda: storage.delete(old_image))
    return reward


@transaction.atomic
def reward_create(*, program, code: str, name: str, categories=None, **fields) -> Reward:
    """Add a reward to the program's catalogue; invalid configuration raises ``ValidationError`` per field."""
    code = (code or "").strip().upper()
    if Reward.objects.filter(program=program, code=code).exists():
        raise ValidationError({"code": [f"This program already has a reward {code}."]})
    reward = Reward(program=program, code=code, name=name)
    changes_apply(reward, fields, allowed=REWARD_FIELDS, what="reward")
    return _reward_save(reward, list(categories) if categories is not None else None)


@transaction.atomic
def reward_update(*, reward: Reward, categories=None, **changes) -> Reward:
    """Change some of a reward's fields (``REWARD_FIELDS``; the code stays, tills send it).

    Only the fields named are written, on the row read again under its lock, so a redemption taking
    stock meanwhile is not undone unless the stock itself is being set. A replaced or removed image
    file is deleted once the change has committed.
    """
    # NO KEY UPDATE: redemptions referencing the reward go on being written meanwhile.
    reward = Reward.objects.select_for_update(no_key=True).get(pk=reward.pk)
    old_image = reward.image.name
    changes_apply(reward, changes, allowed=REWARD_FIELDS, what="reward")
    return _reward_save(reward, list(categories) if categories is not None else None,
                        old_image=old_image if "image" in changes else "")


@transaction.atomic
def reward_category_create(*, program, name: str) -> RewardCategory:
    """The program's category of that name, created if there is none (same slug, same category)."""
    name = (name or "").strip()
    slug = slugify(name)[:50]
    if not slug:
        raise ValidationError({"name": ["A category needs a name with letters or digits."]})
    category, _ = RewardCategory.objects.get_or_create(
        program=program, slug=slug,
        defaults={"name": name[:80], "position": RewardCategory.objects.filter(program=program).count()})
    return category


# --- causes: members give points -------------------------------------------------------------------


@transaction.atomic
def cause_create(*, program, code: str, name: str, description: str = "", active: bool = True) -> Cause:
    cause = Cause(program=program, code=code.strip().upper(), name=name.strip(), description=description,
                  active=active)
    record_check(cause)
    cause.save(force_insert=True)
    return cause


@service_atomic
def cause_donate(*, member, cause: Cause, points: int, idempotency_key: str, actor: str = "") -> Donation:
    """Give ``points`` of the member's available points to ``cause``, once per ``idempotency_key``.

    The points are spent through the ledger as a redemption (kind ``redeem``, source ``donation``): a
    donation is points redeemed, which is how the liability report counts it. A key the member used
    already answers its donation (marked ``replayed``) whatever else was asked.
    """
    if not isinstance(points, int) or isinstance(points, bool) or points <= 0:
        raise DomainError.invalid("points", "Points must be a positive whole number.")
    if not idempotency_key or len(idempotency_key) > 100:
        raise DomainError.invalid("idempotency_key", "Give a key of 1 to 100 characters.")
    if cause.program_id != member.program_id or not cause.active:
        raise DomainError("cause_not_found", "No active cause with this code.", title="Cause not found")
    if member.is_suspended:
        raise DomainError("member_suspended", "This member is suspended and cannot earn or redeem points.",
                          title="Member suspended")
    account = account_lock(member=member)  # a twin submit waits here, then finds the first one's donation
    if earlier := Donation.objects.filter(member=member, idempotency_key=idempotency_key).first():
        earlier.replayed = True
        return earlier
    if account.spendable < points:
        raise DomainError("insufficient_points", f"Needs {points} points; {max(account.spendable, 0)} available.",
                          title="Insufficient points")
    now = timezone.now()
    actor = actor or f"member:{member.pk}"
    donation = Donation(program_id=member.program_id, cause=cause, member=member, points=points,
                        idempotency_key=idempotency_key, actor=actor, created_at=now)
    donation.spend_transaction = points_spend(
        member=member, points=points, idempotency_key=f"donation:{member.pk}:{idempotency_key}", source_type="donation",
        source_id=str(donation.pk), actor=actor, description=f"Donation to {cause.name}", locked=account,
    )
    row_insert(donation)
    donation.replayed = False
    return donation

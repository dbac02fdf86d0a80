from __future__ import annotations

import calendar
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from ledger.models import Kind, LedgerTransaction
from ledger.selectors import transaction_lot_ids
from ledger.services import account_lock, points_earn, points_reverse_return
from loyalty.config_cache import ProgramMemo
from loyalty.edits import changes_apply
from loyalty.errors import DomainError
from loyalty.events import announce
from loyalty.rows import locked_row_suffix, prep, row_insert, row_update, rows_insert, rows_select_one
from loyalty.transactions import service_atomic
from members.models import Member
from members.selectors import member_by_reference
from programs.models import Program, Store
from tiers.services import tier_activity_record

from .models import EarningRule, Event, Purchase, Return, RuleAward
from .rules import (
    Earning,
    EarningContext,
    base_earning,
    event_context,
    floor_points,
    member_context,
    program_timezone,
    purchase_context,
    rules_evaluate,
)
from .selectors import (
    member_has_purchased,
    member_purchased_earlier,
    referral_bonus_granted,
    rule_points_awarded,
)

FUTURE_TOLERANCE = timedelta(minutes=5)


def _check_currency(program: Program, currency: str) -> None:
    if currency.upper() != program.currency:
        raise DomainError.invalid("currency", f"This program runs in {program.currency}.")


def _check_occurred_at(occurred_at: datetime | None, now: datetime, what: str = "A purchase") -> datetime:
    if occurred_at is None:
        return now
    if occurred_at > now + FUTURE_TOLERANCE:
        raise DomainError.invalid("occurred_at", f"{what} cannot be more than 5 minutes in the future.")
    return occurred_at


def member_for_earning(*, program: Program, reference: dict | None, for_update: bool | str = False) -> Member | None:
    """The member a purchase or event earns for (None for a guest); suspended members earn nothing.

    ``for_update="no_key"`` resolves and locks in one query (see ``_member_lock``)."""
    if not reference:
        return None
    member = member_by_reference(program=program, reference=reference, for_update=for_update)
    if member.is_suspended:
        raise DomainError("member_suspended", "This member is suspended and cannot earn or redeem points.",
                          title="Member suspended")
    return member


def _program_rules(program_id) -> tuple[EarningRule, ...]:
    return tuple(EarningRule.objects.filter(program_id=program_id, active=True).order_by("priority", "code"))


# A program's active rules as of at most PROGRAM_CONFIG_CACHE_SECONDS ago (``loyalty.config_cache``): a rule
# created, changed, switched off or deleted earns (or stops earning) in every process within those seconds,
# at once in the process that saved it. The rule objects are shared: nothing may change them.
_RULES = ProgramMemo("earning-rules", _program_rules, models=(EarningRule,))


def _rules_active(*, program, applies_to: str, at: datetime) -> list[EarningRule]:
    """The program's active rules for ``applies_to`` valid at ``at``, from the memo, in (priority, code) order."""
    return [rule for rule in _RULES.get(program.pk) if rule.applies_to == applies_to and _rule_valid_at(rule, at)]


def _rule_valid_at(rule: EarningRule, at: datetime) -> bool:
    return (rule.valid_from is None or rule.valid_from <= at) and (rule.valid_until is None or rule.valid_until > at)


def _rule_earnings(*, context: EarningContext, applies_to: str, member=None) -> list[Earning]:
    """The configured rules' lines for ``context``; caps per member count ``member``'s awards (default: the
    context's member)."""
    member = member or context.member
    rules = _rules_active(program=context.program, applies_to=applies_to, at=context.occurred_at)
    if not rules:
        return []
    return rules_evaluate(rules=rules, context=context, awarded=lambda rule: rule_points_awarded(
        program=context.program, rule=rule, member=member, at=context.occurred_at))


def _purchase_context(*, program: Program, member: Member, store: Store | None, total: Decimal, lines: list[dict],
                      occurred_at: datetime, has_purchased: bool | None = None) -> EarningContext:
    if has_purchased is None:
        has_purchased = member_has_purchased(member=member)
    return purchase_context(program=program, member=member, store=store, total=total, lines=lines,
                            occurred_at=occurred_at, is_first_purchase=not has_purchased)


def _purchase_earnings(context: EarningContext) -> list[Earning]:
    """The base rule first, then every configured purchase rule that contributed."""
    return [base_earning(context), *_rule_earnings(context=context, applies_to=EarningRule.AppliesTo.PURCHASE)]


def _awards_record(*, earnings: list[Earning], member: Member, occurred_at: datetime, source_type: str,
                   source_id: str) -> None:
    """Remember what each configured rule gave (what caps per member count)."""
    rows_insert([  # one statement, as bulk_create, without compiling a query per purchase
        RuleAward(program_id=member.program_id, rule_id=e.rule_id, member=member, points=e.points,
                  occurred_at=occurred_at, source_type=source_type, source_id=str(source_id))
        for e in earnings if e.rule_id is not None and e.points > 0
    ])


def _expires_at(program: Program, occurred_at: datetime) -> datetime | None:
    return occurred_at + timedelta(days=program.expiry_days) if program.expiry_days else None


def _bonus_credit(
    *, member: Member, earnings: list[Earning], idempotency_key: str, source_type: str, source_id: str,
    actor: str, occurred_at: datetime, description: str, available_at: datetime | None = None,
) -> LedgerTransaction | None:
    """Credit a bonus (ledger kind ``bonus``) once per key; the first time, record its rules' awards and
    publish ``points.earned`` (keyed by the ledger transaction's idempotency key)."""
    points = sum(e.points for e in earnings)
    if points <= 0:
        return None
    txn = points_earn(
        member=member, points=points, idempotency_key=idempotency_key, source_type=source_type,
        source_id=str(source_id), actor=actor, occurred_at=occurred_at, available_at=available_at,
        expires_at=_expires_at(member.program, occurred_at), kind=Kind.BONUS, description=description,
    )
    if not txn.replayed:
        _awards_record(earnings=earnings, member=member, occurred_at=occurred_at, source_type=source_type,
                       source_id=source_id)
        payload = {"points": points, "source": {"type": source_type, "id": str(source_id), "description": description}}
        if available_at is not None:
            payload["available_at"] = available_at
        announce(program=member.program, type="points.earned", member=member,
                             key=f"bonus:{idempotency_key}", payload=payload)
    return txn


def _member_lock(*, program: Program, reference: dict | None) -> Member | None:
    """Resolve the member and hold their row until commit, so one member's earnings are evaluated one
    at a time (one query; the suspension check reads the locked row).

    ``FOR NO KEY UPDATE``: it does not block rows being inserted that point at the member (a
    redemption, a purchase of another member's referral), only another earning for the same member.
    """
    return member_for_earning(program=program, reference=reference, for_update="no_key")


def purchase_preview(
    *, program: Program, member_reference: dict | None, currency: str, total: Decimal,
    occurred_at: datetime | None = None, lines: list[dict] | None = None, store: Store | None = None,
) -> tuple[Member | None, list[Earning]]:
    """What a purchase would earn now. Writes nothing."""
    _check_currency(program, currency)
    occurred_at = _check_occurred_at(occurred_at, timezone.now())
    member = member_for_earning(program=program, reference=member_reference)
    if member is None:
        return None, []
    context = _purchase_context(program=program, member=member, store=store, total=total, lines=lines or [],
                                occurred_at=occurred_at)
    return member, _purchase_earnings(context)


@service_atomic
def purchase_record(
    *, store: Store, actor: str, external_id: str, member_reference: dict | None, currency: str, total: Decimal,
    occurred_at: datetime | None = None, lines: list[dict] | None = None,
) -> Purchase:
    """Record a till receipt and credit what it earns (pending for the return window, then available).

    The member row is locked first, so a member's purchases are evaluated one at a time: "first purchase",
    the referral bonus and caps per member see every earlier purchase.
    """
    program = store.program
    now = timezone.now()
    _check_currency(program, currency)
    occurred_at = _check_occurred_at(occurred_at, now)
    lines = lines or []
    member = _member_lock(program=program, reference=member_reference)
    context, earnings, account = None, [], None
    if member is not None:
        # After the member's lock, so "purchases before" sees every earlier purchase of theirs.
        account = account_lock(member=member)
        has_purchased = member_has_purchased(member=member)
        context = _purchase_context(program=program, member=member, store=store, total=total, lines=lines,
                                    occurred_at=occurred_at, has_purchased=bool(has_purchased))
        earnings = _purchase_earnings(context)
    points = sum(e.points for e in earnings)

    purchase = Purchase(  # its id is known now; the row is written once, after the points
        program=program, store=store, external_id=external_id, member=member, currency=program.currency,
        total=total, occurred_at=occurred_at, lines=lines, points_awarded=points,
        breakdown=[e.as_dict() for e in earnings], actor=actor,
        claimable_until=None if member else occurred_at + timedelta(days=program.claim_window_days),
    )
    if member is not None:
        _purchase_credit(purchase=purchase, points=points, account=account, actor=actor)
    row_insert(purchase)
    if member is not None:
        _purchase_credited(purchase=purchase, context=context, earnings=earnings, points=points, spend=total,
                           actor=actor)
    return purchase


def _purchase_credit(*, purchase: Purchase, points: int, account, actor: str) -> None:
    """Credit ``points`` for the member's purchase, dated its ``occurred_at`` (pending for the return window,
    expiring after the program's expiry days from then); ``account`` is the member's, locked."""
    if points <= 0:
        return
    program, store, occurred_at = purchase.program, purchase.store, purchase.occurred_at
    purchase.earn_transaction = points_earn(
        member=purchase.member, points=points, idempotency_key=f"purchase:{store.pk}:{purchase.external_id}",
        source_type="purchase", source_id=str(purchase.pk), actor=actor, occurred_at=occurred_at,
        available_at=occurred_at + timedelta(days=program.pending_days),
        expires_at=_expires_at(program, occurred_at),
        description=f"Purchase {purchase.external_id} at {store.name}", locked=account,
    )


def _purchase_credited(*, purchase: Purchase, context: EarningContext, earnings: list[Earning], points: int,
                       spend: Decimal, actor: str) -> None:
    """What follows a member's purchase once its row is written: the rules' awards, ``points.earned``, the tier's
    qualifying activity and, on a referee's first rewarded purchase, the referral bonus."""
    program, store, member, occurred_at = purchase.program, purchase.store, purchase.member, purchase.occurred_at
    if points > 0:
        _awards_record(earnings=earnings, member=member, occurred_at=occurred_at, source_type="purchase",
                       source_id=str(purchase.pk))
        announce(program=program, type="points.earned", member=member, key=f"purchase:{purchase.pk}",
                             payload={"points": points,
                                      "available_at": occurred_at + timedelta(days=program.pending_days),
                                      "source": {"type": "purchase", "id": purchase.pk,
                                                 "external_id": purchase.external_id,
                                                 "store": store.code, "store_name": store.name}})
    # After earning at the tier held before this purchase: crossing earns at the old tier.
    tier_activity_record(member=member, occurred_at=occurred_at, points=points, spend=spend,
                         source_type="purchase", source_id=str(purchase.pk), actor=actor)
    if member.referred_by_id is not None:
        _referral_bonus_grant(context=context, actor=actor)


def _claim_refused() -> DomainError:
    # One answer for an unknown receipt, one of another store and one past its window: a stranger guessing
    # receipt numbers learns nothing from it.
    return DomainError("purchase_not_claimable", "No purchase to claim with this receipt number at this store.",
                       title="Purchase not claimable")


@service_atomic
def purchase_claim(*, member: Member, store: Store, external_id: str, actor: str) -> Purchase:
    """A member claims a guest purchase by its store and receipt number, within the program's claim window,
    and earns as if it had been posted for them on its date: the same rules as ``purchase_record``, with
    ``occurred_at`` the purchase's, pending and expiry counted from it. Exactly once: the purchase row is
    locked, and a purchase that has a member (claimed, by anyone, or posted for one) is ``already_claimed``.
    A purchase partly returned as a guest earns in proportion to what was kept, as a return would have left it.
    """
    external_id = (external_id or "").strip()
    if store.program_id != member.program_id or not external_id or len(external_id) > 64 \
            or not external_id.isprintable():
        raise _claim_refused()
    program = store.program
    member = _member_lock(program=program, reference={"id": str(member.pk)})
    purchase = (Purchase.objects.select_for_update().filter(store=store, external_id=external_id).first())
    now = timezone.now()
    if purchase is None:
        raise _claim_refused()
    if purchase.member_id is not None:
        raise DomainError("already_claimed", "This purchase has already been claimed.", title="Already claimed")
    if purchase.claimable_until is None or purchase.claimable_until <= now or purchase.returned_total >= purchase.total:
        raise _claim_refused()
    purchase.program, purchase.store, purchase.member = program, store, member
    account = account_lock(member=member)
    context = _purchase_context(program=program, member=member, store=store, total=purchase.total,
                                lines=purchase.lines, occurred_at=purchase.occurred_at,
                                has_purchased=member_purchased_earlier(member=member, than=purchase.occurred_at))
    earnings = _purchase_earnings(context)
    points = sum(e.points for e in earnings)
    kept = purchase.total - purchase.returned_total
    credited = floor_points(Decimal(points) * kept / purchase.total)
    _purchase_credit(purchase=purchase, points=credited, account=account, actor=actor)
    purchase.claimed_at, purchase.points_awarded, purchase.points_reversed = now, points, points - credited
    purchase.breakdown = [e.as_dict() for e in earnings]
    purchase.save(update_fields=["member", "claimed_at", "points_awarded", "points_reversed", "breakdown",
                                 "earn_transaction"])
    _purchase_credited(purchase=purchase, context=context, earnings=earnings, points=credited, spend=kept,
                       actor=actor)
    return purchase


def _referral_bonus_grant(*, context: EarningContext, actor: str) -> None:
    """On the referee's first purchase that the referral rules reward, credit both members, once ever.

    The referral rules' conditions read the referee's purchase; caps per member count each
    recipient's own referral awards. A suspended referrer gets nothing (the referee still does).
    """
    referee = context.member
    if referral_bonus_granted(referee=referee):
        return
    earnings = _rule_earnings(context=context, applies_to=EarningRule.AppliesTo.REFERRAL)
    if not earnings:
        return
    available_at = context.occurred_at + timedelta(days=context.program.pending_days)
    referrer = Member.objects.filter(pk=referee.referred_by_id).select_related("program").first()
    recipients = [(referee, earnings)]
    if referrer is not None and not referrer.is_suspended:
        recipients.append((referrer, _rule_earnings(context=context, applies_to=EarningRule.AppliesTo.REFERRAL,
                                                     member=referrer)))

    def description(recipient):
        if recipient is referee:
            return "Referral bonus: welcome"
        return f"Referral bonus: {referee.full_name or 'a friend you referred'} made a first purchase"

    for recipient, recipient_earnings in recipients:
        _bonus_credit(
            member=recipient, earnings=recipient_earnings, idempotency_key=f"referral:{referee.pk}:{recipient.pk}",
            source_type="referral", source_id=str(referee.pk), actor=actor, occurred_at=context.occurred_at,
            available_at=available_at, description=description(recipient),
        )


@service_atomic
def event_record(
    *, store: Store, actor: str, external_id: str, member_reference: dict, event_type: str, quantity: int = 1,
    attributes: dict | None = None, occurred_at: datetime | None = None,
) -> Event:
    """Record non-purchase activity and credit what the event rules give for it (available at once:
    an event has no return window)."""
    program = store.program
    occurred_at = _check_occurred_at(occurred_at, timezone.now(), what="An event")
    attributes = attributes or {}
    member = _member_lock(program=program, reference=member_reference)
    if member is None:
        raise DomainError.invalid("member", "An event earns for a member; name one.")
    context = event_context(program=program, member=member, store=store, event_type=event_type, quantity=quantity,
                            attributes=attributes, occurred_at=occurred_at)
    earnings = _rule_earnings(context=context, applies_to=EarningRule.AppliesTo.EVENT)
    points = sum(e.points for e in earnings)
    event = Event.objects.create(
        program=program, store=store, external_id=external_id, member=member, type=event_type, quantity=quantity,
        attributes=attributes, occurred_at=occurred_at, points_awarded=points,
        breakdown=[e.as_dict() for e in earnings], actor=actor,
    )
    if points > 0:
        event.earn_transaction = points_earn(
            member=member, points=points, idempotency_key=f"event:{store.pk}:{external_id}", source_type="event",
            source_id=str(event.pk), actor=actor, occurred_at=occurred_at,
            expires_at=_expires_at(program, occurred_at), description=f"{event_type} ×{quantity} at {store.name}",
        )
        event.save(update_fields=["earn_transaction"])
        _awards_record(earnings=earnings, member=member, occurred_at=occurred_at, source_type="event",
                       source_id=str(event.pk))
        announce(program=program, type="points.earned", member=member, key=f"event:{event.pk}",
                             payload={"points": points, "source": {
                                 "type": "event", "id": event.pk, "external_id": external_id, "event_type": event_type,
                                 "store": store.code, "store_name": store.name}})
        # Points earned by activity count towards tiers like points earned by purchases (no spend).
        tier_activity_record(member=member, occurred_at=occurred_at, points=points, spend=Decimal(0),
                             source_type="event", source_id=str(event.pk), actor=actor)
    return event


@transaction.atomic
def signup_bonus_grant(*, member: Member, actor: str = "system:signup") -> LedgerTransaction | None:
    """Credit the program's signup rules to a newly enrolled member, once (None when nothing applies)."""
    context = member_context(program=member.program, member=member, occurred_at=member.enrolled_at,
                             store=member.enrolled_store)
    earnings = _rule_earnings(context=context, applies_to=EarningRule.AppliesTo.SIGNUP)
    txn = _bonus_credit(member=member, earnings=earnings, idempotency_key=f"signup:{member.pk}",
                        source_type="signup", source_id=str(member.pk), actor=actor,
                        occurred_at=member.enrolled_at, description="Signup bonus")
    if txn is not None:
        member.account.refresh_from_db()  # the enrolment answers with this member's (cached) balance
    return txn


BIRTHDAY_ACTOR = "system:birthday"


def birthday_members(*, on: date, program_ids=None):
    """Active members, of programs with a birthday rule valid now, whose birthday is ``on`` and who have
    no birthday award for that year yet: one query. 29 February birthdays count on 28 February in
    other years."""
    days = Q(birth_date__month=on.month, birth_date__day=on.day)
    if (on.month, on.day) == (2, 28) and not calendar.isleap(on.year):
        days |= Q(birth_date__month=2, birth_date__day=29)
    now = timezone.now()
    rules = (EarningRule.objects.filter(applies_to=EarningRule.AppliesTo.BIRTHDAY, active=True)
             .filter(Q(valid_from__isnull=True) | Q(valid_from__lte=now))
             .filter(Q(valid_until__isnull=True) | Q(valid_until__gt=now)))
    already = RuleAward.objects.filter(member=OuterRef("pk"), source_type="birthday", source_id=str(on.year))
    if program_ids is not None:
        rules = rules.filter(program_id__in=program_ids)
    return (Member.objects.filter(days, status=Member.Status.ACTIVE, program__in=rules.values("program"))
            .exclude(Exists(already)).select_related("program").order_by("pk"))


@transaction.atomic
def birthday_bonus_grant(*, member: Member, on: date, actor: str = BIRTHDAY_ACTOR) -> LedgerTransaction | None:
    """Credit the program's birthday rules to ``member``, once per year (the idempotency key names the year)."""
    context = member_context(program=member.program, member=member, occurred_at=timezone.now())
    earnings = _rule_earnings(context=context, applies_to=EarningRule.AppliesTo.BIRTHDAY)
    return _bonus_credit(member=member, earnings=earnings, idempotency_key=f"birthday:{member.pk}:{on.year}",
                         source_type="birthday", source_id=str(on.year), actor=actor,
                         occurred_at=context.occurred_at, description="Happy birthday!")


def birthday_bonuses_grant(*, on: date | None = None, actor: str = BIRTHDAY_ACTOR) -> int:
    """The daily birthday run: safe to repeat, and to run concurrently.

    Without ``on``, each program celebrates on today's date in its own time zone; with ``on`` (an
    operator catching up a missed day) every program uses that date. Each member is credited in
    their own transaction, so a failure leaves the earlier grants in place and a rerun finishes the
    rest. Answers how many members were credited.
    """
    if on is not None:
        days = [(on, None)]
    else:
        now = timezone.now()
        by_day: dict[date, list] = {}
        for program in Program.objects.filter(
                earning_rules__applies_to=EarningRule.AppliesTo.BIRTHDAY, earning_rules__active=True).distinct():
            by_day.setdefault(now.astimezone(program_timezone(program)).date(), []).append(program.pk)
        days = list(by_day.items())
    granted = 0
    for day, program_ids in days:
        for member in birthday_members(on=day, program_ids=program_ids).iterator(chunk_size=500):
            txn = birthday_bonus_grant(member=member, on=day, actor=actor)
            granted += txn is not None and not txn.replayed
    return granted


def earning_rule_validate(*, rule: EarningRule) -> None:
    """Refuse a rule that could not run (bad conditions or effect, caps without a period, ...) as ``invalid``,
    with one error per problem naming its place (``conditions.0.skus``)."""
    problems = []
    others = EarningRule.objects.filter(program_id=rule.program_id, code=rule.code).exclude(pk=rule.pk)
    code_taken = rule.program_id is not None and bool(rule.code) and others.exists()
    if code_taken:  # said beside the code, rather than as the unique constraint's sentence about the whole rule
        problems.append({"field": "code", "message": f"The program already has a rule {rule.code}."})
    try:
        rule.full_clean(exclude=["code"] if code_taken else None)
    except ValidationError as error:
        for field, messages in error.message_dict.items():
            for message in messages:
                path, sep, text = message.partition(": ")
                if sep and path.split(".", 1)[0] == field:
                    problems.append({"field": path, "message": text})
                else:
                    problems.append({"field": field, "message": message})
    if problems:
        raise DomainError("invalid", f"{problems[0]['field']}: {problems[0]['message']}", title="Invalid rule",
                          errors=problems)


@transaction.atomic
def earning_rule_create(*, program: Program, code: str, name: str, effect: dict, conditions: list | None = None,
                        applies_to: str = EarningRule.AppliesTo.PURCHASE, **options) -> EarningRule:
    rule = EarningRule(program=program, code=code, name=name, effect=effect, conditions=conditions or [],
                       applies_to=applies_to, **options)
    earning_rule_validate(rule=rule)
    rule.save(force_insert=True)
    return rule


# What staff may change on a saved rule: its code stays (breakdowns of past purchases name the rule by it).
EARNING_RULE_CHANGES = frozenset({
    "name", "description", "active", "applies_to", "conditions", "effect", "priority", "group", "stacking",
    "cap_per_purchase", "cap_per_member", "cap_period", "valid_from", "valid_until",
})


@transaction.atomic
def earning_rule_update(*, rule: EarningRule, **changes) -> EarningRule:
    """Change a rule (``EARNING_RULE_CHANGES``); a rule that could not run is refused (``invalid``) and nothing
    changes. The rule row is locked, so two staff saving at once apply one change after the other."""
    locked = EarningRule.objects.select_for_update().get(pk=rule.pk)
    changes_apply(locked, changes, allowed=EARNING_RULE_CHANGES, what="earning rule")
    earning_rule_validate(rule=locked)
    locked.save()
    for name in changes:
        setattr(rule, name, getattr(locked, name))
    rule.updated_at = locked.updated_at
    return locked


@transaction.atomic
def earning_rule_activate(*, rule: EarningRule, active: bool) -> EarningRule:
    """Switch a rule on or off. Off, it earns nothing from now on; what it gave stays (awards point at it)."""
    return earning_rule_update(rule=rule, active=active)


@dataclass(frozen=True)
class PurchasePreview:
    """What a sample purchase earns: the breakdown the POS would answer, and which of the draft rule's
    conditions the purchase does not meet (None without a draft, or when the draft takes no part: switched off,
    not a purchase rule, or outside its dates)."""

    earnings: list[Earning]
    draft_unmet: tuple[str, ...] | None = None

    @property
    def points(self) -> int:
        return sum(earning.points for earning in self.earnings)


@dataclass(frozen=True)
class _SampleMember:
    """The member of a sample purchase, as far as conditions look at one."""

    birth_date: date | None = None
    enrolled_at: datetime | None = None


def purchase_earnings_preview(
    *, program: Program, total: Decimal, occurred_at: datetime, store: Store | None = None,
    lines: list[dict] | None = None, tier=None, is_first_purchase: bool = False, is_birthday: bool = False,
    draft: EarningRule | None = None,
) -> PurchasePreview:
    """What a sample purchase would earn under the program's active purchase rules, with ``draft`` (a rule as it
    is being written, saved or not) in the place of its saved self. Writes nothing.

    The same engine and the same rules as ``purchase_record``; the member is a sample one: in ``tier`` (a Tier,
    None for none), with its birthday on the purchase's local date if ``is_birthday``, and nothing earned yet
    from rules capped per member.
    """
    rules = [rule for rule in _rules_active(program=program, applies_to=EarningRule.AppliesTo.PURCHASE, at=occurred_at)
             if draft is None or rule.pk != draft.pk]
    takes_part = (draft is not None and draft.active and draft.applies_to == EarningRule.AppliesTo.PURCHASE
                  and _rule_valid_at(draft, occurred_at))
    if takes_part:
        rules = sorted([*rules, draft], key=lambda rule: (rule.priority, rule.code))
    context = purchase_context(program=program, member=None, store=store, total=total, lines=lines or [],
                               occurred_at=occurred_at, is_first_purchase=is_first_purchase)
    birth_date = context.local_time.date() if is_birthday else None
    context = replace(context, member=_SampleMember(birth_date=birth_date),
                      tier_code=getattr(tier, "code", None),
                      tier_multiplier=Decimal(tier.multiplier) if tier is not None else Decimal(1))
    earnings = [base_earning(context), *rules_evaluate(rules=rules, context=context, awarded=lambda rule: 0)]
    unmet = (tuple(condition.kind for condition in draft.definition.conditions if not condition.matches(context))
             if takes_part else None)
    return PurchasePreview(earnings=earnings, draft_unmet=unmet)


def _purchase_for_return(*, store: Store, purchase_external_id: str, purchase_store_code: str | None) -> Purchase:
    """The purchase, its row locked, with its member and program (one statement, no compiled queryset)."""
    if purchase_store_code:
        where = ('"earning_purchase"."program_id" = %s AND "earning_purchase"."store_id" IN '
                 "(SELECT id FROM programs_store WHERE program_id = %s AND code = %s)")
        params = [prep(Purchase, "program", store.program_id), prep(Store, "program", store.program_id),
                  purchase_store_code]
    else:
        where, params = '"earning_purchase"."store_id" = %s', [prep(Purchase, "store", store.pk)]
    purchase = rows_select_one(
        Purchase, f'{where} AND "earning_purchase"."external_id" = %s', [*params, purchase_external_id],
        suffix=locked_row_suffix(Purchase),
        related=("member", "program"))
    if purchase is None:
        raise DomainError("purchase_not_found", "No purchase with this external id in that store.",
                          title="Purchase not found")
    return purchase


@service_atomic
def purchase_return(
    *, store: Store, actor: str, external_id: str, purchase_external_id: str, amount: Decimal,
    purchase_store_code: str | None = None,
) -> Return:
    """Take back points in proportion to the returned amount, rounding down what the member keeps.

    Computed cumulatively over all returns of the purchase, so several partial
    returns take back exactly what one return of their sum would.
    """
    purchase = _purchase_for_return(store=store, purchase_external_id=purchase_external_id,
                                    purchase_store_code=purchase_store_code)
    returnable = purchase.total - purchase.returned_total
    if amount > returnable:
        raise DomainError(
            "return_exceeds_purchase",
            f"The purchase totals {purchase.total}; {purchase.returned_total} is already returned, "
            f"so at most {returnable} can be returned.",
            title="Return exceeds purchase",
        )
    returned_total = purchase.returned_total + amount
    keeps = floor_points(Decimal(purchase.points_awarded) * (purchase.total - returned_total) / purchase.total)
    to_reverse = purchase.points_awarded - keeps - purchase.points_reversed

    refund = Return(program=purchase.program, store=store, external_id=external_id, purchase=purchase,
                    amount=amount, points_reversed=to_reverse, actor=actor)
    if to_reverse > 0:
        lots = transaction_lot_ids(transaction_id=purchase.earn_transaction_id)
        refund.reverse_transaction = points_reverse_return(
            member=purchase.member, points=to_reverse, idempotency_key=f"return:{store.pk}:{external_id}",
            source_type="return", source_id=str(refund.pk), actor=actor, from_lots=lots,
            description=f"Return {external_id} of purchase {purchase.external_id}",
        )
    row_insert(refund)
    if purchase.member_id is not None:  # comes off the qualifying value; never downgrades at once
        tier_activity_record(member=purchase.member, occurred_at=purchase.occurred_at, points=-to_reverse,
                             spend=-amount, source_type="return", source_id=str(refund.pk), actor=actor)
    purchase.returned_total = returned_total
    purchase.points_reversed += to_reverse
    row_update(Purchase, purchase.pk, returned_total=purchase.returned_total, points_reversed=purchase.points_reversed)
    return refund

"""Fourteen months of a café's life for the demo program, so that its dashboard, analytics and surveys have
something to show: members joining, coming back often or drifting away, buying at two stores, redeeming
coffees, returning a purchase now and then, answering the NPS survey, and points expiring.

Everything goes through the same services the tills and the portal use, in the order it happened, with the
clock set to each moment (``django.utils.timezone.now`` is what every service asks), so the ledger, the tiers,
the survey cases and the rollups are exactly what they would be had it really happened. The story is drawn from
a fixed seed: the same every time. It is told once; a program that already has it is left as it is. The three
demo members of the contract keep their empty history.
"""

from __future__ import annotations

import heapq
import logging
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from unittest import mock

from django.test import override_settings
from django.utils import timezone

from analytics.services import rollup_rebuild
from earning.services import purchase_record, purchase_return
from ledger.selectors import account_balance_get
from ledger.services import lots_expire_due
from loyalty.errors import DomainError
from members.models import Member
from members.services import member_enrol
from rewards.models import Reward
from rewards.services import reward_redeem
from surveys.models import Survey
from surveys.services import response_record
from tiers.services import tier_recalculate_program

from .models import Program, Store
from .services import store_create

DOMAIN = "demo-history.example.com"
ACTOR = "pos:demo-history"
SECOND_STORE = ("DEMO-002", "Demo store Station")
FIRST_NAMES = ["Mia", "Noah", "Emma", "Liam", "Sofia", "Elias", "Hanna", "Felix", "Lea", "Jonas", "Amira", "Yusuf",
               "Clara", "Paul", "Ida", "Theo", "Nora", "Malik", "Greta", "Luca", "Zoe", "Emil", "Lina", "Oskar"]
LAST_NAMES = ["Becker", "Nguyen", "Kowalski", "Rossi", "Yilmaz", "Schulz", "Dubois", "Novak", "Berg", "Costa",
              "Hoffmann", "Ivanova", "Lange", "Okoro", "Petrov", "Silva", "Weber", "Khan", "Moreau", "Jansen"]
# (share of members, mean days between visits, chance to stop after each visit, how they score the program,
#  what a visit usually costs)
PERSONAS = [
    (0.05, 7, 0.01, (7, 10), (35, 120)),  # office orders: the program's Gold members
    (0.18, 4, 0.01, (8, 10), (3.2, 14)),  # regulars on the way to work
    (0.35, 10, 0.03, (6, 10), (3.2, 18)),  # weekly-ish
    (0.28, 24, 0.06, (4, 9), (3.2, 18)),  # now and then
    (0.14, 45, 0.25, (0, 7), (3.2, 12)),  # tried it, mostly gone
]
COMMENTS = {
    "promoter": ["Friendly staff and great coffee", "Free coffee every few weeks, love it", "Fast service",
                 "Best flat white in town", "Friendly staff, always a smile"],
    "passive": ["Good coffee but long queue at lunch", "Fine, a bit pricey", "Nice place, slow app"],
    "detractor": ["Long queue at lunch", "Points take too long to add up", "Coffee was cold",
                  "Long queue and cold coffee"],
}


@contextmanager
def _clock(moment: datetime) -> Iterator[None]:
    with mock.patch.object(timezone, "now", return_value=moment):
        yield


@contextmanager
def _quiet(logger: str) -> Iterator[None]:
    log = logging.getLogger(logger)
    was, log.disabled = log.disabled, True
    try:
        yield
    finally:
        log.disabled = was


@dataclass(order=True)
class _Happening:
    at: datetime
    order: int
    act: Callable[[], None] = field(compare=False)


@dataclass
class HistoryResult:
    members: int = 0
    purchases: int = 0
    guest_purchases: int = 0
    returns: int = 0
    redemptions: int = 0
    answers: int = 0
    expiry_runs: int = 0


def demo_history_seed(*, program: Program, store: Store, members: int = 160, months: int = 14,
                      seed: int = 2026) -> HistoryResult | None:
    """Tell the program's story once (``None`` when it has it already); see the module's docstring."""
    if Member.objects.filter(program=program, email__endswith="@" + DOMAIN).exists():
        return None
    rng = random.Random(seed)
    now = timezone.now()
    start = now - timedelta(days=months * 30)
    station = Store.objects.filter(program=program, code=SECOND_STORE[0]).first()
    if station is None:
        station = store_create(program=program, code=SECOND_STORE[0], name=SECOND_STORE[1])
    coffee = Reward.objects.filter(program=program, code="FREE-COFFEE").first()
    lounge = Reward.objects.filter(program=program, code="GOLD-LOUNGE").first()
    survey = Survey.objects.filter(program=program, code="nps").first()
    result = HistoryResult()
    happenings: list[_Happening] = []
    order = iter(range(10**9))

    def later(at: datetime, act: Callable[[], None]) -> None:
        if at < now:
            heapq.heappush(happenings, _Happening(at, next(order), act))

    def amount(low: float, high: float) -> Decimal:
        return Decimal(str(round(rng.uniform(low, high), 2)))

    def member_story(index: int) -> None:
        weights = [p[0] for p in PERSONAS]
        _, gap, stop, (low, high), spend = rng.choices(PERSONAS, weights=weights)[0]
        # more members join as the program becomes known
        joined = start + (now - start) * (1 - rng.random() ** 1.6)
        home = store if rng.random() < 0.7 else station
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        person: dict = {}

        def enrol() -> None:
            person["member"] = member_enrol(
                program=program, store=home, email=f"{first.lower()}.{last.lower()}.{index}@{DOMAIN}",
                first_name=first, last_name=last, marketing_opt_in=rng.random() < 0.6, consent_source="staff")
            result.members += 1

        later(joined, enrol)
        visit, visits = joined + timedelta(minutes=5), 0
        while visit < now:
            visits += 1
            later(visit, _visit(index, visits, person, home if rng.random() < 0.85 else station, (low, high), spend))
            if rng.random() < stop:
                break
            visit += timedelta(days=rng.expovariate(1 / gap), hours=rng.uniform(1, 6))

    def _visit(index: int, number: int, person: dict, at_store: Store, scores: tuple,
               spend: tuple) -> Callable[[], None]:
        total = amount(*spend) if rng.random() < 0.9 else amount(20, 65)
        returns = rng.random() < 0.03
        answers = survey is not None and rng.random() < 0.07
        score = rng.randint(*scores)
        redeems = rng.random() < 0.3

        def act() -> None:
            member = person["member"]
            external_id = f"H{index}-{number}"
            purchase_record(store=at_store, actor=ACTOR, external_id=external_id,
                            member_reference={"id": str(member.pk)}, currency=program.currency, total=total)
            result.purchases += 1
            moment = timezone.now()
            if returns:
                later(moment + timedelta(days=2), lambda: _return(at_store, external_id, total))
            if redeems:
                _redeem(member, at_store)
            if answers:
                category = "promoter" if score >= 9 else "passive" if score >= 7 else "detractor"
                comment = rng.choice(COMMENTS[category]) if rng.random() < 0.6 else ""
                later(moment + timedelta(hours=3), lambda: _answer(member, at_store, score, comment))

        return act

    def _return(at_store: Store, external_id: str, total: Decimal) -> None:
        purchase_return(store=at_store, actor=ACTOR, external_id=f"R-{external_id}",
                        purchase_external_id=external_id, amount=(total / 2).quantize(Decimal("0.01")))
        result.returns += 1

    def _redeem(member: Member, at_store: Store) -> None:
        balance = account_balance_get(member=member, fresh=True)
        for reward in (lounge, coffee):
            if reward is not None and balance["available"] >= reward.points_cost:
                try:
                    reward_redeem(member=member, reward=reward, store=at_store, actor=ACTOR)
                except DomainError:  # a Gold-only reward before Gold: the coffee, then
                    continue
                result.redemptions += 1
                return

    def _answer(member: Member, at_store: Store, score: int, comment: str) -> None:
        response_record(survey=survey, score=score, channel="pos", actor=ACTOR, member=member, store=at_store,
                        comment=comment, external_id=f"A-{member.pk}-{timezone.now():%Y%m%d%H%M}")
        result.answers += 1

    def guest_visit(number: int, at: datetime) -> None:
        at_store = store if rng.random() < 0.6 else station
        total = amount(2.5, 14)

        def act() -> None:
            purchase_record(store=at_store, actor=ACTOR, external_id=f"G{number}", member_reference=None,
                            currency=program.currency, total=total)
            result.guest_purchases += 1

        later(at, act)

    def month_end(at: datetime) -> None:
        def act() -> None:
            lots_expire_due(now=at)
            tier_recalculate_program(program=program, now=at)
            result.expiry_runs += 1

        later(at, act)

    for index in range(members):
        member_story(index)
    for number in range(members * 6):
        guest_visit(number, start + (now - start) * rng.random())
    moment = start
    while moment < now:
        month_end(moment)
        moment += timedelta(days=30)

    # The emails of those days were sent back then: none now (the console backend would print thousands), and
    # the eager tasks' log lines neither.
    with override_settings(EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend"), _quiet("celery.app.trace"):
        while happenings:  # acts add later acts (a return, an answer): always the earliest next
            happening = heapq.heappop(happenings)
            with _clock(happening.at):
                happening.act()
    lots_expire_due(now=now)
    rollup_rebuild(program=program)
    return result

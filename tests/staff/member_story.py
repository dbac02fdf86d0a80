"""A member's story for the member pages' tests, told through the services as tills and staff tell it, each
step on its own day: a purchase from last year (released, then expired), one from a month ago (released, then
partly returned), a voucher cancelled and one still open, two staff adjustments (one approved by a second
manager), and a purchase of today (still pending)."""

from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

import time_machine
from django.utils import timezone

from earning.models import Purchase
from earning.services import earning_rule_create, purchase_record, purchase_return
from programs.models import StoreApiKey
from rewards.models import Redemption, Reward
from rewards.services import redemption_cancel, reward_redeem
from staff.adjustments.services import adjustment_approve, adjustment_request
from staff.models import Role

LATTE = {"sku": "LATTE", "category": "coffee", "quantity": 2, "unit_price": "4.50"}
MUFFIN = {"sku": "MUFFIN", "category": "bakery", "quantity": 1, "unit_price": "11.00"}


@dataclass
class Story:
    member: object
    old: Purchase
    mid: Purchase
    new: Purchase
    cancelled: Redemption
    open: Redemption
    purchases: list[Purchase] = field(default_factory=list)


def till_actor(store) -> str:
    return f"api_key:{StoreApiKey.objects.filter(store=store).values_list('pk', flat=True).first()}"


def buy(store, member, external_id: str, *, total="20.00", lines=(LATTE, MUFFIN)) -> Purchase:
    return purchase_record(store=store, actor=till_actor(store), external_id=external_id,
                           member_reference={"id": str(member.pk)}, currency="EUR", total=Decimal(total),
                           occurred_at=timezone.now(), lines=list(lines))


def coffee_rule(program, **options):
    return earning_rule_create(program=program, code="coffee-x2", name="Double on coffee",
                               conditions=[{"kind": "category", "categories": ["coffee"]}],
                               effect={"kind": "multiplier", "factor": "2"}, **options)


def tell(*, program, store, member, manager, second_manager) -> Story:
    """The story above, for ``member`` (the program's points wait 14 days, then last a year)."""
    program.pending_days = 14
    program.save(update_fields=["pending_days"])
    coffee_rule(program)
    reward = Reward.objects.create(program=program, code="FREE-COFFEE", name="Free coffee", points_cost=20,
                                   voucher_valid_days=30)
    now = timezone.now()

    def on(days_ago: int):
        return time_machine.travel(now - timedelta(days=days_ago), tick=False)

    with on(400):
        old = buy(store, member, "OLD-1")
    with on(30):  # the account catches up first: OLD-1's points are released, then expire
        mid = buy(store, member, "MID-1", total="50.00")
    with on(10):  # MID-1's points are released, then a fifth of them taken back
        purchase_return(store=store, actor=till_actor(store), external_id="RET-1", purchase_external_id="MID-1",
                        amount=Decimal("10.00"))
    with on(5):
        cancelled = reward_redeem(member=member, reward=reward, store=store, actor=till_actor(store))
        redemption_cancel(redemption=cancelled, actor=f"user:{manager.pk}", reason="Chose the wrong reward")
        open_ = reward_redeem(member=member, reward=reward, store=store, actor=till_actor(store))
    with on(2):
        adjustment_request(member=member, points=30, reason_code="complaint", note="Coffee was cold",
                           actor=manager, role=Role.MANAGER, idempotency_key="story:adjust:1")
        waiting = adjustment_request(member=member, points=1500, reason_code="migration",
                                     note="Balance of the old card", actor=manager, role=Role.MANAGER,
                                     idempotency_key="story:adjust:2")
        adjustment_approve(adjustment=waiting, actor=second_manager, note="Checked the old statement")
    new = buy(store, member, "NEW-1")
    return Story(member=member, old=old, mid=mid, new=new, cancelled=cancelled, open=open_,
                 purchases=[old, mid, new])

"""Returns, downgrade policies, manual locks and the history, on a controllable clock."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from loyalty.errors import DomainError
from tiers.models import MemberTier, TierChange, TierPolicy
from tiers.selectors import member_tier_get, member_tier_progress
from tiers.services import tier_activity_record, tier_assign, tier_recalculate_member, tier_recalculate_program

from .conftest import T0, ladder_define

RETURNS = "/api/v1/pos/returns/"
PURCHASES = "/api/v1/pos/purchases/"


def earn(member, points, external_id, *, occurred_at=None, spend=None):
    return tier_activity_record(member=member, occurred_at=occurred_at or timezone.now(), points=points,
                                spend=Decimal(spend if spend is not None else points), source_type="test",
                                source_id=external_id, actor="test")


def tier_of(member):
    return member_tier_get(member=member, fresh=True).code


def test_a_return_lowers_qualifying_points_but_never_downgrades_at_once(pos, program, member, clock):
    ladder_define(program, downgrade=TierPolicy.Downgrade.END_OF_WINDOW)
    pos.post(PURCHASES, {"external_id": "R-1001", "member": {"id": str(member.id)}, "currency": "EUR",
                         "total": "600.00"}, format="json")
    assert tier_of(member) == "silver"

    response = pos.post(RETURNS, {"external_id": "RET-1", "purchase_external_id": "R-1001", "amount": "300.00"},
                        format="json")

    assert response.status_code == 201, response.json()
    status = MemberTier.objects.get(member=member)
    assert status.qualifying_value == 300
    assert status.tier.code == "silver"
    tier_recalculate_program(program=program)
    assert tier_of(member) == "silver"  # the window has not ended: the policy decides, not the return


def test_end_of_window_downgrade_waits_for_the_window_to_end(program, member, clock):
    ladder_define(program, downgrade=TierPolicy.Downgrade.END_OF_WINDOW)
    earn(member, 2100, "p1")
    assert tier_of(member) == "gold"
    assert MemberTier.objects.get(member=member).valid_until == T0.replace(year=2027)

    earn(member, -300, "r1", occurred_at=T0)  # a return: 1800, below gold

    clock.move_to(T0 + timedelta(days=100))
    tier_recalculate_program(program=program)
    assert tier_of(member) == "gold"  # below, but the gold window has not ended
    clock.move_to(T0 + timedelta(days=200))
    earn(member, 600, "p2")

    clock.move_to(T0 + timedelta(days=366))  # p1 left the window, and the gold window has ended
    tier_recalculate_program(program=program)

    assert tier_of(member) == "silver"  # drops to what the window's 600 points reach
    change = TierChange.objects.filter(member=member).first()
    assert (change.from_tier.code, change.to_tier.code, change.cause) == ("gold", "silver", "downgrade")
    assert change.actor == "task:tier_recalculate"


def test_reaching_the_tier_again_renews_it_to_the_end_of_the_new_window(program, member, clock):
    ladder_define(program, downgrade=TierPolicy.Downgrade.END_OF_WINDOW)
    earn(member, 600, "p1")
    renewed_at = T0 + timedelta(days=300)
    clock.move_to(renewed_at)
    earn(member, 600, "p2")
    tier_recalculate_program(program=program)
    assert MemberTier.objects.get(member=member).valid_until == renewed_at.replace(year=renewed_at.year + 1)

    clock.move_to(T0 + timedelta(days=400))  # p1 out of the window, p2 still keeps silver
    tier_recalculate_program(program=program)
    assert tier_of(member) == "silver"


def test_stepwise_downgrade_drops_one_tier_per_grace_period(program, member, clock):
    ladder_define(program, downgrade=TierPolicy.Downgrade.STEPWISE, grace_days=30)
    earn(member, 2500, "p1")
    assert tier_of(member) == "gold"

    clock.move_to(T0 + timedelta(days=370))  # nothing left in the window: below gold from now
    tier_recalculate_program(program=program)
    assert tier_of(member) == "gold"
    assert MemberTier.objects.get(member=member).below_since == T0 + timedelta(days=370)

    clock.move_to(T0 + timedelta(days=400))  # grace over: one tier down, not two
    tier_recalculate_program(program=program)
    assert tier_of(member) == "silver"
    tier_recalculate_program(program=program)  # a second run the same day changes nothing
    assert tier_of(member) == "silver"

    clock.move_to(T0 + timedelta(days=429))
    tier_recalculate_program(program=program)
    assert tier_of(member) == "silver"
    clock.move_to(T0 + timedelta(days=430))
    tier_recalculate_program(program=program)
    assert tier_of(member) == "bronze"
    assert [(c.from_tier.code, c.to_tier.code) for c in TierChange.objects.filter(member=member, cause="downgrade")
            .order_by("created_at")] == [("gold", "silver"), ("silver", "bronze")]


def test_climbing_back_during_the_grace_period_keeps_the_tier(program, member, clock):
    ladder_define(program, downgrade=TierPolicy.Downgrade.STEPWISE, grace_days=30)
    earn(member, 700, "p1")
    clock.move_to(T0 + timedelta(days=370))
    tier_recalculate_program(program=program)
    earn(member, 500, "p2")
    clock.move_to(T0 + timedelta(days=420))
    tier_recalculate_program(program=program)

    status = MemberTier.objects.get(member=member)
    assert (status.tier.code, status.below_since) == ("silver", None)


def test_never_downgrades_when_the_policy_says_never(program, member, clock):
    ladder_define(program, downgrade=TierPolicy.Downgrade.NEVER)
    earn(member, 2500, "p1")
    clock.move_to(T0 + timedelta(days=900))
    tier_recalculate_program(program=program)
    assert tier_of(member) == "gold"


def test_a_locked_manual_tier_survives_recalculation_until_locked_until(program, member, clock):
    tiers = ladder_define(program, downgrade=TierPolicy.Downgrade.STEPWISE, grace_days=0)
    lock_end = T0 + timedelta(days=60)
    tier_assign(member=member, tier=tiers["gold"], reason="Service recovery after a lost order", actor="user:7",
                locked_until=lock_end)
    earn(member, 10, "p1")

    clock.move_to(lock_end - timedelta(minutes=1))
    tier_recalculate_program(program=program)
    assert tier_of(member) == "gold"

    clock.move_to(lock_end + timedelta(days=1))
    tier_recalculate_program(program=program)
    assert tier_of(member) == "silver"  # stepwise: one tier per run once the lock is over
    changes = list(TierChange.objects.filter(member=member).order_by("created_at"))
    assert [(c.cause, c.from_tier.code, c.to_tier.code) for c in changes] == [
        ("manual", "bronze", "gold"), ("downgrade", "gold", "silver")]
    assert (changes[0].reason, changes[0].actor) == ("Service recovery after a lost order", "user:7")


def test_a_locked_tier_is_not_raised_by_an_earn_either(program, member, clock):
    tiers = ladder_define(program)
    tier_assign(member=member, tier=tiers["silver"], reason="Staff member", actor="user:7",
                locked_until=T0 + timedelta(days=10))
    earn(member, 5000, "p1")
    assert tier_of(member) == "silver"
    clock.move_to(T0 + timedelta(days=11))
    tier_recalculate_member(member=member)
    assert tier_of(member) == "gold"
    assert TierChange.objects.filter(member=member).first().cause == "recalc"


def test_a_manual_tier_needs_a_reason(program, member):
    tiers = ladder_define(program)
    with pytest.raises(DomainError) as raised:
        tier_assign(member=member, tier=tiers["gold"], reason="  ", actor="user:7")
    assert raised.value.code == "invalid"
    assert not MemberTier.objects.filter(member=member, tier=tiers["gold"]).exists()


def test_progress_says_how_far_the_next_tier_is_and_what_keeps_this_one(program, member, clock):
    ladder_define(program, downgrade=TierPolicy.Downgrade.END_OF_WINDOW)
    earn(member, 600, "p1")
    clock.move_to(T0 + timedelta(days=100))

    progress = member_tier_progress(member=member)

    assert (progress.tier.code, progress.next_tier.code) == ("silver", "gold")
    assert progress.qualifying_value == 600
    assert progress.needed_for_next == 1400
    assert progress.needed_to_keep == 0
    assert progress.keep_by == T0.replace(year=2027)


def test_spend_metric_over_a_calendar_year(program, member, clock):
    ladder_define(program, metric=TierPolicy.Metric.SPEND, window=TierPolicy.Window.CALENDAR_YEAR,
                  downgrade=TierPolicy.Downgrade.END_OF_WINDOW)
    earn(member, 1, "p1", spend="499.99")
    assert tier_of(member) == "bronze"
    earn(member, 1, "p2", spend="0.01")
    assert tier_of(member) == "silver"
    assert MemberTier.objects.get(member=member).valid_until.year == 2028  # kept to the end of next year

    clock.move_to(T0.replace(year=2028, month=1, day=2))  # nothing in 2027 or 2028
    tier_recalculate_program(program=program)
    assert tier_of(member) == "bronze"


def test_recalculation_is_idempotent(program, member, clock):
    ladder_define(program, downgrade=TierPolicy.Downgrade.END_OF_WINDOW)
    earn(member, 2500, "p1")
    clock.move_to(T0 + timedelta(days=400))

    first = tier_recalculate_program(program=program)
    second = tier_recalculate_program(program=program)

    assert (first.downgrades, second.downgrades, second.updated) == (1, 0, 0)

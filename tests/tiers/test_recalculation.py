"""Set-based recalculation of a program equals recalculating each member alone; task and command."""

import random
from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import transaction

from tests.factories import MemberFactory
from tiers.models import MemberTier, TierChange, TierPolicy
from tiers.services import tier_activity_record, tier_assign, tier_recalculate_member, tier_recalculate_program
from tiers.tasks import tier_recalculate_program as tier_recalculate_task

from .conftest import T0, ladder_define

POLICIES = [
    (TierPolicy.Metric.POINTS, TierPolicy.Window.ROLLING_MONTHS, TierPolicy.Downgrade.END_OF_WINDOW),
    (TierPolicy.Metric.POINTS, TierPolicy.Window.ROLLING_MONTHS, TierPolicy.Downgrade.STEPWISE),
    (TierPolicy.Metric.SPEND, TierPolicy.Window.CALENDAR_YEAR, TierPolicy.Downgrade.END_OF_WINDOW),
    (TierPolicy.Metric.CREDITS, TierPolicy.Window.CALENDAR_YEAR, TierPolicy.Downgrade.STEPWISE),
    (TierPolicy.Metric.SPEND, TierPolicy.Window.ROLLING_MONTHS, TierPolicy.Downgrade.NEVER),
]


def snapshot(program) -> tuple[dict, list]:
    statuses = {s.member_id: (s.tier_id, s.qualifying_value, s.achieved_at, s.valid_until, s.below_since)
                for s in MemberTier.objects.filter(program=program)}
    changes = sorted((c.member_id, c.from_tier_id, c.to_tier_id, c.cause, c.reason, c.qualifying_value)
                     for c in TierChange.objects.filter(program=program, actor="task:tier_recalculate"))
    return statuses, changes


def per_member_snapshot(program, members, now) -> tuple[dict, list]:
    """Recalculate each member alone, read the result, and roll it back."""
    with transaction.atomic():
        for member in members:
            tier_recalculate_member(member=member, now=now)
        result = snapshot(program)
        transaction.set_rollback(True)
    return result


@pytest.mark.parametrize(("metric", "window", "downgrade"), POLICIES)
@pytest.mark.parametrize("seed", [1, 2])
def test_set_based_recalculation_equals_per_member_recalculation(program, store, clock, metric, window, downgrade,
                                                                 seed):
    rng = random.Random(seed)
    thresholds_scale = {"points": 1, "spend": 1, "credits": Decimal("0.01")}[metric]
    tiers = ladder_define(program, metric=metric, window=window, downgrade=downgrade, grace_days=rng.choice([0, 20]))
    for tier in tiers.values():  # credits come in small numbers: thresholds 0, 5, 20
        tier.threshold = tier.threshold * thresholds_scale
        tier.save()
    members = [MemberFactory(program=program, store=store) for _ in range(40)]
    for n, member in enumerate(members):
        for k in range(rng.randint(0, 6)):
            occurred = T0 - timedelta(days=rng.randint(0, 700))
            points = rng.choice([-150, 50, 200, 400, 900, 1500]) if k else rng.randint(0, 2500)
            tier_activity_record(member=member, occurred_at=occurred, points=points,
                                 spend=Decimal(rng.randint(-5000, 150000)) / 100, credits=rng.randint(-1, 6),
                                 source_type="test", source_id=f"{n}-{k}", actor="test")
        if rng.random() < 0.15:
            tier_assign(member=member, tier=rng.choice(list(tiers.values())), reason="Random staff decision",
                        actor="user:1", locked_until=T0 + timedelta(days=rng.choice([1, 90, 400])))

    now = T0
    for _ in range(8):  # successive nightly runs months apart: grace periods, window ends, locks running out
        now = now + timedelta(days=rng.choice([1, 25, 45, 120, 200, 365]))
        clock.move_to(now)
        expected = per_member_snapshot(program, members, now)
        tier_recalculate_program(program=program, now=now, batch_members=7)  # several id-range batches
        assert snapshot(program) == expected
    if downgrade != TierPolicy.Downgrade.NEVER:  # the population did exercise the policy
        assert "downgrade" in {cause for *_, cause, _, _ in snapshot(program)[1]}


def test_the_celery_task_and_the_command_recalculate(program, member, clock):
    ladder_define(program, downgrade=TierPolicy.Downgrade.END_OF_WINDOW)
    tier_activity_record(member=member, occurred_at=T0, points=2500, spend=Decimal(2500), source_type="test",
                         source_id="p1", actor="test")
    clock.move_to(T0 + timedelta(days=400))

    summary = tier_recalculate_task.delay(str(program.pk)).get()
    assert summary["downgrades"] == 1
    assert MemberTier.objects.get(member=member).tier.code == "bronze"

    out = StringIO()
    call_command("tier_recalculate", "--program", program.slug, stdout=out)
    assert "0 downgraded" in out.getvalue()

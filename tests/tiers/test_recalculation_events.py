"""The set-based recalculation announces each tier change like the per-member path: webhook and email."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from loyalty.events import event_id_for
from notifications.models import NotificationSettings, Outbox
from notifications.services import outbox_message
from tests.factories import MemberFactory
from tiers.models import MemberTier, TierChange, TierPolicy
from tiers.services import tier_activity_record, tier_recalculate_member, tier_recalculate_program
from tiers.signals import tier_changes_recorded
from webhooks.models import WebhookDelivery, WebhookEndpoint

from .conftest import T0, ladder_define


@pytest.fixture
def gold_member(program, member, clock):
    """A gold member (reached at T0) whose qualifying activity has left the window 400 days later."""
    ladder_define(program, downgrade=TierPolicy.Downgrade.END_OF_WINDOW)
    tier_activity_record(member=member, occurred_at=T0, points=2500, spend=Decimal(2500), source_type="test",
                         source_id="p1", actor="test")
    assert MemberTier.objects.get(member=member).tier.code == "gold"
    clock.move_to(T0 + timedelta(days=400))
    return member


def downgrades():
    return WebhookDelivery.objects.filter(event_type="tier.changed", payload__data__cause="downgrade")


def test_a_downgrade_by_recalculation_is_announced_once(program, gold_member):
    WebhookEndpoint.objects.create(program=program, url="http://127.0.0.1:9/hooks", events=["tier.changed"])
    emails_before = Outbox.objects.filter(kind="tier_changed").count()  # the upgrade's

    assert tier_recalculate_program(program=program).downgrades == 1
    assert tier_recalculate_program(program=program).downgrades == 0  # a rerun: nothing more to say

    change = TierChange.objects.get(member=gold_member, cause="downgrade")
    (delivery,) = downgrades()
    assert delivery.event_id == event_id_for(program_id=program.pk, type="tier.changed", key=str(change.pk))
    body = delivery.payload
    assert (body["type"], body["program"]) == ("tier.changed", "coffee")
    assert body["data"] == {"cause": "downgrade", "from_tier": {"code": "gold", "name": "Gold"},
                            "to_tier": {"code": "bronze", "name": "Bronze"},
                            "member": {"id": str(gold_member.pk), "card_number": gold_member.card_number}}
    emails = Outbox.objects.filter(kind="tier_changed", member=gold_member)
    assert emails.count() == emails_before + 1
    email = emails.get(dedupe_key=f"tier_changed:{delivery.event_id}")
    assert email.to == "ada@example.com"
    assert "your tier changed to Bronze (from Gold)" in outbox_message(email).text


def test_a_batch_that_rolls_back_announces_nothing(program, gold_member, monkeypatch):
    WebhookEndpoint.objects.create(program=program, url="http://127.0.0.1:9/hooks", events=["tier.changed"])
    emails_before = Outbox.objects.count()

    def fail_after_the_others(sender, **kwargs):  # connected last: runs after webhooks and emails
        assert downgrades().count() == 1, "announced in the batch's transaction"
        raise RuntimeError("the batch fails after announcing")

    tier_changes_recorded.connect(fail_after_the_others)
    try:
        with pytest.raises(RuntimeError):
            tier_recalculate_program(program=program)
    finally:
        tier_changes_recorded.disconnect(fail_after_the_others)

    assert not downgrades().exists()
    assert Outbox.objects.count() == emails_before
    assert not TierChange.objects.filter(cause="downgrade").exists()
    assert MemberTier.objects.get(member=gold_member).tier.code == "gold"

    assert tier_recalculate_program(program=program).downgrades == 1
    assert downgrades().count() == 1
    assert Outbox.objects.count() == emails_before + 1


def test_nobody_listening_costs_a_batch_two_queries(program, gold_member, monkeypatch):
    NotificationSettings.objects.create(program=program, emails_enabled=False)

    def queries(send) -> int:
        with transaction.atomic(), monkeypatch.context() as patch:
            patch.setattr(tier_changes_recorded, "send", send)
            with CaptureQueriesContext(connection) as captured:
                assert tier_recalculate_program(program=program).downgrades == 1
            transaction.set_rollback(True)
        return len(captured)

    silent = queries(lambda *args, **kwargs: [])
    assert queries(tier_changes_recorded.send) == silent + 2  # the endpoints and the email settings
    assert not WebhookDelivery.objects.exists()


def test_each_batch_announces_its_own_changes_and_no_others(program, store, clock, monkeypatch):
    ladder_define(program, downgrade=TierPolicy.Downgrade.END_OF_WINDOW)
    members = [MemberFactory(program=program, store=store) for _ in range(6)]
    for n, someone in enumerate(members):
        tier_activity_record(member=someone, occurred_at=T0, points=2500, spend=Decimal(2500), source_type="test",
                             source_id=str(n), actor="test")
    now = T0 + timedelta(days=400)
    clock.move_to(now)
    # A change already written by this actor at this very moment (the per-member path) is not the batch's.
    tier_recalculate_member(member=members[0], now=now)
    earlier = TierChange.objects.get(member=members[0], cause="downgrade")
    announced = []

    def note(sender, *, program, changes, **kwargs):
        announced.append([change.pk for change in changes])

    tier_changes_recorded.connect(note)
    try:
        assert tier_recalculate_program(program=program, now=now, batch_members=2).downgrades == 5
    finally:
        tier_changes_recorded.disconnect(note)

    written = TierChange.objects.filter(cause="downgrade").exclude(pk=earlier.pk)
    assert sorted(pk for batch in announced for pk in batch) == sorted(written.values_list("pk", flat=True))
    assert all(batch for batch in announced), "a batch without changes announces nothing"

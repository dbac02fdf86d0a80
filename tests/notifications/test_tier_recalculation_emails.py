"""The nightly recalculation emails each member whose tier it changed, once, in the member's language."""

from datetime import timedelta
from decimal import Decimal

from django.core import mail

from notifications.models import NotificationSettings, Outbox
from notifications.services import outbox_send_due
from tests.factories import MemberFactory
from tiers.models import TierPolicy
from tiers.services import tier_activity_record, tier_define, tier_policy_set, tier_recalculate_program

from .conftest import T0


def test_downgraded_members_are_told_once(program, store, member, clock):
    tier_policy_set(program=program, downgrade=TierPolicy.Downgrade.END_OF_WINDOW)
    tier_define(program=program, code="bean", name="Bean", rank=1, threshold=0)
    tier_define(program=program, code="gold", name="Gold", rank=2, threshold=100)
    grete = MemberFactory(program=program, store=store, email="grete@example.com", first_name="Grete", language="de")
    silent = MemberFactory(program=program, store=store, email="")
    for n, someone in enumerate((member, grete, silent)):
        tier_activity_record(member=someone, occurred_at=T0, points=150, spend=Decimal(150), source_type="test",
                             source_id=str(n), actor="test")
    outbox_send_due()
    mail.outbox.clear()
    clock.move_to(T0 + timedelta(days=400))

    assert tier_recalculate_program(program=program, batch_members=1).downgrades == 3
    tier_recalculate_program(program=program, batch_members=1)
    outbox_send_due()

    sent = {message.to[0]: message for message in mail.outbox}
    assert set(sent) == {"ada@example.com", "grete@example.com"}, "no address, no email"
    assert sent["ada@example.com"].subject == "Your Coffee Club tier is now Bean"
    assert "your tier changed to Bean (from Gold)" in sent["ada@example.com"].body
    assert "Hallo Grete," in sent["grete@example.com"].body


def test_a_program_that_sends_no_emails_queues_none(program, member, clock):
    NotificationSettings.objects.create(program=program, emails_enabled=False)
    tier_policy_set(program=program, downgrade=TierPolicy.Downgrade.END_OF_WINDOW)
    tier_define(program=program, code="bean", name="Bean", rank=1, threshold=0)
    tier_define(program=program, code="gold", name="Gold", rank=2, threshold=100)
    tier_activity_record(member=member, occurred_at=T0, points=150, spend=Decimal(150), source_type="test",
                         source_id="1", actor="test")
    clock.move_to(T0 + timedelta(days=400))

    assert tier_recalculate_program(program=program).downgrades == 1
    assert not Outbox.objects.exists()

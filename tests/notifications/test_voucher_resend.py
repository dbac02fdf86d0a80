"""A voucher's email sent again on request, and what the outbox forgets of an anonymised member."""

import pytest
from django.core import mail

from ledger.services import points_earn
from loyalty.errors import DomainError
from members.services import member_anonymise
from notifications.models import Outbox
from notifications.services import outbox_send_due, voucher_email_resend
from rewards.models import Reward
from rewards.services import redemption_cancel, reward_redeem

pytestmark = pytest.mark.django_db


@pytest.fixture
def redemption(program, member):
    points_earn(member=member, points=100, idempotency_key="grant-1", source_type="test", actor="test")
    reward = Reward.objects.create(program=program, code="FREE-COFFEE", name="Free coffee", points_cost=50,
                                   voucher_valid_days=30)
    return reward_redeem(member=member, reward=reward, actor="test")


def test_the_voucher_email_goes_again_once_per_request(redemption):
    outbox_send_due()
    mail.outbox.clear()

    assert voucher_email_resend(redemption=redemption, request_key="a" * 32) is True
    assert voucher_email_resend(redemption=redemption, request_key="a" * 32) is False
    assert voucher_email_resend(redemption=redemption, request_key="b" * 32) is True
    outbox_send_due()

    assert len(mail.outbox) == 2
    assert all(m.subject == "Your reward: Free coffee" and redemption.voucher_code in m.body for m in mail.outbox)
    assert mail.outbox[0].to == ["ada@example.com"]


def test_a_voucher_that_cannot_be_used_is_not_sent_again(redemption):
    redemption_cancel(redemption=redemption, actor="test")
    redemption.refresh_from_db()
    with pytest.raises(DomainError, match="This voucher is cancelled"):
        voucher_email_resend(redemption=redemption, request_key="a" * 32)


def test_an_anonymised_members_outbox_keeps_nothing_of_them(member, redemption):
    assert Outbox.objects.filter(member=member, status=Outbox.Status.PENDING).exists()

    member_anonymise(member=member)

    rows = list(Outbox.objects.filter(member=member))
    assert rows and all(row.status == Outbox.Status.CANCELLED for row in rows)
    assert all((row.to, row.context, row.rendered_text) == ("", {}, "") for row in rows)
    outbox_send_due()
    assert mail.outbox == []


def test_no_email_is_queued_for_an_anonymised_member(member, redemption):
    member_anonymise(member=member)
    member.refresh_from_db()
    with pytest.raises(DomainError, match="no email address"):
        voucher_email_resend(redemption=redemption, request_key="a" * 32)

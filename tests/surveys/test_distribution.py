"""Invitations after events: sampled, delayed, one per member per cool-down across the program's surveys, only
with consent, sent by email with a link that works."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone

from earning.services import purchase_record
from loyalty.events import event_id_for
from members.services import member_consent_set, member_status_set
from notifications.models import NotificationSettings, Outbox
from programs.demo import demo_seed
from rewards.models import Reward
from rewards.services import reward_redeem
from surveys.models import FollowUpCase, Invitation, Response
from surveys.services import invitations_send_due, response_record, sampled, survey_create
from tests.factories import MemberFactory
from tests.rewards.conftest import give_points

_receipts = iter(range(1, 10_000))


def buy(store, member, total=Decimal("10.00")):
    return purchase_record(store=store, actor="test", external_id=f"R-{next(_receipts)}",
                           member_reference={"id": str(member.pk)}, currency=store.program.currency, total=total)


def later(minutes):
    return timezone.now() + timedelta(minutes=minutes)


@pytest.fixture
def shopper(program, store):
    return MemberFactory(program=program, store=store, email="sam@example.com", marketing_opt_in=True)


@pytest.fixture
def after_purchase(program):
    return survey_create(program=program, code="nps", kind="nps", on_purchase=True, delay_minutes=60,
                         cooldown_days=90)


def test_a_purchase_queues_an_invitation_sent_after_the_delay(client, store, shopper, after_purchase):
    buy(store, shopper)

    invitation = Invitation.objects.get()
    assert (invitation.member, invitation.trigger, invitation.status) == (shopper, "purchase", "pending")
    assert invitation_due_in(invitation) == pytest.approx(60, abs=1)
    assert invitations_send_due(now=later(59)) == {"sent": 0, "skipped": 0}
    assert not Outbox.objects.filter(kind="survey_invitation").exists()

    assert invitations_send_due(now=later(61)) == {"sent": 1, "skipped": 0}

    invitation.refresh_from_db()
    assert invitation.status == "sent" and invitation.expires_at - invitation.sent_at == timedelta(days=14)
    email = Outbox.objects.get(kind="survey_invitation")
    assert (email.kind, email.category, email.to) == ("survey_invitation", "marketing", "sam@example.com")
    url = email.context["data"]["survey_url"]
    path = url.removeprefix("http://127.0.0.1:8000")
    assert path.startswith("/s/")
    assert client.post(path, {"score": "10"}).status_code == 200
    assert Response.objects.get().invitation == invitation


def invitation_due_in(invitation):
    return (invitation.due_at - invitation.created_at).total_seconds() / 60


def test_no_consent_no_invitation(store, program, after_purchase):
    member = MemberFactory(program=program, store=store, marketing_opt_in=False)
    buy(store, member)
    assert not Invitation.objects.exists()


def test_consent_withdrawn_before_sending_skips_the_invitation(store, shopper, after_purchase):
    buy(store, shopper)
    member_consent_set(member=shopper, marketing_opt_in=False, source="portal")

    assert invitations_send_due(now=later(61)) == {"sent": 0, "skipped": 1}
    invitation = Invitation.objects.get()
    assert (invitation.status, invitation.skip_reason, invitation.sent_at) == ("skipped", "no marketing consent", None)
    assert not Outbox.objects.filter(kind="survey_invitation").exists()


def test_a_program_that_sends_no_emails_skips_the_invitation(store, shopper, after_purchase, program):
    buy(store, shopper)
    NotificationSettings.objects.create(program=program, emails_enabled=False)

    assert invitations_send_due(now=later(61)) == {"sent": 0, "skipped": 1}
    assert Invitation.objects.get().skip_reason == "the program sends no emails"


def test_a_suspended_member_or_a_closed_survey_is_not_invited(store, program, after_purchase):
    suspended, other = (MemberFactory(program=program, store=store, marketing_opt_in=True) for _ in range(2))
    buy(store, suspended)
    member_status_set(member=suspended, status="suspended")
    assert invitations_send_due(now=later(61)) == {"sent": 0, "skipped": 1}

    buy(store, other)
    after_purchase.active = False
    after_purchase.save()
    invitations_send_due(now=later(61))
    assert Invitation.objects.get(member=other).skip_reason == "survey closed"


def test_sampling_is_a_fixed_function_of_member_and_event(store, program):
    survey_create(program=program, code="nps", kind="nps", on_purchase=True, sampling_rate="0.5")
    members = [MemberFactory(program=program, store=store, marketing_opt_in=True) for _ in range(24)]

    purchases = [buy(store, member) for member in members]

    def occasion(purchase):
        return str(event_id_for(program_id=program.pk, type="points.earned", key=f"purchase:{purchase.pk}"))

    expected = {p.member_id for p in purchases if sampled(rate=Decimal("0.5"), member_id=p.member_id,
                                                             occasion=occasion(p))}
    assert set(Invitation.objects.values_list("member_id", flat=True)) == expected
    assert 0 < len(expected) < len(members)  # this fixed draw is a real sample


def test_sampling_extremes():
    assert sampled(rate=1, member_id="m", occasion="e") is True
    assert sampled(rate=0, member_id="m", occasion="e") is False
    draws = [sampled(rate=Decimal("0.25"), member_id=f"m{n}", occasion="e") for n in range(2000)]
    assert 400 < sum(draws) < 600


def test_one_invitation_per_cool_down_across_all_surveys_of_the_program(store, shopper, program, after_purchase,
                                                                        time_machine):
    survey_create(program=program, code="csat", kind="csat", on_purchase=True, delay_minutes=0)
    buy(store, shopper)
    buy(store, shopper)
    assert Invitation.objects.count() == 1  # the first survey (by code) invites; the second sees it waiting
    invitations_send_due(now=later(61))

    time_machine.move_to(timezone.now() + timedelta(days=30))
    buy(store, shopper)
    assert Invitation.objects.count() == 1

    time_machine.move_to(timezone.now() + timedelta(days=61))
    buy(store, shopper)
    assert Invitation.objects.count() == 2


def test_of_two_invitations_queued_the_first_due_is_sent_and_the_second_skipped(store, shopper, program):
    first = survey_create(program=program, code="a", kind="nps", on_purchase=True, delay_minutes=10)
    second = survey_create(program=program, code="b", kind="csat")
    buy(store, shopper)
    Invitation.objects.create(program=program, survey=second, member=shopper, trigger="manual", trigger_key="x",
                              due_at=later(20))

    assert invitations_send_due(now=later(30)) == {"sent": 1, "skipped": 1}
    assert Invitation.objects.get(survey=first).status == "sent"
    assert Invitation.objects.get(survey=second).skip_reason == "invited lately"


def test_no_invitation_while_a_follow_up_case_is_open(store, shopper, program, after_purchase):
    response_record(survey=after_purchase, score=2, channel="pos", actor="test", member=shopper)
    assert FollowUpCase.objects.filter(member=shopper).exists()

    buy(store, shopper)

    assert not Invitation.objects.exists()


def test_a_redemption_invites_when_the_survey_asks_for_it(store, program, shopper):
    survey_create(program=program, code="csat", kind="csat", on_redemption=True, delay_minutes=0)
    coffee = Reward.objects.create(program=program, code="FREE-COFFEE", name="Free coffee", points_cost=50)
    give_points(shopper, 100)
    buy(store, shopper)
    assert not Invitation.objects.exists()  # purchases do not invite to this survey

    reward_redeem(member=shopper, reward=coffee, store=store, actor="test")

    invitation = Invitation.objects.get()
    assert invitation.trigger == "redemption"
    assert invitations_send_due() == {"sent": 1, "skipped": 0}


def test_a_tier_change_invites_once(db):
    demo = demo_seed(api_key="survey-demo-key-0001")
    survey_create(program=demo.program, code="tier", kind="csat", on_tier_change=True, delay_minutes=0)
    member = MemberFactory(program=demo.program, store=demo.store, marketing_opt_in=True)

    buy(demo.store, member, total=Decimal("600.00"))  # crosses silver's 500 points

    invitation = Invitation.objects.get()
    assert invitation.trigger == "tier_change"
    buy(demo.store, member, total=Decimal("5.00"))
    assert Invitation.objects.count() == 1


def test_the_periodic_job_and_its_command_send_due_invitations(store, shopper, after_purchase, capsys):
    from surveys.tasks import send_due_invitations

    buy(store, shopper)
    Invitation.objects.update(due_at=timezone.now() - timedelta(minutes=1))
    call_command("survey_invitations_send")
    assert "1 sent, 0 skipped" in capsys.readouterr().out
    assert send_due_invitations() == {"sent": 0, "skipped": 0}


def test_a_batch_of_tier_changes_invites_as_single_changes_do(program, store):
    from tiers.models import TierChange
    from tiers.services import tier_define
    from tiers.signals import tier_changes_recorded

    survey_create(program=program, code="tier", kind="csat", on_tier_change=True, delay_minutes=0)
    bean = tier_define(program=program, code="bean", name="Bean", rank=1, threshold=0)
    gold = tier_define(program=program, code="gold", name="Gold", rank=2, threshold=100)
    consenting = MemberFactory(program=program, store=store, marketing_opt_in=True)
    declined = MemberFactory(program=program, store=store, marketing_opt_in=False)
    for someone in (consenting, declined):
        TierChange.objects.create(program=program, member=someone, from_tier=bean, to_tier=gold, cause="recalc",
                                  reason="test", actor="task:tier_recalculate", qualifying_value=0,
                                  created_at=timezone.now())

    tier_changes_recorded.send(sender=TierChange, program=program, changes=TierChange.objects.filter(program=program))

    assert list(Invitation.objects.values_list("member_id", "trigger")) == [(consenting.pk, "tier_change")]

"""A survey sent to a segment as a campaign: tier, store, cohort, last purchase; consent, cool-down and open
cases honoured, set-based; the same campaign sent twice invites nobody twice."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from earning.services import purchase_record
from loyalty.errors import DomainError
from members.models import Member
from members.services import member_anonymise, member_status_set
from programs.demo import demo_seed
from surveys.models import Invitation
from surveys.selectors import campaign_members
from surveys.services import (
    invitations_send_due,
    response_record,
    survey_campaign_preview,
    survey_campaign_send,
    survey_create,
)
from tests.factories import MemberFactory, StoreFactory


def invited():
    return set(Invitation.objects.values_list("member__email", flat=True))


@pytest.fixture
def survey(program):
    return survey_create(program=program, code="nps", kind="nps", cooldown_days=30)


def test_a_campaign_invites_the_consenting_members_of_the_segment_once(program, store, survey):
    yes = [MemberFactory(program=program, store=store, email=f"yes{n}@example.com", marketing_opt_in=True)
           for n in range(3)]
    MemberFactory(program=program, store=store, email="no@example.com", marketing_opt_in=False)
    suspended = MemberFactory(program=program, store=store, email="sus@example.com", marketing_opt_in=True)
    member_status_set(member=suspended, status="suspended")
    gone = MemberFactory(program=program, store=store, email="gone@example.com", marketing_opt_in=True)
    member_anonymise(member=gone)
    unhappy = MemberFactory(program=program, store=store, email="case@example.com", marketing_opt_in=True)
    response_record(survey=survey, score=0, channel="pos", actor="t", member=unhappy)

    outcome = survey_campaign_send(survey=survey, members=campaign_members(program=program), key="spring")

    assert invited() == {m.email for m in yes}
    assert outcome == {"queued": 3, "left_out": 4}
    assert survey_campaign_send(survey=survey, members=campaign_members(program=program), key="spring") == {
        "queued": 0, "left_out": 7}
    assert invitations_send_due() == {"sent": 3, "skipped": 0}


def test_members_invited_within_the_cool_down_are_left_out(program, store, survey, time_machine):
    member = MemberFactory(program=program, store=store, email="a@example.com", marketing_opt_in=True)
    survey_campaign_send(survey=survey, members=Member.objects.all(), key="one")
    invitations_send_due()

    assert survey_campaign_send(survey=survey, members=Member.objects.all(), key="two")["queued"] == 0
    time_machine.move_to(timezone.now() + timedelta(days=31))
    assert survey_campaign_send(survey=survey, members=Member.objects.all(), key="three")["queued"] == 1
    assert Invitation.objects.filter(member=member).count() == 2


def test_segments_by_tier_store_cohort_and_last_purchase(db):
    demo = demo_seed(api_key="campaign-key-0001")
    program, store = demo.program, demo.store
    other_store = StoreFactory(program=program, code="DEMO-002")
    now = timezone.now()
    gold = MemberFactory(program=program, store=store, email="gold@example.com")
    purchase_record(store=store, actor="t", external_id="G-1", member_reference={"id": str(gold.pk)},
                    currency="EUR", total=Decimal("2500.00"))
    elsewhere = MemberFactory(program=program, store=other_store, email="else@example.com")
    Member.objects.filter(pk=elsewhere.pk).update(enrolled_at=now - timedelta(days=400))

    def emails(**criteria):
        return set(campaign_members(program=program, **criteria).values_list("email", flat=True))

    assert emails(tier_code="gold") == {"gold@example.com"}
    assert emails(store_code="DEMO-002") == {"else@example.com"}
    assert "else@example.com" not in emails(enrolled_from=now - timedelta(days=30))
    assert emails(enrolled_to=now - timedelta(days=365)) == {"else@example.com"}
    assert emails(purchased_since=now - timedelta(days=1)) == {"gold@example.com"}
    assert "gold@example.com" not in emails(not_purchased_since=now - timedelta(days=1))


def test_another_programs_members_are_never_invited(program, other_program, survey):
    MemberFactory(program=other_program, email="x@example.com", marketing_opt_in=True)
    assert survey_campaign_send(survey=survey, members=Member.objects.all(), key="k")["queued"] == 0


def test_a_closed_survey_sends_no_campaign(program, survey):
    survey.active = False
    survey.save()
    with pytest.raises(DomainError):
        survey_campaign_send(survey=survey, members=Member.objects.all(), key="k")


def test_the_preview_counts_what_the_campaign_would_invite_and_sends_nothing(program, other_program, store, survey):
    MemberFactory(program=program, store=store, email="yes@example.com", marketing_opt_in=True)
    MemberFactory(program=program, store=store, email="no@example.com", marketing_opt_in=False)
    MemberFactory(program=other_program, email="x@example.com", marketing_opt_in=True)

    preview = survey_campaign_preview(survey=survey, members=Member.objects.all(), key="k")

    assert preview == {"matching": 2, "invitable": 1, "left_out": 1}
    assert not Invitation.objects.exists()
    assert survey_campaign_send(survey=survey, members=Member.objects.all(), key="k") == {"queued": 1, "left_out": 1}
    assert survey_campaign_preview(survey=survey, members=Member.objects.all(), key="k")["invitable"] == 0

"""Retries race: the same till answer from many threads, the same link submitted at once, two invitation senders
at once; each lands once (PostgreSQL row locks, not luck)."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from ledger.models import LedgerTransaction
from notifications.models import Outbox
from surveys.models import FollowUpCase, Invitation, Response
from surveys.services import invitation_token, invitations_send_due, survey_create
from tests.concurrency import race, results_of, run_together
from tests.conftest import pos_client
from tests.factories import MemberFactory

from .conftest import sent_invitation

pytestmark = pytest.mark.django_db(transaction=True)


def test_ten_identical_till_answers_store_one_answer_one_case_one_bonus(api_key, program, member):
    survey_create(program=program, code="nps", kind="nps", bonus_points=10)
    body = {"external_id": "S-RACE", "survey": "nps", "member": {"card_number": member.card_number}, "score": 2}

    responses = race(10, lambda: pos_client(api_key).post("/api/v1/pos/surveys/responses/", body, format="json"))

    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(201) == 1 and set(statuses) <= {200, 201, 409}
    assert Response.objects.count() == 1 and FollowUpCase.objects.count() == 1
    assert LedgerTransaction.objects.filter(source_type="survey").count() == 1


def test_a_link_submitted_at_once_from_many_tabs_stores_one_answer(program, member):
    survey = survey_create(program=program, code="nps", kind="nps", bonus_points=10)
    path = f"/s/{invitation_token(sent_invitation(survey, member))}/"

    responses = race(8, lambda: Client().post(path, {"score": "3"}))

    assert sorted(r.status_code for r in responses) == [200] + [410] * 7
    assert Response.objects.count() == 1 and FollowUpCase.objects.count() == 1
    assert LedgerTransaction.objects.filter(source_type="survey").count() == 1


def test_two_senders_at_once_send_each_invitation_once(program, store):
    survey = survey_create(program=program, code="nps", kind="nps")
    past = timezone.now() - timedelta(minutes=1)
    for n in range(6):
        member = MemberFactory(program=program, store=store, marketing_opt_in=True)
        Invitation.objects.create(program=program, survey=survey, member=member, trigger="manual",
                                  trigger_key=f"k{n}", due_at=past)

    outcomes = results_of(run_together([invitations_send_due, invitations_send_due]))

    assert sum(outcome["sent"] for outcome in outcomes) == 6
    assert Outbox.objects.filter(kind="survey_invitation").count() == 6
    assert set(Invitation.objects.values_list("status", flat=True)) == {"sent"}

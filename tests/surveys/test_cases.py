"""Working a follow-up case: allowed moves, a root cause to close, a history of who did what, overdue cases, and
the member's say on the resolution (an unhappy answer reopens the case)."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from loyalty.errors import DomainError
from surveys.models import FollowUpCase, FollowUpCaseChange, Invitation
from surveys.selectors import case_list, cases_overdue
from surveys.services import (
    case_update,
    invitation_answer,
    invitation_token,
    invitations_send_due,
    response_record,
    survey_create,
)
from tests.factories import MemberFactory


@pytest.fixture
def manager(db):
    return get_user_model().objects.create_user("case-manager", password="unused-password-0001")


@pytest.fixture
def case(program, store):
    member = MemberFactory(program=program, store=store, marketing_opt_in=True, email="dora@example.com")
    survey = survey_create(program=program, code="nps", kind="nps")
    return response_record(survey=survey, score=1, channel="pos", actor="test", member=member,
                           comment="Cold coffee").case


def test_a_case_is_assigned_worked_and_closed_with_its_root_cause(case, manager):
    case = case_update(case=case, actor=manager, assignee=manager, status="in_progress", note="Called the member.")
    assert (case.status, case.assignee) == ("in_progress", manager)
    assert "case-manager: Called the member." in case.notes

    with pytest.raises(DomainError) as refused:
        case_update(case=case, actor=manager, status="closed")
    assert refused.value.errors[0]["field"] == "root_cause"
    assert FollowUpCase.objects.get().status == "in_progress"

    case = case_update(case=case, actor=manager, status="closed", root_cause="Machine not cleaned")
    assert case.status == "closed" and case.closed_at is not None and case.root_cause == "Machine not cleaned"
    assert list(FollowUpCaseChange.objects.values_list("from_status", "to_status", "actor_name")) == [
        ("open", "in_progress", "case-manager"), ("in_progress", "closed", "case-manager")]


def test_moves_that_make_no_sense_are_refused(case, manager):
    case_update(case=case, actor=manager, status="closed", root_cause="Staff")
    with pytest.raises(DomainError) as refused:
        case_update(case=case, actor=manager, status="resolved")
    assert refused.value.code == "invalid_transition"
    with pytest.raises(DomainError):
        case_update(case=case, actor=manager, status="nonsense")
    reopened = case_update(case=case, actor=manager, status="in_progress", note="Member wrote again")
    assert reopened.closed_at is None


def test_overdue_cases_are_those_still_open_past_their_due_date(case, manager, program):
    assert list(cases_overdue(program=program)) == []
    later = case.due_at + timedelta(minutes=1)
    assert list(cases_overdue(program=program, now=later)) == [case]
    case_update(case=case, actor=manager, status="resolved")
    assert list(cases_overdue(program=program, now=later)) == []
    assert list(case_list(program=program, statuses=["resolved"])) == [case]


def test_resolving_asks_the_member_and_an_unhappy_answer_reopens_the_case(case, manager, client):
    case_update(case=case, actor=manager, status="resolved", note="Replaced the machine", ask_member=True)

    assert invitations_send_due(now=timezone.now() + timedelta(seconds=1)) == {"sent": 1, "skipped": 0}
    invitation = Invitation.objects.get(trigger="case_resolution")
    page = client.get(f"/s/{invitation_token(invitation)}/").content.decode()
    assert "How satisfied are you with how we handled your feedback?" in page and "<textarea" not in page

    recorded = invitation_answer(token=invitation_token(invitation), score=1)

    assert recorded.case is None  # the answer is about this case: it opens no second one
    case.refresh_from_db()
    assert case.status == "in_progress"
    assert FollowUpCase.objects.count() == 1
    assert FollowUpCaseChange.objects.last().actor_name == "the member's answer"


def test_a_happy_answer_about_the_resolution_leaves_the_case_resolved(case, manager):
    case_update(case=case, actor=manager, status="resolved", ask_member=True)
    invitations_send_due(now=timezone.now() + timedelta(seconds=1))
    invitation_answer(token=invitation_token(Invitation.objects.get(trigger="case_resolution")), score=4)
    case.refresh_from_db()
    assert case.status == "resolved"


def test_resolving_twice_asks_once(case, manager):
    case_update(case=case, actor=manager, status="resolved", ask_member=True)
    case_update(case=case, actor=manager, status="in_progress")
    case_update(case=case, actor=manager, status="resolved", ask_member=True)
    assert Invitation.objects.filter(trigger="case_resolution").count() == 1


def test_a_form_sent_twice_changes_the_case_once(case, manager):
    case_update(case=case, actor=manager, note="Called", status="in_progress", seen_changes=0)
    with pytest.raises(DomainError) as refused:
        case_update(case=case, actor=manager, note="Called", status="in_progress", seen_changes=0)
    assert refused.value.code == "case_changed"
    case.refresh_from_db()
    assert case.notes.count("Called") == 1 and case.changes.count() == 1

"""The member's surveys in the portal: the invitations they can still answer, on their card page and a page of
their own, each opening the survey's own signed page; nobody else's, nothing answered or expired."""

from datetime import timedelta

import pytest
from django.utils import timezone

from surveys.models import Invitation, Response
from surveys.services import survey_create
from tests.surveys.conftest import sent_invitation


@pytest.fixture
def nps(program):
    return survey_create(program=program, code="nps", kind="nps")


def test_without_invitations_the_page_says_none_and_the_card_has_no_panel(member_client, program):
    assert 'data-testid="no-surveys"' in member_client.get(f"/portal/{program.slug}/surveys/").text
    assert "Your opinion, please" not in member_client.get(f"/portal/{program.slug}/").text


def test_a_waiting_survey_is_on_the_card_and_its_page_and_answers_once(member_client, member_with_login, nps,
                                                                       program):
    sent_invitation(nps, member_with_login)
    home = member_client.get(f"/portal/{program.slug}/").text
    page = member_client.get(f"/portal/{program.slug}/surveys/").text
    assert "Your opinion, please" in home
    assert "How likely are you to recommend Coffee Club to a friend?" in page
    url = page.split('class="btn btn-primary" href="')[1].split('"')[0]
    assert url.startswith("/s/")

    answered = member_client.post(url, {"score": "9", "comment": "Friendly"})
    assert answered.status_code in (200, 302)
    assert Response.objects.filter(member=member_with_login, score=9).count() == 1
    assert 'data-testid="no-surveys"' in member_client.get(f"/portal/{program.slug}/surveys/").text


def test_answered_expired_and_closed_surveys_and_other_members_are_not_listed(member_client, member_with_login,
                                                                             other_member, nps, program):
    sent_invitation(nps, other_member, key="theirs")
    expired = sent_invitation(nps, member_with_login, key="expired")
    Invitation.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    answered = sent_invitation(nps, member_with_login, key="answered")
    Invitation.objects.filter(pk=answered.pk).update(answered_at=timezone.now(), status="answered")
    unsent = sent_invitation(nps, member_with_login, key="unsent")
    Invitation.objects.filter(pk=unsent.pk).update(sent_at=None, status="pending")
    assert 'data-testid="no-surveys"' in member_client.get(f"/portal/{program.slug}/surveys/").text

    sent_invitation(nps, member_with_login, key="open")
    nps.active = False
    nps.save(update_fields=["active"])
    assert 'data-testid="no-surveys"' in member_client.get(f"/portal/{program.slug}/surveys/").text


def test_in_german_the_question_is_the_surveys_german_one(member_client, member_with_login, nps, program):
    member_with_login.language = "de"
    member_with_login.save(update_fields=["language"])
    sent_invitation(nps, member_with_login)
    page = member_client.get(f"/portal/{program.slug}/surveys/").text
    assert "Umfragen" in page and "Coffee Club" in page and "Antworten" in page


def test_signed_out_the_page_asks_to_sign_in(client, program):
    response = client.get(f"/portal/{program.slug}/surveys/")
    assert response.status_code == 302 and "/login/" in response["Location"]

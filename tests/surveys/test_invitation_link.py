"""The survey page behind an invitation email's link: /s/<token>/, no sign-in, one answer per invitation."""

import re
from datetime import timedelta

import pytest
from django.core import signing
from django.urls import reverse
from django.utils import timezone

from ledger.models import LedgerTransaction
from notifications.services import unsubscribe_token
from surveys.models import FollowUpCase, Invitation, Response
from surveys.services import invitation_token, survey_create
from tests.factories import MemberFactory

from .conftest import sent_invitation


def link(invitation):
    return reverse("surveys:answer", kwargs={"token": invitation_token(invitation)})


@pytest.fixture
def invitation(nps_survey, member):
    return sent_invitation(nps_survey, member)


def test_the_page_asks_the_question_with_a_labelled_scale_and_a_reason(client, invitation):
    response = client.get(link(invitation))

    assert response.status_code == 200
    page = response.content.decode()
    assert "How likely are you to recommend Coffee Club to a friend?" in page
    assert re.search(r'<input type="radio" name="score" value="0"[^>]*>\s*<span>0 Not at all likely</span>', page)
    assert re.search(r'<span>10 Extremely likely</span>', page)
    assert all(f'value="{score}"' in page for score in range(11))
    assert "What is the main reason for your score?" in page and "<textarea" in page
    assert re.search(r'<button type="submit"[^>]*>Send</button>', page)
    assert response["Cache-Control"].startswith("max-age=0")


def test_the_page_is_in_the_members_language(client, nps_survey, program, store):
    german = MemberFactory(program=program, store=store, language="de")
    page = client.get(link(sent_invitation(nps_survey, german))).content.decode()

    assert '<html lang="de">' in page
    assert "Wie wahrscheinlich ist es, dass Sie Coffee Club einem Freund oder einer Freundin empfehlen?" in page
    assert "0 Überhaupt nicht wahrscheinlich" in page and "10 Äußerst wahrscheinlich" in page
    assert "Was ist der wichtigste Grund für Ihre Bewertung?" in page
    assert ">Senden</button>" in page


def test_without_a_chosen_language_the_browser_decides(client, invitation):
    page = client.get(link(invitation), HTTP_ACCEPT_LANGUAGE="de-DE,de;q=0.9").content.decode()
    assert ">Senden</button>" in page


def test_an_answer_is_stored_once_and_thanked_for(client, invitation, member):
    response = client.post(link(invitation), {"score": "3", "comment": "  The queue was long  "})

    assert response.status_code == 200
    assert "Thank you" in response.content.decode()
    answer = Response.objects.get()
    assert (answer.score, answer.category, answer.comment, answer.channel) == (3, "detractor", "The queue was long",
                                                                               "email")
    assert answer.member == member and answer.invitation == invitation
    invitation.refresh_from_db()
    assert invitation.answered_at is not None and invitation.status == "answered"
    assert FollowUpCase.objects.get().response == answer


def test_a_double_submit_stores_one_answer(client, invitation):
    client.post(link(invitation), {"score": "9"})
    again = client.post(link(invitation), {"score": "10"})

    assert again.status_code == 410
    assert "Already answered" in again.content.decode()
    assert list(Response.objects.values_list("score", flat=True)) == [9]


def test_a_used_link_shows_a_clear_page(client, invitation):
    client.post(link(invitation), {"score": "9"})

    response = client.get(link(invitation))

    assert response.status_code == 410
    assert "This survey has been answered already." in response.content.decode()


@pytest.mark.parametrize("token", ["nonsense", "eyJpIjoiMSJ9:forged", "a" * 300,
                                   signing.Signer(salt="surveys.invitation").sign_object({"i": "not-a-uuid"}),
                                   signing.Signer(salt="surveys.invitation").sign_object(["x"]),
                                   signing.Signer(salt="other").sign_object({"i": "x"})])
def test_a_forged_link_is_404_with_a_clear_page_and_stores_nothing(client, invitation, token):
    for response in (client.get(f"/s/{token}/"), client.post(f"/s/{token}/", {"score": "9"})):
        assert response.status_code == 404
        assert "This survey link is not valid." in response.content.decode()
    assert not Response.objects.exists()


def test_an_altered_link_is_404(client, invitation, nps_survey, member):
    token = invitation_token(invitation)
    other = sent_invitation(nps_survey, member, key="other")
    signature = token.partition(":")[2]
    forged = invitation_token(other).partition(":")[0] + ":" + signature
    assert client.post(f"/s/{forged}/", {"score": "9"}).status_code == 404
    assert client.get(f"/s/{unsubscribe_token(member=member)}/").status_code == 404
    assert not Response.objects.exists()


def test_a_link_not_yet_sent_is_404(client, nps_survey, member):
    pending = Invitation.objects.create(program=nps_survey.program, survey=nps_survey, member=member,
                                        trigger="purchase", trigger_key="e-1")
    assert client.get(link(pending)).status_code == 404


def test_an_expired_link_is_410_and_stores_nothing(client, invitation):
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    for response in (client.get(link(invitation)), client.post(link(invitation), {"score": "9"})):
        assert response.status_code == 410
        assert "This survey link has expired" in response.content.decode()
    assert not Response.objects.exists()


def test_a_link_to_a_survey_switched_off_is_410(client, invitation, nps_survey):
    nps_survey.active = False
    nps_survey.save()
    assert client.post(link(invitation), {"score": "9"}).status_code == 410
    assert not Response.objects.exists()


@pytest.mark.parametrize("data", [{}, {"score": ""}, {"score": "11"}, {"score": "-1"}, {"score": "abc"},
                                  {"score": "9" * 40}, {"score": "5", "comment": "x" * 2001},
                                  {"score": "5", "comment": "a\x00b"}])
def test_a_bad_answer_answers_the_form_again_with_400_and_stores_nothing(client, invitation, data):
    response = client.post(link(invitation), data)

    assert response.status_code == 400
    assert 'class="field-error"' in response.content.decode()
    assert not Response.objects.exists()
    invitation.refresh_from_db()
    assert invitation.answered_at is None


def test_a_missing_score_says_so_beside_the_field(client, invitation):
    page = client.post(link(invitation), {"comment": "kept"}).content.decode()
    assert "Choose a score." in page and ">\nkept</textarea>" in page


def test_a_csat_survey_shows_its_five_point_scale(client, program, member):
    survey = survey_create(program=program, code="csat", kind="csat")
    page = client.get(link(sent_invitation(survey, member))).content.decode()
    assert "How satisfied are you with Coffee Club?" in page
    assert "1 Very dissatisfied" in page and "5 Very satisfied" in page and 'value="0"' not in page
    assert client.post(link(sent_invitation(survey, member, key="2")), {"score": "0"}).status_code == 400


def test_extra_questions_are_asked_and_stored(client, program, member):
    survey = survey_create(program=program, code="nps2", kind="nps", extra_questions=[
        {"id": "visit", "type": "choice", "text_en": "Where did you shop?", "text_de": "Wo haben Sie eingekauft?",
         "choices_en": ["In a store", "Online"], "choices_de": ["Im Geschäft", "Online"]},
        {"id": "idea", "type": "text", "text_en": "One idea for us?", "text_de": "Eine Idee für uns?"},
    ])
    invitation = sent_invitation(survey, member)
    page = client.get(link(invitation)).content.decode()
    assert "Where did you shop?" in page and "In a store" in page and "One idea for us?" in page

    assert client.post(link(invitation), {"score": "10", "q_visit": "1", "q_idea": "More oat milk"}).status_code == 200
    assert Response.objects.get().answers == {"visit": 1, "idea": "More oat milk"}


def test_the_bonus_is_posted_once_per_member_and_survey(client, program, member):
    survey = survey_create(program=program, code="nps-bonus", kind="nps", bonus_points=50)
    first, second = sent_invitation(survey, member, key="1"), sent_invitation(survey, member, key="2")

    thanks = client.post(link(first), {"score": "9"}).content.decode()
    client.post(link(first), {"score": "9"})
    again = client.post(link(second), {"score": "8"}).content.decode()

    assert "50 bonus points have been added to your account." in thanks
    assert "bonus points" not in again

    member.account.refresh_from_db()
    assert member.account.available == 50
    assert LedgerTransaction.objects.filter(source_type="survey").count() == 1
    assert list(Response.objects.order_by("answered_at").values_list("incentivised", flat=True)) == [True, False]


def test_without_a_bonus_nothing_is_posted_and_nothing_is_incentivised(client, invitation, member):
    client.post(link(invitation), {"score": "9"})
    assert not LedgerTransaction.objects.filter(source_type="survey").exists()
    assert Response.objects.get().incentivised is False


def test_the_form_needs_its_csrf_token(invitation):
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    page = browser.get(link(invitation)).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)[1]

    assert browser.post(link(invitation), {"score": "9"}).status_code == 403
    assert not Response.objects.exists()
    assert browser.post(link(invitation), {"score": "9", "csrfmiddlewaretoken": token}).status_code == 200
    assert Response.objects.count() == 1


def test_a_german_thank_you(client, nps_survey, program, store):
    german = MemberFactory(program=program, store=store, language="de")
    page = client.post(link(sent_invitation(nps_survey, german)), {"score": "10"}).content.decode()
    assert "Vielen Dank" in page and "Wir haben Ihre Antwort erhalten." in page


def test_a_promoter_is_asked_to_bring_a_friend_with_their_referral_code(client, nps_survey, program, store):
    fan = MemberFactory(program=program, store=store, language="de")
    page = client.post(link(sent_invitation(nps_survey, fan)), {"score": "10"}).content.decode()
    assert "Kennen Sie jemanden, dem Coffee Club gefallen würde?" in page and fan.referral_code in page

    critic = MemberFactory(program=program, store=store)
    page = client.post(link(sent_invitation(nps_survey, critic)), {"score": "8"}).content.decode()
    assert critic.referral_code not in page and "Know someone" not in page

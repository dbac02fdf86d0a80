"""A member answers a survey from the invitation email's link on a phone: no sign-in, one answer, a case opened."""

from urllib.parse import urlsplit

from notifications.models import Outbox
from surveys.models import FollowUpCase, Response, Survey
from surveys.services import invitations_send_due
from tests.conftest import pos_client
from tests.e2e.conftest import DEMO_API_KEY, assert_accessible, no_horizontal_overflow, screenshot


def test_a_member_answers_from_the_email_link_on_a_phone(phone_page, demo):
    Survey.objects.filter(program=demo.program, code="nps").update(on_purchase=True, sampling_rate=1,
                                                                   delay_minutes=0)
    member = demo.members[0]
    purchase = pos_client(DEMO_API_KEY).post(
        "/api/v1/pos/purchases/", {"external_id": "E2E-SURVEY-1", "member": {"id": str(member.id)},
                                   "currency": "EUR", "total": "12.50"}, format="json")
    assert purchase.status_code == 201
    assert invitations_send_due()["sent"] == 1
    url = Outbox.objects.get(kind="survey_invitation", member=member).context["data"]["survey_url"]
    link = urlsplit(url).path

    page = phone_page
    page.goto(link)
    assert page.get_by_text("How likely are you to recommend Demo Coffee Club to a friend?").is_visible()
    assert page.get_by_label("0 Not at all likely").is_visible()
    assert page.get_by_label("10 Extremely likely").is_visible()
    assert no_horizontal_overflow(page)
    assert_accessible(page)
    screenshot(page, "survey-phone.png")

    page.get_by_role("button", name="Send").click()  # no score chosen: the form says so
    assert page.get_by_text("Choose a score.").first.is_visible()
    assert_accessible(page)

    page.get_by_label("3", exact=True).check()
    page.get_by_label("What is the main reason for your score?").fill("The queue was far too long.")
    page.get_by_role("button", name="Send").click()

    assert page.get_by_role("heading", name="Thank you").is_visible()
    assert_accessible(page)
    screenshot(page, "survey-thanks-phone.png")
    answer = Response.objects.get(member=member)
    assert (answer.score, answer.comment) == (3, "The queue was far too long.")
    assert FollowUpCase.objects.get(response=answer).status == "open"

    page.goto(link)  # the link works once
    assert page.get_by_role("heading", name="Already answered").is_visible()
    assert Response.objects.count() == 1

"""A new password by email: the same answer for members and strangers, a link that works once, for a while, in its
own program only, and a form that cannot be used to flood a mailbox."""

from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from members.links import PASSWORD_LINK_HOURS
from members.models import Member
from members.services import member_login_create
from notifications.models import Category, NotificationSettings, Outbox
from portal.links import ASKS_PER_ADDRESS_PER_HOUR, EMAILS_PER_MAILBOX_PER_HOUR
from tests.factories import MemberFactory

from .conftest import PASSWORD, signed_in
from .emailed_links import last_link, queued, sent_message

NEW_PASSWORD = "another-long-secret-7"


def ask(client, program, email, **extra):
    return client.post(f"/portal/{program.slug}/password/reset/", {"email": email, **extra})


def can_sign_in(member, password) -> bool:
    response = Client().post(f"/portal/{member.program.slug}/login/", {"email": member.email, "password": password})
    return response.status_code == 302


def test_the_sign_in_page_links_to_the_reset_page(program):
    page = Client().get(f"/portal/{program.slug}/login/").text
    assert f'href="/portal/{program.slug}/password/reset/"' in page and "Forgot your password?" in page


def test_the_reset_page_has_an_email_field_and_a_send_button(program):
    page = Client().get(f"/portal/{program.slug}/password/reset/").text
    assert '<label for="id_email">Email' in page and ">Send reset link</button>" in page


def test_a_member_gets_a_link_and_a_stranger_the_same_answer_and_nothing(member_with_login, program):
    member_answer = ask(Client(), program, "ADA@example.com")
    stranger_answer = ask(Client(), program, "nobody@example.com")

    assert member_answer.status_code == stranger_answer.status_code == 302
    assert member_answer["Location"] == stranger_answer["Location"] == f"/portal/{program.slug}/password/reset/sent/"
    (row,) = queued("password_reset")
    assert row.member_id == member_with_login.pk and row.to == "ada@example.com"
    assert row.category == Category.TRANSACTIONAL  # no marketing consent needed (Ada gave none)
    sent_page = Client().get(member_answer["Location"])
    assert sent_page.status_code == 200 and "If the email belongs to a member of Coffee Club" in sent_page.text


def test_the_email_carries_the_link_in_text_and_html(member_with_login, program):
    ask(Client(), program, member_with_login.email)
    (row,) = queued("password_reset")

    message = sent_message(row)

    assert message.to == ["ada@example.com"] and message.subject == "Set a new password for Coffee Club"
    link = row.context["data"]["link"]
    assert link.startswith("http://127.0.0.1:8000/portal/coffee/password/reset/")
    assert link in message.body and "works once, for 2 hours" in message.body
    assert f'href="{link}"' in message.alternatives[0][0]


def test_the_link_comes_from_the_site_address_not_the_requests_host(member_with_login, program, settings):
    settings.ALLOWED_HOSTS = ["*"]
    ask(Client(HTTP_HOST="evil.example"), program, member_with_login.email)
    (row,) = queued("password_reset")
    assert row.context["data"]["link"].startswith("http://127.0.0.1:8000/")


def test_the_link_sets_a_new_password_and_signs_in(member_with_login, program):
    ask(Client(), program, member_with_login.email)
    client = Client()
    link = last_link("password_reset")

    page = client.get(link)
    assert page.status_code == 200
    assert '<label for="id_password">New password' in page.text and ">Save password</button>" in page.text

    response = client.post(link, {"password": NEW_PASSWORD})

    assert response.status_code == 302 and response["Location"] == f"/portal/{program.slug}/"
    home = client.get(response["Location"])
    assert home.status_code == 200 and member_with_login.card_number in home.text
    assert "Your new password is saved" in home.text
    assert can_sign_in(member_with_login, NEW_PASSWORD) and not can_sign_in(member_with_login, PASSWORD)


def test_the_link_works_once(member_with_login, program):
    ask(Client(), program, member_with_login.email)
    link = last_link("password_reset")
    assert Client().post(link, {"password": NEW_PASSWORD}).status_code == 302

    again = Client().get(link)
    assert again.status_code == 404 and "This link does not work" in again.text
    stranger = Client().post(link, {"password": "yet-another-secret-9"})
    assert stranger.status_code == 404
    assert can_sign_in(member_with_login, NEW_PASSWORD)


def test_a_double_submit_of_the_new_password_lands_signed_in(member_with_login, program):
    ask(Client(), program, member_with_login.email)
    link, client = last_link("password_reset"), Client()
    assert client.post(link, {"password": NEW_PASSWORD}).status_code == 302

    twice = client.post(link, {"password": NEW_PASSWORD})

    assert twice.status_code == 302 and twice["Location"] == f"/portal/{program.slug}/"


def test_the_link_expires(member_with_login, program):
    ask(Client(), program, member_with_login.email)
    link = last_link("password_reset")
    with time_machine.travel(timezone.now() + timedelta(hours=PASSWORD_LINK_HOURS, minutes=1)):
        response = Client().get(link)
    assert response.status_code == 404
    with time_machine.travel(timezone.now() + timedelta(hours=PASSWORD_LINK_HOURS, minutes=-5)):
        assert Client().get(link).status_code == 200


def test_signing_in_meanwhile_voids_the_link(member_with_login, program):
    ask(Client(), program, member_with_login.email)
    link = last_link("password_reset")
    signed_in(Client(), member_with_login)
    assert Client().get(link).status_code == 404


def test_a_bad_new_password_is_refused_beside_the_field_and_changes_nothing(member_with_login, program):
    ask(Client(), program, member_with_login.email)
    link = last_link("password_reset")
    for bad in ("", "short", "12345678901", "password123", "ada@example.com", "x" * 5000):
        response = Client().post(link, {"password": bad})
        assert response.status_code == 400, bad
        assert 'id="id_password_error"' in response.text, bad
    assert Client().get(link).status_code == 200, "a refused password does not spend the link"
    assert can_sign_in(member_with_login, PASSWORD)


def test_a_link_of_one_program_does_not_work_in_another(member_with_login, program, other_program, foreign_member):
    ask(Client(), program, member_with_login.email)
    link = last_link("password_reset")
    elsewhere = link.replace(f"/portal/{program.slug}/", f"/portal/{other_program.slug}/")

    assert Client().get(elsewhere).status_code == 404
    assert Client().post(elsewhere, {"password": NEW_PASSWORD}).status_code == 404
    assert can_sign_in(member_with_login, PASSWORD)


def test_the_same_person_in_two_programs_gets_each_programs_own_link(member_with_login, program, other_program):
    twin = MemberFactory(program=other_program, email=member_with_login.email, first_name="Ada")
    member_login_create(member=twin, password=PASSWORD)
    ask(Client(), other_program, twin.email)

    link = last_link("password_reset", member=twin)
    assert f"/portal/{other_program.slug}/" in link
    assert Client().post(link, {"password": NEW_PASSWORD}).status_code == 302
    assert can_sign_in(twin, NEW_PASSWORD) and can_sign_in(member_with_login, PASSWORD)


def test_an_altered_or_junk_link_is_404_never_500(member_with_login, program):
    ask(Client(), program, member_with_login.email)
    link = last_link("password_reset")
    base = f"/portal/{program.slug}/password/reset"
    uid, token = link.rstrip("/").split("/")[-2:]
    huge_uid = "MTIzNDU2Nzg5MDEyMzQ1Njc4OTA"  # 12345678901234567890
    for path in (f"{base}/{uid}/{token[:-1]}x/", f"{base}/{uid}/nonsense/", f"{base}/{huge_uid}/{token}/",
                 f"{base}/%00/{token}/", f"{base}/{'A' * 500}/{token}/", f"{base}/{uid}/{'9' * 2000}/",
                 f"{base}/LTE/{token}/", f"{base}/{uid}/-/", f"{base}/{uid}/zzzzzzzzzzzzzzzz-{token.split('-')[1]}/"):
        assert Client().get(path).status_code == 404, path
        assert Client().post(path, {"password": NEW_PASSWORD}).status_code == 404, path
    assert can_sign_in(member_with_login, PASSWORD)


def test_a_bad_email_is_refused_beside_the_field(program):
    for bad in ("", "not an email", "\x00@example.com", "a" * 300 + "@example.com"):
        response = ask(Client(), program, bad)
        assert response.status_code == 400, bad
        assert 'id="id_email_error"' in response.text, bad
    assert not Outbox.objects.exists()


def test_a_garbled_form_id_still_sends_the_link(member_with_login, program):
    for junk in ("not-a-uuid", "\x00", "x" * 500):
        assert ask(Client(), program, member_with_login.email, request=junk).status_code == 302
    assert len(queued("password_reset")) == 3


def test_a_double_submit_sends_one_email(member_with_login, program):
    form_id = "6f1c1f77-9a57-4d3c-b1f2-5e0a3c6c1c11"
    client = Client()
    ask(client, program, member_with_login.email, request=form_id)
    ask(client, program, member_with_login.email, request=form_id)
    assert len(queued("password_reset")) == 1


def test_a_mailbox_gets_a_few_links_an_hour_whatever_is_asked(member_with_login, program):
    answers = {ask(Client(REMOTE_ADDR=f"10.0.0.{n}"), program, member_with_login.email).status_code
               for n in range(EMAILS_PER_MAILBOX_PER_HOUR + 3)}
    assert answers == {302}, "asking too often answers the same, so it tells nothing"
    assert len(queued("password_reset")) == EMAILS_PER_MAILBOX_PER_HOUR
    with time_machine.travel(timezone.now() + timedelta(hours=1, minutes=1)):
        ask(Client(), program, member_with_login.email)
    assert len(queued("password_reset")) == EMAILS_PER_MAILBOX_PER_HOUR + 1


def test_one_address_on_the_internet_may_ask_a_limited_number_of_times(program):
    client = Client(REMOTE_ADDR="203.0.113.9")
    for n in range(ASKS_PER_ADDRESS_PER_HOUR):
        assert ask(client, program, f"someone{n}@example.com").status_code == 302
    refused = ask(client, program, "one-more@example.com")
    assert refused.status_code == 429 and "Too many requests" in refused.text
    assert ask(Client(REMOTE_ADDR="203.0.113.10"), program, "else@example.com").status_code == 302


def test_a_member_enrolled_at_the_till_is_sent_the_claim_link_instead(member, program):
    assert member.user is None
    response = ask(Client(), program, member.email)
    assert response["Location"] == f"/portal/{program.slug}/password/reset/sent/"
    assert not queued("password_reset")
    (row,) = queued("card_claim")
    assert row.member_id == member.pk


def test_a_staff_login_is_never_reset_from_the_portal(member, program):
    boss = get_user_model().objects.create_user(username="boss", password=PASSWORD, is_staff=True)
    Member.objects.filter(pk=member.pk).update(user=boss)
    assert ask(Client(), program, member.email).status_code == 302
    assert not Outbox.objects.exists()


def test_the_email_speaks_the_page_language_unless_the_member_chose_one(member_with_login, program):
    ask(Client(HTTP_ACCEPT_LANGUAGE="de-DE,de;q=0.9"), program, member_with_login.email, request=
        "0b7b6c1e-6c5b-4a0e-9d55-3d1f2f1f0a01")
    (german,) = queued("password_reset")
    message = sent_message(german)
    assert message.subject == "Neues Passwort für Coffee Club" and "2 Stunden gültig" in message.body

    Member.objects.filter(pk=member_with_login.pk).update(language="en")
    ask(Client(HTTP_ACCEPT_LANGUAGE="de"), program, member_with_login.email)
    english = queued("password_reset")[-1]
    assert english.context["language"] == "en"


def test_the_reset_page_speaks_german(program):
    page = Client().get(f"/portal/{program.slug}/password/reset/", HTTP_ACCEPT_LANGUAGE="de")
    assert "Passwort vergessen?" in page.text and ">Link zum Zurücksetzen senden</button>" in page.text


def test_a_program_that_sends_no_emails_says_so_and_offers_no_form(member_with_login, program):
    NotificationSettings.objects.create(program=program, emails_enabled=False)
    page = Client().get(f"/portal/{program.slug}/password/reset/")
    assert "does not send emails" in page.text and "Send reset link" not in page.text
    assert ask(Client(), program, member_with_login.email).status_code == 302
    assert not Outbox.objects.exists()


def test_a_new_password_ends_the_logins_other_sessions(member_with_login, program):
    elsewhere = signed_in(Client(), member_with_login)
    assert elsewhere.get(f"/portal/{program.slug}/").status_code == 200
    ask(Client(), program, member_with_login.email)
    Client().post(last_link("password_reset"), {"password": NEW_PASSWORD})

    assert elsewhere.get(f"/portal/{program.slug}/").status_code == 302


@pytest.mark.parametrize("method", ["put", "delete", "patch"])
def test_other_methods_are_refused(program, method):
    assert getattr(Client(), method)(f"/portal/{program.slug}/password/reset/").status_code == 405


# --- a session stays in its program -------------------------------------------------------------


def test_a_session_never_reaches_another_programs_portal(member_client, member_with_login, program, other_program,
                                                         foreign_member):
    there = member_client.get(f"/portal/{other_program.slug}/", follow=True)

    assert there.redirect_chain[-1][0].startswith(f"/portal/{other_program.slug}/login/")
    assert there.status_code == 200 and ">Sign in</button>" in there.text
    assert "Sign out" not in there.text, "signed out there"
    assert member_with_login.card_number not in there.text and foreign_member.card_number not in there.text
    for page in ("rewards/", "activity/"):
        assert member_client.get(f"/portal/{other_program.slug}/{page}").status_code == 302

    back = member_client.get(f"/portal/{program.slug}/")
    assert back.status_code == 200 and member_with_login.card_number in back.text and "Sign out" in back.text

"""Confirming the email address: a link after joining, a notice with "Send the link again" until it is opened."""

from datetime import timedelta

import time_machine
from django.test import Client
from django.utils import timezone

from members.links import EMAIL_LINK_DAYS
from members.models import Member
from notifications.models import Category, NotificationSettings
from portal.links import EMAILS_PER_MAILBOX_PER_HOUR

from .emailed_links import last_link, queued, sent_message

JOIN = {"email": "nia@example.com", "password": "tall-green-teapot", "first_name": "Nia", "last_name": "Ode"}


def join(program, client=None, **headers) -> Client:
    client = client or Client(**headers)
    assert client.post(f"/portal/{program.slug}/signup/", JOIN).status_code == 302
    return client


def resend(client, program, **data):
    return client.post(f"/portal/{program.slug}/email/confirm/", data)


def test_joining_sends_a_confirmation_link_and_home_shows_the_notice(program):
    client = join(program)

    (row,) = queued("email_confirmation")
    assert row.to == "nia@example.com" and row.category == Category.TRANSACTIONAL
    message = sent_message(row)
    assert message.subject == "Please confirm your email for Coffee Club"
    assert row.context["data"]["link"] in message.body and "works for 7 days" in message.body
    home = client.get(f"/portal/{program.slug}/").text
    assert "Confirm your email" in home and ">Send the link again</button>" in home


def test_opening_the_link_confirms_the_address_and_the_notice_goes(program):
    client = join(program)
    link = last_link("email_confirmation")

    page = Client().get(link)  # on another device, not signed in

    assert page.status_code == 200 and "Email confirmed" in page.text and "nia@example.com" in page.text
    member = Member.objects.get(email="nia@example.com")
    assert member.email_verified_at is not None
    assert "Confirm your email" not in client.get(f"/portal/{program.slug}/").text


def test_opening_the_link_again_keeps_the_first_moment(program):
    join(program)
    link = last_link("email_confirmation")
    Client().get(link)
    first = Member.objects.get(email="nia@example.com").email_verified_at
    with time_machine.travel(timezone.now() + timedelta(days=1)):
        assert Client().get(link).status_code == 200
    assert Member.objects.get(email="nia@example.com").email_verified_at == first


def test_the_link_signed_in_here_leads_back_to_the_card(program):
    client = join(program)
    page = client.get(last_link("email_confirmation"))
    assert f'href="/portal/{program.slug}/"' in page.text and "Go to your card" in page.text


def test_the_link_expires(program):
    join(program)
    link = last_link("email_confirmation")
    with time_machine.travel(timezone.now() + timedelta(days=EMAIL_LINK_DAYS, minutes=1)):
        response = Client().get(link)
    assert response.status_code == 404 and "This link does not work" in response.text
    assert Member.objects.get(email="nia@example.com").email_verified_at is None


def test_a_link_to_an_address_since_changed_does_not_confirm_the_new_one(program):
    join(program)
    link = last_link("email_confirmation")
    Member.objects.filter(email="nia@example.com").update(email="nia.new@example.com")
    assert Client().get(link).status_code == 404
    assert Member.objects.get(email="nia.new@example.com").email_verified_at is None


def test_a_link_of_one_program_does_not_work_in_another(program, other_program):
    join(program)
    link = last_link("email_confirmation").replace(f"/portal/{program.slug}/", f"/portal/{other_program.slug}/")
    assert Client().get(link).status_code == 404
    assert Member.objects.get(email="nia@example.com").email_verified_at is None


def test_an_altered_or_junk_link_is_404(program):
    join(program)
    token = last_link("email_confirmation").rstrip("/").split("/")[-1]
    for junk in (token[:-1] + ("A" if token[-1] != "A" else "B"), "x", "%00", "a:b", "y" * 3000):
        assert Client().get(f"/portal/{program.slug}/email/confirm/{junk}/").status_code == 404, junk
    assert Member.objects.get(email="nia@example.com").email_verified_at is None


def test_send_the_link_again(program):
    client = join(program)
    response = resend(client, program, next=f"/portal/{program.slug}/")

    assert response.status_code == 302 and response["Location"] == f"/portal/{program.slug}/"
    assert len(queued("email_confirmation")) == 2
    assert "We sent a new link to nia@example.com." in client.get(response["Location"]).text
    Client().get(last_link("email_confirmation"))  # the newest link works
    assert Member.objects.get(email="nia@example.com").email_verified_at is not None


def test_a_double_click_on_send_again_sends_one(program):
    client = join(program)
    form_id = "5a1c9c0e-8a54-4c8e-a0c6-1b8ac7a1d0ff"
    resend(client, program, request=form_id)
    resend(client, program, request=form_id)
    assert len(queued("email_confirmation")) == 2  # the one from joining, and one more


def test_send_again_is_limited_per_mailbox(program):
    client = join(program)
    for _ in range(EMAILS_PER_MAILBOX_PER_HOUR + 2):
        assert resend(client, program).status_code == 302
    assert len(queued("email_confirmation")) == 1 + EMAILS_PER_MAILBOX_PER_HOUR
    assert "We have sent several links in the last hour" in client.get(f"/portal/{program.slug}/").text


def test_send_again_once_confirmed_sends_nothing(program):
    client = join(program)
    Client().get(last_link("email_confirmation"))
    resend(client, program)
    assert len(queued("email_confirmation")) == 1


def test_send_again_needs_a_signed_in_member_and_a_post(program, member_with_login):
    anonymous = resend(Client(), program)
    assert anonymous.status_code == 302 and "/login/" in anonymous["Location"]
    client = join(program)
    assert client.get(f"/portal/{program.slug}/email/confirm/").status_code == 405
    assert resend(client, program, next="https://evil.example/").headers["Location"] == f"/portal/{program.slug}/"


def test_a_program_that_sends_no_emails_shows_no_notice(program):
    NotificationSettings.objects.create(program=program, emails_enabled=False)
    client = join(program)
    assert not queued("email_confirmation")
    assert "Confirm your email" not in client.get(f"/portal/{program.slug}/").text


def test_the_notice_and_the_email_speak_german(program):
    client = join(program, HTTP_ACCEPT_LANGUAGE="de")
    (row,) = queued("email_confirmation")
    assert row.context["language"] == "de"
    message = sent_message(row)
    assert message.subject == "Bitte bestätigen Sie Ihre E-Mail-Adresse für Coffee Club"
    assert "7 Tage gültig" in message.body
    home = client.get(f"/portal/{program.slug}/", HTTP_ACCEPT_LANGUAGE="de").text
    assert "Bestätigen Sie Ihre E-Mail-Adresse" in home and "Link erneut senden" in home

"""A member enrolled at the till (no login) takes their card online: card number and email, a link by email, a
password; the same neutral answer when the two do not match a card, and nothing created."""

from datetime import timedelta

import time_machine
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from members.links import CLAIM_LINK_HOURS
from members.models import Member
from members.services import member_login_create
from notifications.models import Category
from portal.links import ASKS_PER_ADDRESS_PER_HOUR
from tests.factories import MemberFactory
from tests.ledger.support import earn

from .emailed_links import last_link, queued, sent_message

PASSWORD = "my-own-card-password-5"


def ask(client, program, card, email, **extra):
    return client.post(f"/portal/{program.slug}/claim/", {"card_number": card, "email": email, **extra})


def logins() -> int:
    return get_user_model().objects.count()


def test_the_sign_in_page_links_to_claiming(program):
    page = Client().get(f"/portal/{program.slug}/login/").text
    assert f'href="/portal/{program.slug}/claim/"' in page


def test_the_claim_page_asks_for_card_number_and_email(program):
    page = Client().get(f"/portal/{program.slug}/claim/").text
    assert '<label for="id_card_number">Card number' in page and '<label for="id_email">Email' in page
    assert ">Send link</button>" in page


def test_a_till_member_claims_their_card_and_keeps_their_points(member, program):
    earn(member, 120)
    spaced = " ".join(member.card_number[i:i + 4] for i in range(0, 16, 4))

    response = ask(Client(), program, spaced, "ADA@example.com")

    assert response.status_code == 302 and response["Location"] == f"/portal/{program.slug}/claim/sent/"
    (row,) = queued("card_claim")
    assert row.member_id == member.pk and row.category == Category.TRANSACTIONAL
    message = sent_message(row)
    assert message.subject == "Use your Coffee Club card online"
    assert f"ending {member.card_number[-4:]}" in message.body and row.context["data"]["link"] in message.body
    assert "works once, for 24 hours" in message.body

    client = Client()
    link = last_link("card_claim")
    page = client.get(link)
    assert page.status_code == 200
    assert '<label for="id_password">Choose a password' in page.text and ">Save password</button>" in page.text

    done = client.post(link, {"password": PASSWORD})

    assert done.status_code == 302 and done["Location"] == f"/portal/{program.slug}/"
    home = client.get(done["Location"])
    assert home.status_code == 200 and member.card_number in home.text
    assert '<p class="portal-balance-value" data-testid="available">120</p>' in home.text
    member.refresh_from_db()
    assert member.user is not None and member.user.username == f"{program.slug}:ada@example.com"
    assert member.email_verified_at is not None, "the link came by email: the address is confirmed"
    assert Client().post(f"/portal/{program.slug}/login/", {"email": member.email, "password": PASSWORD}
                         ).status_code == 302


def test_what_does_not_match_one_member_gets_the_same_answer_and_nothing(member, program, other_program):
    has_login = MemberFactory(program=program, email="grace@example.com")
    member_login_create(member=has_login, password="a-good-member-password")
    foreign = MemberFactory(program=other_program, email="ada@example.com")
    users = logins()
    asked = [
        (member.card_number, "someone.else@example.com"),  # the card, another email
        (has_login.card_number, "ada@example.com"),  # another member's card, this member's email
        (has_login.card_number, "grace@example.com"),  # a member who can sign in already
        (foreign.card_number, "ada@example.com"),  # a card of another program
        ("9000000000000001", "ada@example.com"),  # a well-formed number nobody has
    ]
    for card, email in asked:
        response = ask(Client(REMOTE_ADDR="10.1.1.1"), program, card, email)
        assert response.status_code == 302, (card, email)
        assert response["Location"] == f"/portal/{program.slug}/claim/sent/"
    assert not queued("card_claim")
    assert logins() == users
    page = Client().get(f"/portal/{program.slug}/claim/sent/")
    assert "If the card number and the email match a Coffee Club card, we sent a link" in page.text


def test_a_card_number_that_cannot_be_one_is_refused_beside_the_field(member, program):
    wrong_check_digit = member.card_number[:-1] + str((int(member.card_number[-1]) + 1) % 10)
    for bad in ("", "1234", "abcdefghijklmnop", wrong_check_digit, "9" * 40, "\x00" * 16, "-1" * 8):
        response = ask(Client(), program, bad, member.email)
        assert response.status_code == 400, bad
        assert 'id="id_card_number_error"' in response.text, bad
    response = ask(Client(), program, member.card_number, "not an email")
    assert response.status_code == 400 and 'id="id_email_error"' in response.text
    assert not queued("card_claim")


def test_the_claim_link_works_once(member, program):
    ask(Client(), program, member.card_number, member.email)
    link = last_link("card_claim")
    assert Client().post(link, {"password": PASSWORD}).status_code == 302

    again = Client().get(link)
    assert again.status_code == 404 and "This link does not work" in again.text
    assert Client().post(link, {"password": "someone-elses-password-1"}).status_code == 404
    assert logins() == 1


def test_a_double_submit_of_the_password_lands_signed_in(member, program):
    ask(Client(), program, member.card_number, member.email)
    link, client = last_link("card_claim"), Client()
    assert client.post(link, {"password": PASSWORD}).status_code == 302

    twice = client.post(link, {"password": PASSWORD})

    assert twice.status_code == 302 and twice["Location"] == f"/portal/{program.slug}/"
    assert logins() == 1


def test_the_claim_link_expires(member, program):
    ask(Client(), program, member.card_number, member.email)
    link = last_link("card_claim")
    with time_machine.travel(timezone.now() + timedelta(hours=CLAIM_LINK_HOURS, minutes=1)):
        assert Client().get(link).status_code == 404
        assert Client().post(link, {"password": PASSWORD}).status_code == 404
    assert logins() == 0


def test_a_claim_link_of_one_program_does_not_work_in_another(member, program, other_program):
    ask(Client(), program, member.card_number, member.email)
    link = last_link("card_claim").replace(f"/portal/{program.slug}/", f"/portal/{other_program.slug}/")
    assert Client().get(link).status_code == 404
    assert Client().post(link, {"password": PASSWORD}).status_code == 404
    assert logins() == 0


def test_a_changed_email_voids_the_claim_link(member, program):
    ask(Client(), program, member.card_number, member.email)
    link = last_link("card_claim")
    Member.objects.filter(pk=member.pk).update(email="new.address@example.com")
    assert Client().get(link).status_code == 404


def test_an_altered_or_junk_claim_link_is_404(member, program):
    ask(Client(), program, member.card_number, member.email)
    link = last_link("card_claim")
    token = link.rstrip("/").split("/")[-1]
    for junk in (token[:-2] + "xx", "sent2", "a:b:c", "%00", "x" * 3000, token.replace(":", "")):
        assert Client().get(f"/portal/{program.slug}/claim/{junk}/").status_code == 404, junk
        assert Client().post(f"/portal/{program.slug}/claim/{junk}/", {"password": PASSWORD}).status_code == 404
    assert logins() == 0


def test_a_weak_password_is_refused_beside_the_field(member, program):
    ask(Client(), program, member.card_number, member.email)
    link = last_link("card_claim")
    for bad in ("", "short", "lovelace", "ada@example.com", "1234567890"):
        response = Client().post(link, {"password": bad})
        assert response.status_code == 400, bad
        assert 'id="id_password_error"' in response.text, bad
    assert logins() == 0 and Client().get(link).status_code == 200


def test_claiming_is_limited_per_internet_address(member, program):
    client = Client(REMOTE_ADDR="198.51.100.7")
    for _ in range(ASKS_PER_ADDRESS_PER_HOUR):
        assert ask(client, program, "9000000000000001", "x@example.com").status_code == 302
    assert ask(client, program, member.card_number, member.email).status_code == 429
    assert not queued("card_claim")


def test_a_double_submit_sends_one_claim_email(member, program):
    form_id = "3c0c9a02-1f0f-4bb4-9a43-8d7c1fd7e3a2"
    ask(Client(), program, member.card_number, member.email, request=form_id)
    ask(Client(), program, member.card_number, member.email, request=form_id)
    assert len(queued("card_claim")) == 1


def test_signing_up_with_a_till_members_email_points_to_claiming(member, program):
    users, members = logins(), Member.objects.count()
    response = Client().post(f"/portal/{program.slug}/signup/", {
        "email": "Ada@Example.com", "password": "tall-green-teapot", "first_name": "Ada", "last_name": "L"})
    assert response.status_code == 400 and 'id="id_email_error"' in response.text
    assert "from the till" in response.text
    assert f'href="/portal/{program.slug}/claim/?email=Ada%40Example.com"' in response.text
    assert (logins(), Member.objects.count()) == (users, members)
    claim_page = Client().get(f"/portal/{program.slug}/claim/?email=Ada%40Example.com")
    assert 'value="Ada@Example.com"' in claim_page.text


def test_a_signed_in_member_is_sent_home_from_the_claim_page(member_client, program):
    response = member_client.get(f"/portal/{program.slug}/claim/")
    assert response.status_code == 302 and response["Location"] == f"/portal/{program.slug}/"


def test_the_claim_pages_speak_german(member, program):
    page = Client().get(f"/portal/{program.slug}/claim/", HTTP_ACCEPT_LANGUAGE="de")
    assert "Kartennummer" in page.text and ">Link senden</button>" in page.text
    ask(Client(HTTP_ACCEPT_LANGUAGE="de"), program, member.card_number, member.email)
    (row,) = queued("card_claim")
    assert sent_message(row).subject == "Ihre Karte von Coffee Club online nutzen"
    link_page = Client().get(last_link("card_claim"), HTTP_ACCEPT_LANGUAGE="de")
    assert "Passwort wählen" in link_page.text

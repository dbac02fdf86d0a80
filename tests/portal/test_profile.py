"""The profile: details, consent, the data download and deleting the account — each acting on the signed-in
member alone, whatever ids a form carries."""

import json
import time
from datetime import date, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from earning.services import earning_rule_create
from members.models import Member
from members.services import member_anonymise, member_consent_set, member_is_anonymised
from notifications.models import Outbox
from rewards.services import reward_redeem
from tests.factories import MemberFactory
from tests.ledger.support import earn
from tiers.services import tier_assign, tier_create

from .conftest import PASSWORD, signed_in

pytestmark = pytest.mark.django_db

DETAILS = {"first_name": "Ada", "last_name": "Lovelace", "phone": "+4915112345678", "birth_date": "",
           "language": ""}


def url(member, tail: str = "") -> str:
    return f"/portal/{member.program.slug}/profile/{tail}"


def fresh(member) -> Member:
    return Member.objects.get(pk=member.pk)


# --- details ----------------------------------------------------------------------------------------

def test_the_profile_is_in_the_navigation_and_shows_the_details(member_with_login, member_client):
    page = member_client.get(url(member_with_login))
    assert page.status_code == 200
    assert f'href="/portal/{member_with_login.program.slug}/profile/" aria-current="page">Profile<' in page.text
    assert 'value="Ada"' in page.text and 'value="+4915112345678"' in page.text
    assert 'value="ada@example.com" readonly' in page.text  # read-only, with a note why
    assert "cannot be changed here" in page.text
    for label in ("First name", "Last name", "Phone", "Birth date", "Language", "Email me offers and news"):
        assert f">{label}" in page.text
    assert "Browser&#x27;s choice" in page.text and ">Deutsch<" in page.text
    assert ">Download my data</button>" in page.text


def test_an_unconfirmed_email_is_offered_its_link_again_on_the_profile(member_with_login, member_client):
    page = member_client.get(url(member_with_login)).text
    assert "Confirm your email" in page and ">Send the link again</button>" in page
    member_with_login.email_verified_at = timezone.now()
    member_with_login.save(update_fields=["email_verified_at"])
    assert "Confirm your email" not in member_client.get(url(member_with_login)).text


def test_saving_details_changes_them_and_says_so(member_with_login, member_client):
    response = member_client.post(url(member_with_login), {
        **DETAILS, "first_name": "Augusta", "phone": "0151 2222 3333", "birth_date": "1990-12-10"})
    assert response.status_code == 302 and response["Location"] == url(member_with_login)
    member = fresh(member_with_login)
    assert (member.first_name, member.phone, member.birth_date) == ("Augusta", "+4915122223333", date(1990, 12, 10))
    assert "Your details are saved." in member_client.get(url(member)).text


def test_choosing_german_switches_the_page_at_once(member_with_login, member_client):
    response = member_client.post(url(member_with_login), {**DETAILS, "language": "de"}, follow=True,
                                  HTTP_ACCEPT_LANGUAGE="en-GB")
    assert fresh(member_with_login).language == "de"
    assert response["Content-Language"] == "de" and '<html lang="de">' in response.text
    assert "Ihre Angaben sind gespeichert." in response.text and "Profil" in response.text
    assert "Sprache" in response.text and "Angebote und Neuigkeiten per E-Mail" in response.text
    back = member_client.post(url(member_with_login), {**DETAILS, "language": ""}, follow=True,
                              HTTP_ACCEPT_LANGUAGE="en-GB")
    assert back["Content-Language"] == "en" and "Your details are saved." in back.text


@pytest.mark.parametrize(("field", "value", "message"), [
    ("phone", "12", "with its country code"),
    ("phone", "call me maybe", "with its country code"),
    ("birth_date", (date.today() + timedelta(days=1)).isoformat(), "not in the future"),
    ("birth_date", "1066-10-14", "after 1900"),
    ("birth_date", "yesterday", "Enter a valid date"),
    ("birth_date", "99999-01-01", "Enter a valid date"),
    ("language", "fr", "Select a valid choice"),
    ("first_name", "x" * 101, "at most 100 characters"),
    ("last_name", "nul\x00byte", "Null characters are not allowed"),
])
def test_a_bad_detail_answers_400_beside_its_field_and_changes_nothing(member_with_login, member_client, field,
                                                                         value, message):
    before = Member.objects.values().get(pk=member_with_login.pk)
    response = member_client.post(url(member_with_login), {**DETAILS, field: value})
    assert response.status_code == 400
    assert f'id="field-{field}"' in response.text and 'class="field-error"' in response.text
    assert message in response.text
    assert "There is a problem" in response.text
    assert Member.objects.values().get(pk=member_with_login.pk) == before


def test_another_members_phone_is_said_beside_the_field(member_with_login, member_client, other_member):
    other_member.phone = "+4915100000001"
    other_member.save(update_fields=["phone"])
    response = member_client.post(url(member_with_login), {**DETAILS, "phone": "+49 151 00000001"})
    assert response.status_code == 400 and "Another member already uses this phone number." in response.text
    assert fresh(member_with_login).phone == "+4915112345678"


def test_ids_and_emails_in_the_form_change_nobody_else_and_not_the_email(member_with_login, member_client,
                                                                         other_member, foreign_member):
    response = member_client.post(url(member_with_login), {
        **DETAILS, "first_name": "Mine", "id": str(other_member.pk), "member": str(other_member.pk),
        "email": "grace@example.com", "card_number": other_member.card_number})
    assert response.status_code == 302
    assert fresh(member_with_login).first_name == "Mine" and fresh(member_with_login).email == "ada@example.com"
    assert fresh(other_member).first_name == "Grace" and fresh(foreign_member).first_name == "Ada"


def test_with_a_birthday_bonus_the_birth_date_is_set_once_and_the_page_says_so(member_with_login, member_client,
                                                                                 program):
    earning_rule_create(program=program, code="birthday", name="Birthday", applies_to="birthday",
                        effect={"kind": "fixed_bonus", "points": 100})
    page = member_client.get(url(member_with_login)).text
    assert "you can set your birth date once" in page
    assert member_client.post(url(member_with_login), {**DETAILS, "birth_date": "1990-05-01"}).status_code == 302
    page = member_client.get(url(member_with_login)).text
    assert 'name="birth_date"' not in page and "1 May 1990" in page and "can be set only once" in page
    # Sent anyway, a new date is not taken.
    assert member_client.post(url(member_with_login), {**DETAILS, "birth_date": "1991-01-01"}).status_code == 302
    assert fresh(member_with_login).birth_date == date(1990, 5, 1)


def test_signed_out_or_in_another_program_the_profile_pages_lead_to_the_sign_in(member_with_login, foreign_member):
    foreign = signed_in(Client(), foreign_member)
    for client in (Client(), foreign):
        for tail in ("", "consent/", "data/", "delete/"):
            response = client.get(url(member_with_login, tail))
            assert response.status_code in (302, 405)
            if response.status_code == 302:
                assert "/portal/coffee/login/" in response["Location"]
        assert client.post(url(member_with_login), DETAILS).status_code == 302
        assert client.post(url(member_with_login, "delete/"), {"password": PASSWORD, "understood": "on"}
                           ).status_code == 302
    assert not member_is_anonymised(fresh(member_with_login))
    assert fresh(member_with_login).first_name == "Ada"


# --- consent --------------------------------------------------------------------------------------

def test_consent_is_given_and_withdrawn_with_when_and_where(member_with_login, member_client):
    response = member_client.post(url(member_with_login, "consent/"), {"marketing_opt_in": "on"}, follow=True)
    member = fresh(member_with_login)
    assert member.marketing_opt_in and member.marketing_opt_in_source == "portal"
    today = timezone.now().strftime("%-d %B %Y")
    assert f"You agreed on {today} in the portal." in response.text
    assert "We will email you offers and news." in response.text
    assert 'name="marketing_opt_in" checked' in response.text or 'checked' in response.text

    given_at = member.marketing_opt_in_at
    member_client.post(url(member_with_login, "consent/"), {"marketing_opt_in": "on"})  # sent twice: no change
    assert fresh(member_with_login).marketing_opt_in_at == given_at

    response = member_client.post(url(member_with_login, "consent/"), {}, follow=True)
    assert not fresh(member_with_login).marketing_opt_in
    assert f"You withdrew your agreement on {today} in the portal." in response.text


def test_consent_given_at_the_till_is_said_so(member_with_login, member_client):
    member_consent_set(member=member_with_login, marketing_opt_in=True, source="pos")
    assert "in the portal" not in member_client.get(url(member_with_login)).text
    assert " at the till." in member_client.get(url(member_with_login)).text


def test_consent_is_only_changed_by_post(member_with_login, member_client):
    assert member_client.get(url(member_with_login, "consent/") + "?marketing_opt_in=on").status_code == 405
    assert not fresh(member_with_login).marketing_opt_in


def test_without_a_csrf_token_nothing_changes(member_with_login):
    client = Client(enforce_csrf_checks=True)
    client.cookies = signed_in(Client(), member_with_login).cookies
    assert client.post(url(member_with_login, "consent/"), {"marketing_opt_in": "on"}).status_code == 403
    assert client.post(url(member_with_login), {**DETAILS, "first_name": "Eve"}).status_code == 403
    assert not fresh(member_with_login).marketing_opt_in and fresh(member_with_login).first_name == "Ada"


# --- the data download ----------------------------------------------------------------------------

def download(client, member) -> dict:
    response = client.get(url(member, "data/"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert response["Content-Disposition"] == f'attachment; filename="coffee-{member.card_number}-data.json"'
    assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]
    return json.loads(b"".join(response.streaming_content))


def test_the_data_file_holds_everything_about_the_member_and_nothing_of_others(
        member_with_login, member_client, pos, coffee, program, other_member, store):
    member = member_with_login
    member.referred_by = other_member
    member.save(update_fields=["referred_by"])
    MemberFactory(program=program, store=store, email="referred@example.com",
                  referral_code=member.referral_code)
    member_consent_set(member=member, marketing_opt_in=True, source="portal")
    bought = pos.post("/api/v1/pos/purchases/", {"external_id": "R-1", "member": {"card_number": member.card_number},
                                                 "currency": "EUR", "total": "30.00"}, format="json")
    assert bought.status_code == 201
    assert pos.post("/api/v1/pos/returns/", {"external_id": "RET-1", "purchase_external_id": "R-1",
                                             "amount": "10.00"}, format="json").status_code == 201
    earn(member, 200, description="Welcome gift", expires_in_days=90)
    redemption = reward_redeem(member=member, reward=coffee, actor="test")
    gold = tier_create(program=program, code="GOLD", name="Gold", rank=1, threshold=1000)
    tier_assign(member=member, tier=gold, reason="Loyal since 2020", actor="test")
    earn(other_member, 77, description="Not Ada's")
    Outbox.objects.create(program=program, member=member, kind="points_earned", category="transactional",
                          dedupe_key="mail-1", to=member.email, from_email="club@example.com",
                          rendered_subject="You earned points", rendered_text="Hello Ada", status="sent",
                          sent_at=timezone.now())

    data = download(member_client, member)

    assert data["format"] == "loyalty-member-data/1" and data["program"]["slug"] == "coffee"
    assert data["profile"]["email"] == "ada@example.com" and data["profile"]["card_number"] == member.card_number
    assert data["profile"]["phone"] == "+4915112345678" and data["profile"]["first_name"] == "Ada"
    consent = data["marketing_consent"]
    assert consent["email_offers_and_news"] is True and consent["source"] == "portal" and consent["changed_at"]
    assert data["referrals"]["own_referral_code"] == member.referral_code
    assert data["referrals"]["referred_by"] == {"first_name": "Grace", "referral_code": other_member.referral_code}
    assert data["referrals"]["members_referred"] == 1
    assert data["login"]["username"] == "coffee:ada@example.com"
    balance = pos.get("/api/v1/pos/members/lookup/", {"card_number": member.card_number}).json()["balance"]
    assert data["balance"] == balance
    assert data["tier"] == {"code": "GOLD", "name": "Gold"}

    entries = data["ledger_entries"]
    assert [e["kind"] for e in entries] == ["earn", "return", "earn", "redeem"]
    from ledger.models import LedgerEntry
    assert {e["public_id"] for e in entries} == {
        str(pk) for pk in LedgerEntry.objects.filter(account__member=member).values_list("public_id", flat=True)}
    assert entries[2]["description"] == "Welcome gift" and entries[2]["points"] == 200
    assert all(e["created_at"] for e in entries)
    assert sum(e["points"] for e in entries) == balance["available"] + balance["pending"]
    assert len(data["points_lots"]) == 2 and data["points_lots"][1]["expires_at"]
    assert [p["external_id"] for p in data["purchases"]] == ["R-1"] and data["purchases"][0]["total"] == "30.00"
    assert [r["external_id"] for r in data["returns"]] == ["RET-1"] and data["returns"][0]["amount"] == "10.00"
    assert [r["voucher_code"] for r in data["redemptions"]] == [redemption.voucher_code]
    assert data["redemptions"][0]["reward__name"] == "Free coffee"
    assert [c["to_tier__name"] for c in data["tier_history"]] == ["Gold"]
    assert data["tier_history"][0]["reason"] == "Loyal since 2020"
    assert "You earned points" in {m["rendered_subject"] for m in data["emails"]}
    assert all(m["to"] == member.email for m in data["emails"])
    text = json.dumps(data)
    assert "Not Ada's" not in text and "grace@example.com" not in text and "referred@example.com" not in text


def test_the_data_download_changes_nothing(member_with_login, member_client):
    before = Member.objects.values().get(pk=member_with_login.pk)
    download(member_client, member_with_login)
    assert Member.objects.values().get(pk=member_with_login.pk) == before
    assert member_client.post(url(member_with_login, "data/")).status_code == 405


def test_a_member_with_ten_thousand_entries_gets_the_file_quickly(member_with_login, member_client,
                                                                   django_assert_max_num_queries):
    from ledger.models import LedgerEntry, LedgerTransaction, PointsAccount

    account = PointsAccount.objects.get(member=member_with_login)
    now = timezone.now()
    transactions = LedgerTransaction.objects.bulk_create(
        LedgerTransaction(program_id=account.program_id, kind="adjust", idempotency_key=f"bulk-{n}",
                          source_type="test", actor="test", created_at=now) for n in range(10_000))
    LedgerEntry.objects.bulk_create(
        LedgerEntry(transaction=txn, program_id=account.program_id, account=account, kind="adjust", points=1,
                    available_delta=1, description=f"Entry {n}", created_at=now + timedelta(seconds=n))
        for n, txn in enumerate(transactions))
    started = time.monotonic()
    with django_assert_max_num_queries(40):
        data = download(member_client, member_with_login)
    assert time.monotonic() - started < 2  # 0.16 s here: the statement streams in fetches of 2,000
    assert len(data["ledger_entries"]) == 10_000
    assert data["ledger_entries"][0]["description"] == "Entry 0"
    assert data["ledger_entries"][-1]["description"] == "Entry 9999"


# --- deleting the account -------------------------------------------------------------------------

def test_the_delete_page_explains_what_happens(rich_member, member_client):
    page = member_client.get(url(rich_member, "delete/"))
    assert page.status_code == 200
    for words in ("cannot be undone", "sign-in", "Your 250 points are lost", "stop working at the till",
                  "with nothing that names you", ">I understand<", ">Delete my account</button>"):
        assert words in page.text
    assert f'href="{url(rich_member, "data/")}">download your data</a>' in page.text


def test_unused_vouchers_are_named_on_the_delete_page_and_keep_working_at_the_till(rich_member, member_client,
                                                                                     coffee, pos):
    voucher = reward_redeem(member=rich_member, reward=coffee, actor="test")
    page = member_client.get(url(rich_member, "delete/")).text
    assert "Your unused voucher keeps working at the till until it expires" in page
    member_client.post(url(rich_member, "delete/"), {"password": PASSWORD, "understood": "on"})
    assert pos.post(f"/api/v1/pos/vouchers/{voucher.voucher_code}/use/", {}, format="json").status_code == 200


@pytest.mark.parametrize(("form", "field", "message"), [
    ({"password": "not-my-password", "understood": "on"}, "password", "This is not your password."),
    ({"password": "", "understood": "on"}, "password", "This field is required."),
    ({"password": PASSWORD}, "understood", "Tick this box"),
])
def test_deleting_with_a_wrong_password_or_unticked_box_changes_nothing(member_with_login, member_client, form,
                                                                          field, message):
    response = member_client.post(url(member_with_login, "delete/"), form)
    assert response.status_code == 400
    assert f'id="field-{field}"' in response.text and message in response.text
    assert not member_is_anonymised(fresh(member_with_login))
    assert member_client.get(url(member_with_login)).status_code == 200  # still signed in


def test_another_members_password_does_not_delete(member_with_login, member_client, other_member):
    other_member.user.set_password("grace-own-password")
    other_member.user.save()
    response = member_client.post(url(member_with_login, "delete/"),
                                  {"password": "grace-own-password", "understood": "on"})
    assert response.status_code == 400
    assert not member_is_anonymised(fresh(member_with_login)) and not member_is_anonymised(fresh(other_member))


def test_deleting_wipes_the_member_signs_out_and_the_card_stops_working(rich_member, member_client, pos,
                                                                          other_member):
    card, email, user_id = rich_member.card_number, rich_member.email, rich_member.user_id
    response = member_client.post(url(rich_member, "delete/"),
                                  {"password": PASSWORD, "understood": "on", "member": str(other_member.pk)})
    assert response.status_code == 302 and response["Location"] == "/portal/coffee/goodbye/"
    goodbye = member_client.get(response["Location"])
    assert goodbye.status_code == 200 and "Your account is deleted" in goodbye.text
    assert "Sign out" not in goodbye.text  # signed out

    member = fresh(rich_member)
    assert member_is_anonymised(member) and member.is_suspended and member.user_id is None
    assert not get_user_model().objects.filter(pk=user_id).exists()
    assert not member_is_anonymised(fresh(other_member))
    assert member_client.get(url(rich_member)).status_code == 302  # the session is gone

    # The old password opens nothing.
    again = Client().post("/portal/coffee/login/", {"email": email, "password": PASSWORD})
    assert again.status_code == 400
    # The till: the old card and email find nobody; the id is refused for earning.
    assert pos.get("/api/v1/pos/members/lookup/", {"card_number": card}).status_code == 404
    assert pos.get("/api/v1/pos/members/lookup/", {"email": email}).status_code == 404
    by_card = pos.post("/api/v1/pos/purchases/", {"external_id": "R-9", "member": {"card_number": card},
                                                  "currency": "EUR", "total": "10.00"}, format="json")
    assert by_card.status_code == 404
    by_id = pos.post("/api/v1/pos/purchases/", {"external_id": "R-10", "member": {"id": str(member.pk)},
                                                "currency": "EUR", "total": "10.00"}, format="json")
    assert by_id.status_code == 409 and by_id.json()["code"] == "member_suspended"


def test_deleting_signs_out_the_members_other_devices_too(member_with_login, member_client):
    phone = signed_in(Client(), member_with_login)
    assert phone.get(url(member_with_login)).status_code == 200
    member_client.post(url(member_with_login, "delete/"), {"password": PASSWORD, "understood": "on"})
    assert phone.get(url(member_with_login)).status_code == 302
    assert phone.get(url(member_with_login, "data/")).status_code == 302


def test_a_second_delete_submit_does_nothing_more(member_with_login, member_client):
    form = {"password": PASSWORD, "understood": "on"}
    assert member_client.post(url(member_with_login, "delete/"), form).status_code == 302
    first = Member.objects.values().get(pk=member_with_login.pk)
    assert member_client.post(url(member_with_login, "delete/"), form).status_code == 302  # to the sign-in
    assert Member.objects.values().get(pk=member_with_login.pk) == first


def test_the_goodbye_page_leads_a_signed_in_member_to_their_profile(member_with_login, member_client):
    assert member_client.get("/portal/coffee/goodbye/")["Location"] == url(member_with_login)
    assert "Your account is deleted" in Client().get("/portal/coffee/goodbye/").text


def test_an_anonymised_member_cannot_reach_the_profile(member_with_login, member_client):
    member_anonymise(member=member_with_login)
    assert member_client.get(url(member_with_login)).status_code == 302


# --- German ---------------------------------------------------------------------------------------

def test_the_profile_pages_in_german(member_with_login, member_client):
    member_consent_set(member=member_with_login, marketing_opt_in=True, source="portal")
    page = member_client.get(url(member_with_login), HTTP_ACCEPT_LANGUAGE="de-DE,de;q=0.9")
    assert page["Content-Language"] == "de"
    for words in ("Ihre Angaben", "Vorname", "Telefon", "Geburtsdatum", "Sprache", "Wahl des Browsers",
                  "Angebote und Neuigkeiten per E-Mail", "im Portal zugestimmt", "Meine Daten herunterladen",
                  "Konto löschen", "Angaben speichern"):
        assert words in page.text, words
    assert "Your details" not in page.text
    delete = member_client.get(url(member_with_login, "delete/"), HTTP_ACCEPT_LANGUAGE="de")
    assert "Ich habe verstanden" in delete.text and "Mein Konto löschen" in delete.text
    wrong = member_client.post(url(member_with_login, "delete/"), {"password": "nope", "understood": "on"},
                               HTTP_ACCEPT_LANGUAGE="de")
    assert wrong.status_code == 400 and "Das ist nicht Ihr Passwort." in wrong.text

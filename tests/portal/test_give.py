"""Give and share: transfer with a confirmation, donations, claims and referrals through the portal's forms —
bad values answered beside the field with nothing moved, other members' and programs' ids a 404 or a neutral
refusal, and a double submit doing nothing twice."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from earning.models import Purchase
from earning.services import purchase_record
from ledger.models import Kind, LedgerTransaction
from members.models import Member
from members.services import member_enrol
from rewards.models import Donation
from rewards.services import cause_create, cause_donate
from tests.factories import MemberFactory, StoreFactory
from tests.ledger.support import balances, earn

from .conftest import PASSWORD, signed_in


@pytest.fixture
def grace(other_member):
    other_member.last_name = "Hopper"
    other_member.save(update_fields=["last_name"])
    return other_member


def give_url(program, tail=""):
    return f"/portal/{program.slug}/give/{tail}"


def hidden(page: str, name: str) -> str:
    return re.search(rf'name="{name}" value="([^"]*)"', page).group(1)


# --- the hub ---------------------------------------------------------------------------------------------


def test_the_give_page_is_in_the_nav_and_lists_the_ways_to_give(rich_member, member_client, program):
    cause_create(program=program, code="TREES", name="Plant a tree")
    page = member_client.get(give_url(program)).text
    assert ">Give & share</a>" in page and 'aria-current="page">Give & share' in page
    assert "Transfer points" in page and "Claim points" in page and "Plant a tree" in page


# --- transfer ------------------------------------------------------------------------------------------


def test_transfer_confirms_with_initials_only_then_moves_points_once(rich_member, member_client, grace, program):
    form = member_client.post(give_url(program, "transfer/"), {"recipient": grace.card_number, "points": "200"})
    assert form.status_code == 200
    assert "Send 200 points to G.\u00a0H.?" in form.text
    assert "Grace" not in form.text and "Hopper" not in form.text and grace.email not in form.text
    assert balances(rich_member)[0] == 250  # nothing moves before "Confirm"
    fields = {name: hidden(form.text, name) for name in ("recipient", "points", "key")}
    done = member_client.post(give_url(program, "transfer/confirm/"), fields)
    assert done.status_code == 302
    again = member_client.post(give_url(program, "transfer/confirm/"), fields)
    assert again["Location"] == done["Location"]
    assert balances(rich_member)[0] == 50 and balances(grace)[0] == 200
    assert LedgerTransaction.objects.filter(kind=Kind.TRANSFER_OUT).count() == 1
    page = member_client.get(done["Location"]).text
    assert "G.\u00a0H. received 200 points from you" in page and "Grace" not in page


def test_transfer_by_email_whatever_its_case(rich_member, member_client, grace, program):
    form = member_client.post(give_url(program, "transfer/"), {"recipient": " GRACE@example.com ", "points": "10"})
    assert "Send 10 points to G.\u00a0H.?" in form.text


@pytest.mark.parametrize("recipient, points, field, message", [
    ("", "10", "recipient", "This field is required."),
    ("0000000000000000", "10", "recipient", "No member of Coffee Club has this card number or email."),
    ("nobody@example.com", "10", "recipient", "No member of Coffee Club has this card number or email."),
    ("ada@example.com", "10", "recipient", "That is your own card."),
    ("grace@example.com", "0", "points", "greater than or equal to 1"),
    ("grace@example.com", "-5", "points", "greater than or equal to 1"),
    ("grace@example.com", "1.5", "points", "Enter a whole number."),
    ("grace@example.com", "lots", "points", "Enter a whole number."),
    ("grace@example.com", "9" * 40, "points", "less than or equal to"),
    ("grace@example.com", "251", "points", "You have 250 points to send."),
    ("x\x00y", "10", "recipient", "Null characters are not allowed."),
])
def test_bad_transfers_answer_beside_the_field_and_move_nothing(rich_member, member_client, grace, program,
                                                                recipient, points, field, message):
    response = member_client.post(give_url(program, "transfer/"), {"recipient": recipient, "points": points})
    assert response.status_code == 400
    error = re.search(rf'id="id_{field}_error">([^<]*)<', response.text)
    assert error and message in error.group(1).replace("&#x27;", "'"), response.text
    assert balances(rich_member)[0] == 250 and balances(grace)[0] == 0


def test_a_member_of_another_program_or_a_suspended_one_is_nobody(rich_member, member_client, foreign_member,
                                                                  grace, program):
    grace.status = Member.Status.SUSPENDED
    grace.save(update_fields=["status"])
    foreign_member.email = "someone@example.com"
    foreign_member.save(update_fields=["email"])
    for who in (foreign_member.card_number, foreign_member.email, grace.card_number):
        response = member_client.post(give_url(program, "transfer/"), {"recipient": who, "points": "10"})
        assert response.status_code == 400 and "No member of Coffee Club has this card number" in response.text


def test_the_daily_limit_is_said_beside_the_points(rich_member, member_client, grace, program):
    program.transfer_daily_limit = 100
    program.save(update_fields=["transfer_daily_limit"])
    page = member_client.get(give_url(program, "transfer/")).text
    assert "You can send up to 100 points a day." in page
    response = member_client.post(give_url(program, "transfer/"), {"recipient": grace.card_number, "points": "150"})
    assert response.status_code == 400 and "You can send 100 more points today" in response.text


def test_a_limit_reached_between_form_and_confirm_is_refused_at_confirm(rich_member, member_client, grace,
                                                                       program):
    program.transfer_daily_limit = 100
    program.save(update_fields=["transfer_daily_limit"])
    form = member_client.post(give_url(program, "transfer/"), {"recipient": grace.card_number, "points": "80"})
    fields = {name: hidden(form.text, name) for name in ("recipient", "points", "key")}
    second = member_client.post(give_url(program, "transfer/"), {"recipient": grace.card_number, "points": "80"})
    member_client.post(give_url(program, "transfer/confirm/"),
                       {name: hidden(second.text, name) for name in ("recipient", "points", "key")})
    late = member_client.post(give_url(program, "transfer/confirm/"), fields)
    assert late.status_code == 400 and "You can send 20 more points today" in late.text
    assert balances(grace)[0] == 80


def test_transfers_off_says_so_and_refuses(rich_member, member_client, grace, program):
    program.transfer_daily_limit = 0
    program.save(update_fields=["transfer_daily_limit"])
    assert "does not offer transfers" in member_client.get(give_url(program)).text
    page = member_client.get(give_url(program, "transfer/"))
    assert "does not offer transfers" in page.text and 'name="recipient"' not in page.text
    import uuid
    response = member_client.post(give_url(program, "transfer/confirm/"),
                                  {"recipient": grace.card_number, "points": "10", "key": str(uuid.uuid4())})
    assert response.status_code == 400 and balances(grace)[0] == 0


def test_a_tampered_confirmation_moves_nothing(rich_member, member_client, grace, program):
    for fields in ({"recipient": grace.card_number, "points": "10", "key": "not-a-uuid"},
                   {"recipient": grace.card_number, "points": "-10", "key": "7f1b7a4e-6d1c-4a4f-9a7e-0c0c0c0c0c0c"},
                   {}):
        response = member_client.post(give_url(program, "transfer/confirm/"), fields)
        assert response.status_code == 400 and "has expired" in response.text
    assert balances(grace)[0] == 0
    assert member_client.get(give_url(program, "transfer/confirm/")).status_code == 405


def test_another_members_transfer_is_not_found(rich_member, member_client, grace, program):
    form = member_client.post(give_url(program, "transfer/"), {"recipient": grace.card_number, "points": "10"})
    done = member_client.post(give_url(program, "transfer/confirm/"),
                              {name: hidden(form.text, name) for name in ("recipient", "points", "key")})
    assert member_client.get(done["Location"]).status_code == 200
    assert signed_in(Client(), grace).get(done["Location"]).status_code == 404
    assert member_client.get(give_url(program, "transfer/7f1b7a4e-6d1c-4a4f-9a7e-0c0c0c0c0c0c/")).status_code == 404


# --- donations -----------------------------------------------------------------------------------------


@pytest.fixture
def trees(program):
    return cause_create(program=program, code="TREES", name="Plant a tree", description="One tree per 500 points.")


def test_donating_shows_thanks_and_the_running_totals(rich_member, member_client, grace, trees, program):
    earn(grace, 100)
    cause_donate(member=grace, cause=trees, points=30, idempotency_key="g-1")
    url = give_url(program, "causes/TREES/")
    page = member_client.get(url).text
    key = hidden(page, "key")
    assert 'data-testid="cause-total">30<' in page and 'data-testid="cause-mine">0<' in page
    response = member_client.post(url, {"points": "70", "key": key})
    assert response.status_code == 302
    again = member_client.post(url, {"points": "70", "key": key})
    assert again.status_code == 302
    assert Donation.objects.filter(member=rich_member).count() == 1 and balances(rich_member)[0] == 180
    thanks = member_client.get(response["Location"]).text
    assert "Thank you! You gave 70 points to Plant a tree." in thanks
    assert 'data-testid="cause-total">100<' in thanks and 'data-testid="cause-mine">70<' in thanks
    # Grace's donation id on the cause page thanks nobody.
    grace_donation = Donation.objects.get(member=grace)
    assert "Thank you" not in member_client.get(f"{url}?thanks={grace_donation.pk}").text
    assert "Thank you" not in member_client.get(f"{url}?thanks=junk").text


@pytest.mark.parametrize("points, message", [
    ("", "This field is required."), ("0", "greater than or equal to 1"), ("-3", "greater than or equal to 1"),
    ("abc", "Enter a whole number."), ("9" * 30, "less than or equal to"), ("251", "You have 250 points to give."),
])
def test_bad_donations_answer_beside_the_field(rich_member, member_client, trees, program, points, message):
    url = give_url(program, "causes/TREES/")
    key = hidden(member_client.get(url).text, "key")
    response = member_client.post(url, {"points": points, "key": key})
    assert response.status_code == 400
    assert message in re.search(r'id="id_points_error">([^<]*)<', response.text).group(1)
    assert not Donation.objects.exists() and balances(rich_member)[0] == 250


def test_other_programs_and_inactive_causes_are_not_found(rich_member, member_client, trees, program,
                                                          other_program):
    cause_create(program=other_program, code="ELSEWHERE", name="Elsewhere")
    cause_create(program=program, code="OLD", name="Old", active=False)
    for code in ("ELSEWHERE", "OLD", "NOPE", "x" * 80, "%00"):
        assert member_client.get(give_url(program, f"causes/{code}/")).status_code == 404
        assert member_client.post(give_url(program, f"causes/{code}/"),
                                  {"points": "1", "key": "7f1b7a4e-6d1c-4a4f-9a7e-0c0c0c0c0c0c"}).status_code == 404
    assert member_client.get(give_url(program, "causes/TREES/image")).status_code == 404  # no image
    assert not Donation.objects.exists()


# --- claims --------------------------------------------------------------------------------------------


@pytest.fixture
def guest_receipt(store):
    return purchase_record(store=store, actor="test", external_id="R-77", member_reference=None, currency="EUR",
                           total=Decimal("42.00"), occurred_at=timezone.now() - timedelta(days=2))


def test_claiming_a_receipt_earns_its_points_once(member_client, member_with_login, guest_receipt, store, program,
                                                  grace):
    page = member_client.get(give_url(program, "claim/")).text
    assert f'value="{store.pk}"' in page and "Receipt number" in page
    response = member_client.post(give_url(program, "claim/"), {"store": store.pk, "receipt": " R-77 "})
    assert response.status_code == 302
    done = member_client.get(response["Location"]).text
    assert "You earned 42 points." in done and "R-77" in done
    assert balances(member_with_login)[0] == 42
    again = member_client.post(give_url(program, "claim/"), {"store": store.pk, "receipt": "R-77"})
    assert again.status_code == 400 and "already been claimed" in again.text
    by_grace = signed_in(Client(), grace).post(give_url(program, "claim/"), {"store": store.pk, "receipt": "R-77"})
    assert by_grace.status_code == 400 and "already been claimed" in by_grace.text
    assert signed_in(Client(), grace).get(response["Location"]).status_code == 404
    assert balances(member_with_login)[0] == 42 and balances(grace)[0] == 0


def test_bad_claims_get_one_neutral_answer(member_client, member_with_login, guest_receipt, store, program,
                                           other_program):
    old = purchase_record(store=store, actor="test", external_id="OLD-1", member_reference=None, currency="EUR",
                          total=Decimal("5.00"), occurred_at=timezone.now() - timedelta(days=31))
    assert old.claimable_until < timezone.now()
    second = StoreFactory(program=program, code="AIRPORT-2", name="Airport")
    for store_id, receipt in ((store.pk, "OLD-1"), (store.pk, "NOPE"), (second.pk, "R-77")):
        response = member_client.post(give_url(program, "claim/"), {"store": store_id, "receipt": receipt})
        assert response.status_code == 400
        assert "We found no purchase to claim with this receipt number at this store" in response.text
    foreign = StoreFactory(program=other_program, code="DEMO-001")
    for fields in ({"store": foreign.pk, "receipt": "R-77"}, {"store": "junk", "receipt": "R-77"},
                   {"store": store.pk, "receipt": ""}, {"store": store.pk, "receipt": "R" * 100}, {}):
        response = member_client.post(give_url(program, "claim/"), fields)
        assert response.status_code == 400 and 'class="field-error"' in response.text, fields
    assert not Purchase.objects.filter(member=member_with_login).exists()


# --- referrals -----------------------------------------------------------------------------------------


def test_the_referral_page_shows_code_link_friends_and_bonuses(member_client, member_with_login, program, store):
    ben = member_enrol(program=program, email="ben@example.com", first_name="Ben", last_name="Okafor",
                       referral_code=member_with_login.referral_code)
    member_enrol(program=program, email="cleo@example.com", first_name="Cleo", last_name="Martin",
                 referral_code=member_with_login.referral_code)
    from earning.services import earning_rule_create
    earning_rule_create(program=program, code="refer", name="Refer", effect={"kind": "fixed_bonus", "points": 150},
                        applies_to="referral")
    purchase_record(store=store, actor="test", external_id="B-1", member_reference={"id": str(ben.pk)},
                    currency="EUR", total=Decimal("10.00"))
    page = member_client.get(give_url(program, "refer/")).text
    code = member_with_login.referral_code
    assert f'data-testid="referral-code">{code}<' in page
    assert f"/portal/{program.slug}/signup/?ref={code}" in page
    assert "Ben O." in page and "Cleo M." in page and "Okafor" not in page and "Martin" not in page
    assert page.count("Earned their first points") == 1 and "Joined on" in page
    assert "Ben O. shopped for the first time" in page and "+150" in page and "150 points in all." in page


def test_signup_with_a_friends_link_records_the_referral(member_with_login, program):
    code = member_with_login.referral_code
    client = Client()
    form = client.get(f"/portal/{program.slug}/signup/?ref={code}").text
    assert f'name="referral_code" value="{code}"' in form and "Referral code" in form
    response = client.post(f"/portal/{program.slug}/signup/", {
        "email": "dora@example.com", "password": "bright-copper-kettle", "first_name": "Dora", "last_name": "Weiss",
        "referral_code": code.lower()})
    assert response.status_code == 302
    assert Member.objects.get(email="dora@example.com").referred_by_id == member_with_login.pk


def test_signup_with_an_unknown_referral_code_says_so_beside_it(program, foreign_member):
    response = Client().post(f"/portal/{program.slug}/signup/", {
        "email": "dora@example.com", "password": "bright-copper-kettle", "first_name": "Dora", "last_name": "Weiss",
        "referral_code": foreign_member.referral_code})
    assert response.status_code == 400
    assert "No member of Coffee Club has this referral code." in response.text
    assert not Member.objects.filter(email="dora@example.com").exists()


# --- everything else -----------------------------------------------------------------------------------


def test_every_give_page_asks_to_sign_in_and_another_programs_session_is_nobody(program, foreign_member):
    for tail in ("", "transfer/", "claim/", "refer/", "causes/TREES/"):
        assert Client().get(give_url(program, tail)).status_code == 302
    foreign = signed_in(Client(), foreign_member)
    assert foreign.get(give_url(program, "refer/"))["Location"].startswith(f"/portal/{program.slug}/login/")


def test_the_give_pages_in_german(member_client, member_with_login, program):
    cause_create(program=program, code="TREES", name="Plant a tree")
    member_with_login.language = "de"
    member_with_login.save(update_fields=["language"])
    hub = member_client.get(give_url(program)).text
    assert "Geben & teilen" in hub and "Punkte übertragen" in hub
    assert "Übertragen" in member_client.get(give_url(program, "transfer/")).text
    assert "Bonnummer" in member_client.get(give_url(program, "claim/")).text
    assert "Freunde werben" in member_client.get(give_url(program, "refer/")).text
    assert "Spenden" in member_client.get(give_url(program, "causes/TREES/")).text


def test_a_suspended_member_is_refused_beside_the_form(rich_member, member_client, grace, program, trees,
                                                       guest_receipt, store):
    rich_member.status = Member.Status.SUSPENDED
    rich_member.save(update_fields=["status"])
    url = give_url(program, "causes/TREES/")
    response = member_client.post(url, {"points": "10", "key": hidden(member_client.get(url).text, "key")})
    assert response.status_code == 400 and "on hold" in response.text
    response = member_client.post(give_url(program, "claim/"), {"store": store.pk, "receipt": "R-77"})
    assert response.status_code == 400 and "on hold" in response.text
    assert balances(rich_member)[0] == 250


def test_password_constant_is_shared():
    assert PASSWORD and MemberFactory


def test_guessing_receipts_or_members_is_stopped_after_a_while(member_client, member_with_login, guest_receipt,
                                                               store, program, grace):
    for number in range(10):
        member_client.post(give_url(program, "claim/"), {"store": store.pk, "receipt": f"GUESS-{number}"})
    stopped = member_client.post(give_url(program, "claim/"), {"store": store.pk, "receipt": "R-77"})
    assert stopped.status_code == 429 and "try again in an hour" in stopped.text
    assert balances(member_with_login)[0] == 0
    for number in range(30):
        member_client.post(give_url(program, "transfer/"), {"recipient": f"guess{number}@example.com", "points": "1"})
    stopped = member_client.post(give_url(program, "transfer/"), {"recipient": grace.email, "points": "1"})
    assert stopped.status_code == 429 and "G.\u00a0H." not in stopped.text and "try again in an hour" in stopped.text


def test_a_causes_picture_is_served_to_members_only(member_client, program, settings, tmp_path):
    import io

    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image

    settings.MEDIA_ROOT = tmp_path
    out = io.BytesIO()
    Image.new("RGB", (120, 80), (20, 120, 90)).save(out, format="PNG")
    cause = cause_create(program=program, code="TREES", name="Plant a tree")
    cause.image = SimpleUploadedFile("trees.png", out.getvalue(), content_type="image/png")
    cause.save(update_fields=["image"])
    assert f"/portal/{program.slug}/give/causes/TREES/image" in member_client.get(give_url(program)).text
    assert member_client.get(give_url(program, "causes/TREES/image")).status_code == 200
    assert Client().get(give_url(program, "causes/TREES/image")).status_code == 302


def test_staff_add_causes_in_the_admin(program, admin_client):
    assert admin_client.get("/admin/rewards/cause/add/").status_code == 200
    response = admin_client.post("/admin/rewards/cause/add/", {
        "program": program.pk, "code": "FOOD-BANK", "name": "Food bank", "description": "Meals.", "active": "on"})
    assert response.status_code == 302, response.content
    assert admin_client.get("/admin/rewards/cause/").status_code == 200
    assert admin_client.get("/admin/rewards/donation/").status_code == 200

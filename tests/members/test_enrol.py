import pytest

from members.identifiers import luhn_is_valid
from members.models import Member
from tests.factories import MemberFactory

URL = "/api/v1/pos/members/"


def enrol(pos, **body):
    return pos.post(URL, body, format="json")


def test_enrolment_returns_the_member_object(pos, program, store):
    response = enrol(pos, email="Grace@Example.com", first_name="Grace", last_name="Hopper",
                     phone="+49 151 12345679", birth_date="1990-12-09", marketing_opt_in=True)

    assert response.status_code == 201, response.json()
    body = response.json()
    assert set(body) >= {"id", "card_number", "email", "first_name", "last_name", "status", "tier", "balance",
                         "referral_code", "enrolled_at"}
    assert body["status"] == "active"
    assert body["balance"] == {"available": 0, "pending": 0}
    assert len(body["card_number"]) == 16 and luhn_is_valid(body["card_number"])
    member = Member.objects.get(pk=body["id"])
    assert member.program == program
    assert member.enrolled_store == store
    assert member.phone == "+4915112345679"
    assert member.marketing_opt_in and member.marketing_opt_in_at is not None
    assert member.account.available == 0


def test_only_email_is_required(pos):
    response = enrol(pos, email="minimal@example.com")

    assert response.status_code == 201
    assert response.json()["first_name"] == ""
    assert Member.objects.get(email="minimal@example.com").marketing_opt_in is False


def test_same_email_in_any_case_is_member_exists(pos, member):
    response = enrol(pos, email="ADA@example.COM")

    assert response.status_code == 409
    assert response.json()["code"] == "member_exists"
    assert Member.objects.count() == 1


def test_same_phone_in_another_format_is_member_exists(pos, member):
    response = enrol(pos, email="someone.else@example.com", phone="0151 12345678")  # national form, DE program

    assert response.status_code == 409
    assert response.json()["code"] == "member_exists"
    assert Member.objects.count() == 1


def test_same_email_in_another_program_is_a_separate_member(pos, other_pos, member):
    assert enrol(other_pos, email="ada@example.com").status_code == 201
    assert Member.objects.filter(email__lower="ada@example.com").count() == 2


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "email"),
        ({"email": ""}, "email"),
        ({"email": "not-an-email"}, "email"),
        ({"email": "a@example.com", "phone": "12"}, "phone"),
        ({"email": "a@example.com", "phone": "call me"}, "phone"),
        ({"email": "a@example.com", "birth_date": "31/12/1990"}, "birth_date"),
        ({"email": "a@example.com", "birth_date": "2999-01-01"}, "birth_date"),
        ({"email": "a@example.com", "first_name": "x" * 101}, "first_name"),
        ({"email": "a@example.com", "marketing_opt_in": "perhaps"}, "marketing_opt_in"),
        ({"email": "a@example.com", "referral_code": "NOSUCH99"}, "referral_code"),
        ({"email": ["a@example.com"]}, "email"),
    ],
)
def test_each_bad_field_is_a_400_naming_the_field_and_enrols_nobody(pos, body, field):
    response = enrol(pos, **body)

    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == "invalid"
    assert field in [error["field"] for error in problem["errors"]]
    assert Member.objects.count() == 0


def test_a_body_that_is_not_an_object_is_invalid(pos):
    response = pos.post(URL, ["email"], format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


def test_referral_code_links_the_new_member_to_the_referrer(pos, member):
    response = enrol(pos, email="friend@example.com", referral_code=member.referral_code.lower())

    assert response.status_code == 201
    assert Member.objects.get(pk=response.json()["id"]).referred_by == member


def test_referral_code_of_another_program_is_unknown(pos, other_program):
    stranger = MemberFactory(program=other_program)

    response = enrol(pos, email="friend@example.com", referral_code=stranger.referral_code)

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "referral_code"


def test_card_numbers_and_referral_codes_are_unique(pos):
    bodies = [enrol(pos, email=f"m{i}@example.com").json() for i in range(25)]

    assert len({b["card_number"] for b in bodies}) == 25
    assert len({b["referral_code"] for b in bodies}) == 25

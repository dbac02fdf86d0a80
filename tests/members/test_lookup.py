import uuid

import pytest

from members.identifiers import card_number_generate, luhn_check_digit
from members.models import Member
from tests.factories import MemberFactory

LOOKUP = "/api/v1/pos/members/lookup/"
MEMBER_FIELDS = {"id", "card_number", "email", "first_name", "last_name", "status", "tier", "balance",
                 "referral_code", "enrolled_at"}


def detail_url(member_id) -> str:
    return f"/api/v1/pos/members/{member_id}/"


def spaced(card_number: str) -> str:
    return " ".join(card_number[i:i + 4] for i in range(0, 16, 4))


def assert_invalid(response, field=None):
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == "invalid"
    if field is not None:
        assert field in [error["field"] for error in problem["errors"]]
    return problem


def assert_member_not_found(response):
    assert response.status_code == 404, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "member_not_found"


def test_lookup_by_card_number_returns_the_member_object(pos, member):
    response = pos.get(LOOKUP, {"card_number": member.card_number})

    assert response.status_code == 200
    body = response.json()
    assert set(body) >= MEMBER_FIELDS
    assert body["id"] == str(member.id)
    assert body["card_number"] == member.card_number
    assert body["email"] == "ada@example.com"
    assert body["first_name"] == "Ada"
    assert body["status"] == "active"
    assert body["balance"] == {"available": 0, "pending": 0}
    assert body["referral_code"] == member.referral_code


def test_lookup_by_email_ignores_case(pos, member):
    response = pos.get(LOOKUP, {"email": "ADA@Example.COM"})

    assert response.status_code == 200
    assert response.json()["id"] == str(member.id)


def test_lookup_by_email_ignores_surrounding_spaces(pos, member):
    response = pos.get(LOOKUP, {"email": "  ada@example.com "})

    assert response.status_code == 200
    assert response.json()["id"] == str(member.id)


def test_lookup_by_phone_in_e164_with_the_plus_encoded(pos, member):
    response = pos.get(f"{LOOKUP}?phone=%2B4915112345678")

    assert response.status_code == 200
    assert response.json()["id"] == str(member.id)


@pytest.mark.parametrize("phone", ["015112345678", "0151 12345678", "0151-1234-5678", "(0151) 123 456 78"])
def test_lookup_by_phone_in_national_form_of_the_programs_region(pos, member, phone):
    response = pos.get(LOOKUP, {"phone": phone})

    assert response.status_code == 200
    assert response.json()["id"] == str(member.id)


def test_lookup_by_phone_in_international_form_with_spaces(pos, member):
    response = pos.get(LOOKUP, {"phone": "+49 151 1234 5678"})

    assert response.status_code == 200
    assert response.json()["id"] == str(member.id)


def test_national_phone_form_is_read_in_each_programs_own_region(pos, member, other_program, other_pos):
    other_program.default_phone_region = "GB"
    other_program.save(update_fields=["default_phone_region"])
    briton = MemberFactory(program=other_program, email="bri@example.com", phone="+447700900123")

    assert other_pos.get(LOOKUP, {"phone": "07700 900123"}).json()["id"] == str(briton.id)
    assert_member_not_found(pos.get(LOOKUP, {"phone": "07700 900123"}))


@pytest.mark.parametrize("separator", [" ", "-"])
def test_lookup_by_card_number_accepts_the_number_as_printed(pos, member, separator):
    printed = spaced(member.card_number).replace(" ", separator)

    response = pos.get(LOOKUP, {"card_number": printed})

    assert response.status_code == 200
    assert response.json()["id"] == str(member.id)


def test_two_members_are_told_apart(pos, member, program, store):
    grace = MemberFactory(program=program, store=store, email="grace@example.com", phone="+4915199999999")

    assert pos.get(LOOKUP, {"email": "grace@example.com"}).json()["id"] == str(grace.id)
    assert pos.get(LOOKUP, {"phone": "+4915199999999"}).json()["id"] == str(grace.id)
    assert pos.get(LOOKUP, {"card_number": grace.card_number}).json()["id"] == str(grace.id)
    assert pos.get(LOOKUP, {"card_number": member.card_number}).json()["id"] == str(member.id)


@pytest.mark.parametrize(
    "query",
    [
        "",
        "?email=ada@example.com&phone=%2B4915112345678",
        "?email=ada@example.com&card_number=0000000000000000",
        "?name=Ada",
        "?id=00000000-0000-0000-0000-000000000000",
        "?email=ada@example.com&email=ada@example.com",
        "?email=ada@example.com&page=1",
        "?email=ada@example.com&phone=",
    ],
    ids=["none", "email-and-phone", "email-and-card", "unknown", "id-is-not-a-query-param", "repeated",
         "extra-param", "extra-empty-param"],
)
def test_lookup_needs_exactly_one_of_card_number_email_phone(pos, member, query):
    assert_invalid(pos.get(LOOKUP + query))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("card_number", "123456789012345"),  # 15 digits
        ("card_number", "12345678901234567"),  # 17 digits
        ("card_number", "9123abcd56781234"),
        ("card_number", ""),
        ("email", "not-an-email"),
        ("email", ""),
        ("phone", "call me"),
        ("phone", "12"),
        ("phone", ""),
    ],
)
def test_a_malformed_value_is_400_naming_the_field(pos, member, field, value):
    problem = assert_invalid(pos.get(LOOKUP, {field: value}), field)

    assert field in problem["detail"]


def test_a_card_number_with_a_wrong_check_digit_is_400_naming_the_field(pos, member):
    number = member.card_number
    wrong = number[:-1] + str((int(number[-1]) + 1) % 10)

    problem = assert_invalid(pos.get(LOOKUP, {"card_number": wrong}), "card_number")

    assert "check digit" in problem["errors"][0]["message"]


def test_a_card_number_with_one_mistyped_digit_is_400_not_someone_else(pos, member):
    number = member.card_number
    mistyped = number[:5] + str((int(number[5]) + 3) % 10) + number[6:]

    assert_invalid(pos.get(LOOKUP, {"card_number": mistyped}), "card_number")


def test_a_well_formed_card_number_that_names_nobody_is_member_not_found(pos, member):
    unknown = card_number_generate()
    assert unknown != member.card_number

    assert_member_not_found(pos.get(LOOKUP, {"card_number": unknown}))


def test_a_valid_card_number_not_starting_with_9_is_member_not_found(pos, member):
    payload = "4" * 15

    assert_member_not_found(pos.get(LOOKUP, {"card_number": payload + luhn_check_digit(payload)}))


@pytest.mark.parametrize(("field", "value"), [("email", "nobody@example.com"), ("phone", "+4915100000000"),
                                              ("phone", "0151 00000000")])
def test_a_well_formed_value_that_names_nobody_is_member_not_found(pos, member, field, value):
    assert_member_not_found(pos.get(LOOKUP, {field: value}))


def test_lookup_changes_nothing(pos, member):
    before = list(Member.objects.values_list("id", "email", "phone", "status"))

    pos.get(LOOKUP, {"email": "ADA@example.com"})
    pos.get(LOOKUP, {"card_number": "123"})
    pos.get(LOOKUP)

    assert list(Member.objects.values_list("id", "email", "phone", "status")) == before


def test_get_member_by_id_returns_the_member_object(pos, member):
    response = pos.get(detail_url(member.id))

    assert response.status_code == 200
    body = response.json()
    assert set(body) >= MEMBER_FIELDS
    assert body["id"] == str(member.id)
    assert body["card_number"] == member.card_number


def test_get_member_and_lookup_answer_the_same_object(pos, member):
    by_id = pos.get(detail_url(member.id)).json()
    by_card = pos.get(LOOKUP, {"card_number": member.card_number}).json()

    assert by_id == by_card


def test_get_member_by_id_shows_a_suspended_member_as_suspended(pos, program):
    suspended = MemberFactory(program=program, status="suspended")

    response = pos.get(detail_url(suspended.id))

    assert response.status_code == 200
    assert response.json()["status"] == "suspended"


@pytest.mark.parametrize("member_id",
                         ["not-a-uuid", "12345", "00000000-0000-0000-0000-00000000000g", "ada@example.com"])
def test_get_member_with_an_id_that_is_not_a_uuid_is_404(pos, member, member_id):
    assert_member_not_found(pos.get(detail_url(member_id)))


def test_get_member_with_an_unknown_uuid_is_404(pos, member):
    assert_member_not_found(pos.get(detail_url(uuid.uuid4())))


def test_get_member_by_card_number_in_place_of_id_is_404(pos, member):
    assert_member_not_found(pos.get(detail_url(member.card_number)))


def test_lookup_finds_an_email_stored_in_mixed_case(pos, program, store):
    grace = MemberFactory(program=program, store=store, email="Grace.Hopper@Example.com")

    response = pos.get(LOOKUP, {"email": "grace.hopper@example.com"})

    assert response.status_code == 200
    assert response.json()["id"] == str(grace.id)


def test_a_found_member_is_answered_as_json(pos, member):
    response = pos.get(LOOKUP, {"email": "ada@example.com"})

    assert response["Content-Type"] == "application/json"


@pytest.mark.parametrize(("field", "value"), [("email", "ada\x00@example.com"), ("phone", "+49151\x0012345678"),
                                              ("card_number", "4111\x00111111111111")])
def test_a_value_with_a_null_character_is_400_not_a_server_error(pos, member, field, value):
    assert_invalid(pos.get(LOOKUP, {field: value}), field)


@pytest.mark.parametrize(("field", "value"), [("email", "a" * 300 + "@example.com"), ("phone", "1" * 5000),
                                              ("card_number", "1" * 5000)])
def test_an_oversized_value_is_400_naming_the_field(pos, member, field, value):
    assert_invalid(pos.get(LOOKUP, {field: value}), field)

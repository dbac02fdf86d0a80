"""A key only ever sees its own program: another program's member answers exactly like nobody."""

import uuid

import pytest

from loyalty.errors import DomainError
from members.identifiers import card_number_generate
from members.selectors import member_find, member_get
from tests.conftest import pos_client
from tests.factories import MemberFactory, StoreFactory, api_key_for

LOOKUP = "/api/v1/pos/members/lookup/"


def detail_url(member_id) -> str:
    return f"/api/v1/pos/members/{member_id}/"


def references(member) -> list[tuple[str, str]]:
    return [("card_number", member.card_number), ("email", member.email), ("phone", member.phone)]


@pytest.mark.parametrize("field", ["card_number", "email", "phone"])
def test_another_programs_key_cannot_look_up_the_member(other_pos, member, field):
    value = dict(references(member))[field]

    response = other_pos.get(LOOKUP, {field: value})

    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "member_not_found"


def test_another_programs_key_cannot_get_the_member_by_id(other_pos, member):
    response = other_pos.get(detail_url(member.id))

    assert response.status_code == 404
    assert response.json()["code"] == "member_not_found"


def test_the_refusal_is_identical_to_the_one_for_nobody(other_pos, member):
    """No hint that the member exists: same status, headers that matter, and body as for an unknown one."""
    foreign = other_pos.get(detail_url(member.id))
    nobody = other_pos.get(detail_url(uuid.uuid4()))
    assert (foreign.status_code, foreign["Content-Type"], foreign.json()) == (
        nobody.status_code, nobody["Content-Type"], nobody.json())

    for field, value in references(member):
        foreign = other_pos.get(LOOKUP, {field: value})
        unknown = {"card_number": card_number_generate(), "email": "nobody@example.com", "phone": "+4915100000000"}
        nobody = other_pos.get(LOOKUP, {field: unknown[field]})
        assert foreign.status_code == nobody.status_code == 404
        assert foreign.json() == nobody.json()


def test_the_same_person_in_two_programs_is_seen_as_each_programs_own_member(pos, other_pos, member, other_program):
    twin = MemberFactory(program=other_program, email="ADA@example.com", phone="+4915112345678")

    assert pos.get(LOOKUP, {"email": "ada@example.com"}).json()["id"] == str(member.id)
    assert other_pos.get(LOOKUP, {"email": "ada@example.com"}).json()["id"] == str(twin.id)
    assert pos.get(LOOKUP, {"phone": "+4915112345678"}).json()["id"] == str(member.id)
    assert other_pos.get(LOOKUP, {"phone": "+4915112345678"}).json()["id"] == str(twin.id)
    assert other_pos.get(detail_url(member.id)).status_code == 404
    assert pos.get(detail_url(twin.id)).status_code == 404


def test_a_second_store_of_the_same_program_sees_the_member(program, member):
    branch = pos_client(api_key_for(StoreFactory(program=program, code="BRANCH-2")))

    assert branch.get(detail_url(member.id)).json()["id"] == str(member.id)
    assert branch.get(LOOKUP, {"card_number": member.card_number}).status_code == 200


@pytest.mark.parametrize("field", ["id", "card_number", "email", "phone"])
def test_a_member_reference_never_resolves_to_another_programs_member(other_program, member, field):
    value = str(member.id) if field == "id" else dict(references(member))[field]

    with pytest.raises(DomainError) as refused:
        member_find(program=other_program, field=field, value=value)

    assert refused.value.code == "member_not_found"
    assert refused.value.status == 404


def test_member_get_never_returns_another_programs_member(other_program, member):
    with pytest.raises(DomainError) as refused:
        member_get(program=other_program, member_id=member.id)

    assert refused.value.code == "member_not_found"

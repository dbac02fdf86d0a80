import pytest
from django.test import Client

from members.services import member_login_create
from rewards.services import reward_create
from tests.factories import MemberFactory
from tests.ledger.support import earn

PASSWORD = "a-good-member-password"


def signed_in(client: Client, member) -> Client:
    response = client.post(f"/portal/{member.program.slug}/login/",
                           {"email": member.email, "password": PASSWORD})
    assert response.status_code == 302, response.content
    return client


@pytest.fixture
def member_with_login(member):
    member_login_create(member=member, password=PASSWORD)
    return member


@pytest.fixture
def member_client(member_with_login):
    return signed_in(Client(), member_with_login)


@pytest.fixture
def other_member(program, store):
    other = MemberFactory(program=program, store=store, email="grace@example.com", first_name="Grace")
    return member_login_create(member=other, password=PASSWORD)


@pytest.fixture
def foreign_member(other_program):
    foreign = MemberFactory(program=other_program, email="ada@example.com", first_name="Ada")
    return member_login_create(member=foreign, password=PASSWORD)


@pytest.fixture
def coffee(program):
    return reward_create(program=program, code="COFFEE", name="Free coffee", points_cost=100)


@pytest.fixture
def rich_member(member_with_login):
    earn(member_with_login, 250)
    return member_with_login

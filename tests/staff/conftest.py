"""The staff world: a program with a manager, a second manager, an agent and an analyst, and another program."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from staff.models import Role, StaffPolicy, StaffRole

PASSWORD = "a-long-test-password-1"


@pytest.fixture(autouse=True)
def _quick_password_hashing(settings):
    """Argon2 is deliberately slow; these tests are about the dashboard, not about hashing."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def make_staff(username: str, program, role: str):
    user = get_user_model().objects.create_user(username=username, password=PASSWORD)
    StaffRole.objects.create(user=user, program=program, role=role)
    return user


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)  # axes' backend needs a request; sign-in itself is tested in test_login.py
    return client


@pytest.fixture
def policy(program):
    return StaffPolicy.objects.create(program=program, approval_threshold=1000, agent_adjustment_limit=500)


@pytest.fixture
def manager(program, policy):
    return make_staff("coffee-manager", program, Role.MANAGER)


@pytest.fixture
def second_manager(program, policy):
    return make_staff("coffee-manager-2", program, Role.MANAGER)


@pytest.fixture
def agent(program, policy):
    return make_staff("coffee-agent", program, Role.AGENT)


@pytest.fixture
def analyst(program, policy):
    return make_staff("coffee-analyst", program, Role.ANALYST)


@pytest.fixture
def other_manager(other_program):
    return make_staff("other-manager", other_program, Role.MANAGER)


@pytest.fixture
def superuser(db):
    return get_user_model().objects.create_superuser(username="root", password=PASSWORD)


@pytest.fixture
def manager_client(manager):
    return client_for(manager)


@pytest.fixture
def second_manager_client(second_manager):
    return client_for(second_manager)


@pytest.fixture
def agent_client(agent):
    return client_for(agent)


@pytest.fixture
def analyst_client(analyst):
    return client_for(analyst)


@pytest.fixture
def other_manager_client(other_manager):
    return client_for(other_manager)

"""The public page at /: anyone may open it, so with DEBUG off it names no program and counts nothing; with
DEBUG on it is the developer's overview. Signed-in staff are taken to their dashboard."""

import pytest
from django.contrib.auth import get_user_model

from programs.demo import DEMO_MEMBERS, demo_seed
from staff.models import Role, StaffRole

pytestmark = pytest.mark.django_db

KEY = "demo-pos-key-0001"


@pytest.fixture
def tenants(settings, program, other_program, member):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    demo_seed(api_key=KEY)
    return [program, other_program]


def tenant_data(page: str, tenants) -> list[str]:
    """What the page gives away about the programs running here."""
    found = [text for p in tenants for text in (p.name, p.slug) if text in page]
    found += [text for text in ("Demo Coffee Club", KEY, DEMO_MEMBERS[0][0], "ada@example.com") if text in page]
    found += [marker for marker in ('data-program="', 'data-testid="total-', 'data-col="members"') if marker in page]
    return found


def test_with_debug_off_the_public_page_names_no_program_and_counts_nothing(client, settings, tenants):
    settings.DEBUG = False

    response = client.get("/")

    assert response.status_code == 200
    page = response.content.decode()
    assert tenant_data(page, tenants) == []
    assert 'href="/staff/login/"' in page and 'href="/api/docs/"' in page


def test_with_debug_off_an_empty_installation_reads_the_same(client, settings, db):
    settings.DEBUG = False

    page = client.get("/").content.decode()

    assert "No programs yet" not in page and 'href="/staff/login/"' in page


def test_with_debug_on_the_developer_overview_lists_every_program_with_its_counts(client, settings, tenants):
    settings.DEBUG = True

    page = client.get("/").content.decode()

    assert "Developer overview" in page
    for program in tenants:
        assert f'data-program="{program.slug}"' in page and program.name in page
    assert f"Api-Key {KEY}" in page


@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize("who", ["manager", "agent", "analyst", "superuser"])
def test_signed_in_staff_land_on_their_dashboard(client, settings, program, who, debug):
    settings.DEBUG = debug
    users = get_user_model().objects
    if who == "superuser":
        user = users.create_superuser(username="root", password="x")
    else:
        user = users.create_user(username=who, password="x")
        StaffRole.objects.create(user=user, program=program, role=getattr(Role, who.upper()))
    client.force_login(user)

    response = client.get("/")

    assert response.status_code == 302 and response["Location"] == "/staff/"
    assert client.get(response["Location"]).status_code == 200


@pytest.mark.parametrize("debug", [False, True])
def test_someone_signed_in_without_a_staff_role_stays_on_the_public_page(client, settings, program, debug):
    settings.DEBUG = debug
    member_user = get_user_model().objects.create_user(username="shopper", password="x")
    client.force_login(member_user)

    response = client.get("/")

    assert response.status_code == 200
    assert ("Developer overview" in response.content.decode()) is debug


def test_only_reading_is_allowed(client, db):
    assert client.post("/").status_code == 405

"""`manage.py seed_demo`: the contract's demo program, ready for an integrator, and safe to run again."""

import re
from decimal import Decimal
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from members.models import Member
from programs.models import Program, Store, StoreApiKey
from programs.services import api_key_revoke
from tests.conftest import pos_client

DEMO_KEY = "demo-pos-key-0123456789"
ANNA = "/api/v1/pos/members/lookup/?email=anna.schmidt@example.com"


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # The seed creates portal and staff logins; the production hasher is slow by design.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def seed(*args) -> str:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def counts() -> dict:
    return {model.__name__: model.objects.count()
            for model in (Program, Store, StoreApiKey, Member, get_user_model())}


def printed_keys(output: str) -> list[str]:
    return re.findall(r"POS API key \(shown once, keep it\): (\S+)", output)


def test_seed_demo_creates_the_demo_program_as_the_contract_describes(db):
    seed("--api-key", DEMO_KEY)

    program = Program.objects.get(slug="demo")
    assert program.currency == "EUR"
    assert program.pending_days == 0
    assert program.expiry_days == 365
    assert program.points_per_unit == Decimal("1")
    assert Store.objects.filter(program=program, code="DEMO-001").exists()


def test_the_given_key_works_against_the_member_lookup(db):
    seed("--api-key", DEMO_KEY)

    response = pos_client(DEMO_KEY).get(ANNA)

    assert response.status_code == 200
    body = response.json()
    assert body["email"] == "anna.schmidt@example.com"
    assert body["balance"] == {"available": 0, "pending": 0}
    assert Member.objects.get(pk=body["id"]).program.slug == "demo"


def test_the_given_key_belongs_to_the_demo_store_and_is_stored_hashed(db):
    seed("--api-key", DEMO_KEY)

    record = StoreApiKey.objects.get()
    assert record.store.code == "DEMO-001"
    assert record.prefix == DEMO_KEY[:8]
    assert record.key_hash != DEMO_KEY and DEMO_KEY not in record.key_hash


def test_the_demo_members_can_be_found_by_phone_and_card(db):
    seed("--api-key", DEMO_KEY)
    client = pos_client(DEMO_KEY)
    anna = Member.objects.get(email="anna.schmidt@example.com")

    assert client.get("/api/v1/pos/members/lookup/?phone=%2B493090182000").json()["id"] == str(anna.id)
    assert client.get("/api/v1/pos/members/lookup/", {"card_number": anna.card_number}).json()["id"] == str(anna.id)


def test_a_second_run_leaves_everything_as_it_is(db):
    seed("--api-key", DEMO_KEY)
    before = counts()
    anna_before = Member.objects.values("id", "card_number").get(email="anna.schmidt@example.com")

    seed("--api-key", DEMO_KEY)

    assert counts() == before
    assert Member.objects.values("id", "card_number").get(email="anna.schmidt@example.com") == anna_before
    assert pos_client(DEMO_KEY).get(ANNA).status_code == 200


def test_a_second_run_does_not_undo_changes_made_to_the_program(db):
    seed("--api-key", DEMO_KEY)
    Program.objects.filter(slug="demo").update(expiry_days=90)

    seed("--api-key", DEMO_KEY)

    assert Program.objects.get(slug="demo").expiry_days == 90


def test_another_program_and_store_are_created_side_by_side(db):
    seed("--api-key", DEMO_KEY)
    seed("--program", "x", "--store", "Y", "--api-key", "second-demo-key-98765")

    x = Program.objects.get(slug="x")
    assert x.currency == "EUR" and x.pending_days == 0 and x.expiry_days == 365
    assert Store.objects.get(program=x).code == "Y"
    assert Program.objects.count() == 2
    assert Member.objects.filter(program=x).count() == Member.objects.filter(program__slug="demo").count()


def test_the_two_demo_programs_are_independent(db):
    seed("--api-key", DEMO_KEY)
    seed("--program", "x", "--store", "Y", "--api-key", "second-demo-key-98765")
    demo_anna = Member.objects.get(program__slug="demo", email="anna.schmidt@example.com")
    x_anna = Member.objects.get(program__slug="x", email="anna.schmidt@example.com")

    assert demo_anna.id != x_anna.id
    assert pos_client(DEMO_KEY).get(ANNA).json()["id"] == str(demo_anna.id)
    assert pos_client("second-demo-key-98765").get(ANNA).json()["id"] == str(x_anna.id)
    assert pos_client("second-demo-key-98765").get(f"/api/v1/pos/members/{demo_anna.id}/").status_code == 404
    assert pos_client(DEMO_KEY).get(f"/api/v1/pos/members/{x_anna.id}/").status_code == 404


def test_without_a_key_one_is_printed_once_and_it_works(db):
    output = seed()

    keys = printed_keys(output)
    assert len(keys) == 1
    assert pos_client(keys[0]).get(ANNA).status_code == 200
    assert StoreApiKey.objects.count() == 1


def test_without_a_key_a_second_run_prints_none_and_makes_none(db):
    first_key = printed_keys(seed())[0]

    output = seed()

    assert printed_keys(output) == []
    assert first_key not in output
    assert first_key[:8] in output  # the existing key is named by its prefix
    assert StoreApiKey.objects.count() == 1
    assert pos_client(first_key).get(ANNA).status_code == 200


def test_a_given_key_is_never_echoed(db):
    output = seed("--api-key", DEMO_KEY)

    assert DEMO_KEY not in output


def test_a_key_already_used_by_another_store_is_refused(db):
    seed("--api-key", DEMO_KEY)
    before = counts()

    with pytest.raises(CommandError):
        seed("--program", "x", "--store", "Y", "--api-key", DEMO_KEY)

    assert counts() == before
    assert pos_client(DEMO_KEY).get(ANNA).json()["email"] == "anna.schmidt@example.com"


def test_a_revoked_key_is_not_brought_back(db):
    seed("--api-key", DEMO_KEY)
    api_key_revoke(api_key=StoreApiKey.objects.get())

    with pytest.raises(CommandError):
        seed("--api-key", DEMO_KEY)

    assert pos_client(DEMO_KEY).get(ANNA).status_code == 401


def test_a_key_too_short_to_be_safe_is_refused_and_nothing_is_created(db):
    with pytest.raises(CommandError, match="8 characters"):
        seed("--api-key", "short")

    assert counts() == {"Program": 0, "Store": 0, "StoreApiKey": 0, "Member": 0, "User": 0}

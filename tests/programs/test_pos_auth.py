import hashlib
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from loyalty.errors import DomainError
from programs.models import StoreApiKey
from programs.services import api_key_create, api_key_revoke
from tests.conftest import pos_client
from tests.factories import StoreFactory, api_key_for

LOOKUP = "/api/v1/pos/members/lookup/?email=ada@example.com"


def assert_not_authenticated(response):
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"
    assert response["WWW-Authenticate"].startswith("Api-Key")
    problem = response.json()
    assert problem["code"] == "not_authenticated"
    assert problem["status"] == 401
    assert problem["detail"]


def test_a_valid_key_is_let_in(pos, member):
    response = pos.get(LOOKUP)

    assert response.status_code == 200
    assert response.json()["id"] == str(member.id)


def test_a_call_without_authorization_header_is_401(member):
    assert_not_authenticated(pos_client(None).get(LOOKUP))


@pytest.mark.parametrize(
    "header",
    [
        "Bearer {key}",
        "Token {key}",
        "Basic {key}",
        "{key}",
        "Api-Key",
        "Api-Key ",
        "Api-Key:{key}",
        "ApiKey {key}",
    ],
)
def test_a_header_in_another_scheme_is_401(api_key, member, header):
    client = pos_client(None)
    client.credentials(HTTP_AUTHORIZATION=header.format(key=api_key))

    assert_not_authenticated(client.get(LOOKUP))


def test_an_unknown_key_is_401(member):
    assert_not_authenticated(pos_client("lk_this-key-was-never-issued").get(LOOKUP))


def test_a_key_with_one_character_changed_is_401(api_key, member):
    tampered = api_key[:-1] + ("A" if api_key[-1] != "A" else "B")

    assert_not_authenticated(pos_client(tampered).get(LOOKUP))


def test_a_revoked_key_is_401(pos, api_key, member):
    assert pos.get(LOOKUP).status_code == 200
    record = StoreApiKey.objects.get(key_hash=hashlib.sha256(api_key.encode()).hexdigest())

    api_key_revoke(api_key=record)

    assert_not_authenticated(pos.get(LOOKUP))
    assert StoreApiKey.objects.get(pk=record.pk).revoked_at is not None


def test_revoking_one_key_leaves_the_other_keys_of_the_store_working(pos, api_key, store, member):
    second = api_key_for(store)
    api_key_revoke(api_key=StoreApiKey.objects.get(key_hash=hashlib.sha256(api_key.encode()).hexdigest()))

    assert_not_authenticated(pos.get(LOOKUP))
    assert pos_client(second).get(LOOKUP).status_code == 200


def test_a_key_of_a_deactivated_store_is_401(pos, store, member):
    store.is_active = False
    store.save(update_fields=["is_active"])

    assert_not_authenticated(pos.get(LOOKUP))


def test_a_refused_key_changes_nothing(api_key, member):
    before = list(StoreApiKey.objects.values_list("pk", "last_used_at", "revoked_at"))

    pos_client("lk_unknown-key-000000").get(LOOKUP)
    pos_client(None).get(LOOKUP)

    assert list(StoreApiKey.objects.values_list("pk", "last_used_at", "revoked_at")) == before


def test_only_a_sha256_digest_and_a_prefix_of_the_key_are_stored(store):
    record, raw_key = api_key_create(store=store, name="till 1")

    stored = StoreApiKey.objects.get(pk=record.pk)
    assert stored.key_hash == hashlib.sha256(raw_key.encode()).hexdigest()
    assert stored.prefix == raw_key[:8]
    assert len(raw_key) >= 32
    for field in StoreApiKey._meta.concrete_fields:
        value = str(field.value_from_object(stored))
        assert raw_key not in value, field.name
    assert not StoreApiKey.objects.filter(key_hash=raw_key).exists()


def test_a_key_is_recognised_by_its_prefix_not_its_secret(store):
    record, raw_key = api_key_create(store=store, name="till 1")

    assert str(record).startswith(raw_key[:8])
    assert raw_key not in str(record)


def test_the_admin_shows_the_prefix_and_never_the_key(admin_client, store):
    _, raw_key = api_key_create(store=store, name="till 1")

    page = admin_client.get("/admin/programs/storeapikey/").content.decode()

    assert raw_key[:8] in page
    assert raw_key not in page


def test_generated_keys_are_all_different(store):
    keys = {api_key_create(store=store, name=f"till {i}")[1] for i in range(20)}

    assert len(keys) == 20


def test_a_key_already_in_use_cannot_be_created_again(store, other_program):
    api_key_create(store=store, name="first", raw_key="lk_fixed-key-123456")
    other_store = StoreFactory(program=other_program)

    with pytest.raises(DomainError) as refused:
        api_key_create(store=other_store, name="second", raw_key="lk_fixed-key-123456")

    assert refused.value.code == "invalid"
    assert StoreApiKey.objects.count() == 1


def test_using_a_key_records_when_it_was_last_used(pos, api_key, member):
    record = StoreApiKey.objects.get(key_hash=hashlib.sha256(api_key.encode()).hexdigest())
    assert record.last_used_at is None
    before = timezone.now()

    pos.get(LOOKUP)

    record.refresh_from_db()
    assert record.last_used_at is not None
    assert before <= record.last_used_at <= timezone.now()


def test_last_used_is_refreshed_when_the_recorded_use_is_old(pos, api_key, member):
    record = StoreApiKey.objects.get(key_hash=hashlib.sha256(api_key.encode()).hexdigest())
    long_ago = timezone.now() - timedelta(hours=3)
    StoreApiKey.objects.filter(pk=record.pk).update(last_used_at=long_ago)

    pos.get(LOOKUP)

    record.refresh_from_db()
    assert record.last_used_at > long_ago + timedelta(hours=2)


def test_a_refused_call_does_not_count_as_use(api_key, member):
    record = StoreApiKey.objects.get(key_hash=hashlib.sha256(api_key.encode()).hexdigest())
    api_key_revoke(api_key=record)

    pos_client(api_key).get(LOOKUP)

    record.refresh_from_db()
    assert record.last_used_at is None


def test_create_api_key_prints_a_key_that_works(program, store, member):
    out = StringIO()

    call_command("create_api_key", program.slug, store.code, stdout=out)

    raw_key = out.getvalue().strip().splitlines()[-1]
    response = pos_client(raw_key).get(LOOKUP)
    assert response.status_code == 200
    assert response.json()["id"] == str(member.id)
    record = StoreApiKey.objects.get(key_hash=hashlib.sha256(raw_key.encode()).hexdigest())
    assert record.store == store
    assert record.prefix in out.getvalue()


def test_create_api_key_names_the_key(program, store):
    call_command("create_api_key", program.slug, store.code, "--name", "Till 3", stdout=StringIO())

    assert StoreApiKey.objects.get(store=store).name == "Till 3"


def test_a_key_from_create_api_key_stops_working_once_revoked(program, store, member):
    out = StringIO()
    call_command("create_api_key", program.slug, store.code, stdout=out)
    raw_key = out.getvalue().strip().splitlines()[-1]
    client = pos_client(raw_key)
    assert client.get(LOOKUP).status_code == 200

    api_key_revoke(api_key=StoreApiKey.objects.get(key_hash=hashlib.sha256(raw_key.encode()).hexdigest()))

    assert_not_authenticated(client.get(LOOKUP))


@pytest.mark.parametrize(("program_slug", "store_code"), [("coffee", "NO-SUCH"), ("no-such", "DEMO-001")])
def test_create_api_key_for_an_unknown_store_fails_and_creates_nothing(store, program_slug, store_code):
    with pytest.raises(CommandError):
        call_command("create_api_key", program_slug, store_code, stdout=StringIO())

    assert StoreApiKey.objects.count() == 0


def test_create_api_key_needs_the_store_of_that_program(store, other_program):
    StoreFactory(program=other_program, code="OTHER-9")

    with pytest.raises(CommandError):
        call_command("create_api_key", store.program.slug, "OTHER-9", stdout=StringIO())

    assert StoreApiKey.objects.count() == 0

"""POS key lookups cached in a shared cache: briefly, positive only, by digest, forgotten at once."""

import hashlib

import pytest
from django.core.cache import cache
from django.test import override_settings

from programs.models import StoreApiKey
from programs.services import api_key_revoke
from tests.conftest import pos_client

LOOKUP = "/api/v1/pos/members/lookup/?email=ada@example.com"


@pytest.fixture(autouse=True)
def _key_cache_on():
    with override_settings(POS_KEY_CACHE_SECONDS=10):
        yield


def record_of(raw_key):
    return StoreApiKey.objects.get(key_hash=hashlib.sha256(raw_key.encode()).hexdigest())


def cache_contents() -> dict[str, bytes]:
    """Every raw key and stored value, from the local-memory cache or from Redis (as on CI)."""
    backend = cache._cache
    if hasattr(backend, "get_client"):  # Redis: the values are stored pickled
        client = backend.get_client()
        return {key.decode(): client.get(key) or b"" for key in client.keys("*")}
    return {key: bytes(value) for key, value in backend.items()}


def cached_keys():
    return list(cache_contents())


def queries_of(call):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        call()
    return [query["sql"] for query in queries.captured_queries]


def test_a_found_key_is_served_from_the_cache(pos, member):
    assert pos.get(LOOKUP).status_code == 200

    cached = queries_of(lambda: pos.get(LOOKUP))
    with override_settings(POS_KEY_CACHE_SECONDS=0):
        uncached = queries_of(lambda: pos.get(LOOKUP))

    assert len(uncached) == len(cached) + 1
    assert not any("programs_storeapikey" in sql for sql in cached)


def test_the_cache_holds_the_digest_and_never_the_key(pos, api_key, member):
    pos.get(LOOKUP)

    assert any(hashlib.sha256(api_key.encode()).hexdigest() in key for key in cached_keys())
    assert not any(api_key in key for key in cached_keys())
    assert not any(api_key.encode() in value for value in cache_contents().values())


def test_an_unknown_key_is_not_cached(member):
    pos_client("lk_never-issued-0000").get(LOOKUP)

    assert not any("pos-key" in key for key in cached_keys())


def test_a_revoked_key_stops_working_at_once(pos, api_key, member):
    assert pos.get(LOOKUP).status_code == 200

    api_key_revoke(api_key=record_of(api_key))

    assert pos.get(LOOKUP).status_code == 401


def test_a_key_revoked_in_the_admin_stops_working_at_once(pos, api_key, member):
    from django.utils import timezone

    assert pos.get(LOOKUP).status_code == 200
    record = record_of(api_key)

    record.revoked_at = timezone.now()
    record.save()  # what the admin's change form does

    assert pos.get(LOOKUP).status_code == 401


def test_a_deactivated_store_stops_its_keys_at_once(pos, store, member):
    assert pos.get(LOOKUP).status_code == 200

    store.is_active = False
    store.save(update_fields=["is_active"])

    assert pos.get(LOOKUP).status_code == 401


def test_a_program_change_is_seen_at_once(pos, program, member):
    assert pos.post("/api/v1/pos/purchases/", {"external_id": "R-1", "member": {"card_number": member.card_number},
                                               "currency": "EUR", "total": "10.00"}, format="json").status_code == 201

    program.points_per_unit = 3
    program.save()

    answer = pos.post("/api/v1/pos/purchases/", {"external_id": "R-2", "member": {"card_number": member.card_number},
                                                 "currency": "EUR", "total": "10.00"}, format="json")
    assert answer.json()["points_awarded"] == 30


def test_last_use_is_still_recorded_once_a_minute(pos, api_key, member):
    import time_machine

    with time_machine.travel("2026-11-22 10:00:00+00:00", tick=False) as clock:
        pos.get(LOOKUP)
        first = record_of(api_key).last_used_at
        clock.move_to("2026-11-22 10:00:05+00:00")  # within the cache time
        assert not any("programs_storeapikey" in sql for sql in queries_of(lambda: pos.get(LOOKUP)))
        clock.move_to("2026-11-22 10:01:05+00:00")
        pos.get(LOOKUP)

    assert record_of(api_key).last_used_at > first


@pytest.fixture
def redis_cache():
    """The shared Redis cache of a deployment (CI's CACHE_URL), whatever this run's cache is."""
    from tests.conftest import skip_unless
    from tests.platform.test_cache import _redis_answers

    skip_unless(_redis_answers(), "needs Redis on 127.0.0.1:6379")
    shared = {"default": {"BACKEND": "loyalty.cache.RedisCache", "LOCATION": "redis://127.0.0.1:6379/3",
                          "KEY_PREFIX": "pos-key-test"}}
    with override_settings(CACHES=shared):
        cache.clear()
        yield cache
        cache.clear()


def test_a_cached_keys_call_is_counted_in_the_same_round_trip(redis_cache, pos, member):
    import redis

    assert pos.get(LOOKUP).status_code == 200  # read from the database, then cached
    sent = []
    original = redis.connection.AbstractConnection.send_packed_command

    def counted(self, command, check_health=True):
        sent.append(command)
        return original(self, command, check_health)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(redis.connection.AbstractConnection, "send_packed_command", counted)
        assert pos.get(LOOKUP).status_code == 200

    assert len(sent) == 1  # the key and the rate-limit count, together


@override_settings(POS_RATE_LIMIT="3/min")
def test_the_rate_limit_holds_when_the_key_comes_from_the_cache(redis_cache, pos, member):
    for _ in range(3):
        assert pos.get(LOOKUP).status_code == 200

    response = pos.get(LOOKUP)

    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 61

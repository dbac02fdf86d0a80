"""With the Redis cache unreachable, POS calls go on: the key is read from the database, the rate limit lets
calls through, and the outage is logged once, not once per call. Staff can still revoke a key."""

import logging

import pytest
from django.test import override_settings

from earning.models import Purchase
from loyalty import cache as cache_module
from programs.models import StoreApiKey
from programs.services import api_key_revoke
from tests.conftest import pos_client

UNREACHABLE = {"default": {"BACKEND": "loyalty.cache.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"}}


@pytest.fixture
def cache_down(monkeypatch):
    monkeypatch.setattr(cache_module, "_outages", {})  # this test's outage starts with it
    with override_settings(CACHES=UNREACHABLE, POS_KEY_CACHE_SECONDS=10, POS_RATE_LIMIT="3/min"):
        yield


def test_pos_calls_go_on_without_the_cache_and_the_outage_is_logged_once(pos, member, cache_down, caplog):
    body = {"member": {"card_number": member.card_number}, "currency": "EUR", "total": "10.00"}
    with caplog.at_level(logging.WARNING):
        answers = [pos.post("/api/v1/pos/purchases/", {**body, "external_id": f"R-{n}"}, format="json")
                   for n in range(6)]  # twice the rate limit

    assert [answer.status_code for answer in answers] == [201] * 6, answers[-1].content
    assert Purchase.objects.count() == 6
    assert sum("cannot be reached" in record.message for record in caplog.records) == 1


def test_an_unknown_key_is_still_refused_without_the_cache(member, cache_down):
    answer = pos_client("not-a-key-of-anyone-0000").get(f"/api/v1/pos/members/{member.pk}/")

    assert answer.status_code == 401


def test_a_key_is_revoked_without_the_cache_and_refused_at_once(pos, member, api_key, cache_down):
    api_key_revoke(api_key=StoreApiKey.objects.get())

    assert pos.get(f"/api/v1/pos/members/{member.pk}/").status_code == 401

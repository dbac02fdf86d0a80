"""Stores and POS keys: add, rename, deactivate; a key shown once at creation, revoked after a confirmation."""

import re

import pytest
from django.test import override_settings

from programs.models import Store, StoreApiKey, hash_api_key
from staff.models import AuditEvent
from tests.conftest import pos_client
from tests.factories import StoreFactory, api_key_for

pytestmark = pytest.mark.django_db

LIST = "/staff/settings/stores/"
LOOKUP = "/api/v1/pos/members/lookup/?email=ada@example.com"


def store_url(store, tail=""):
    return f"/staff/settings/stores/{store.pk}/{tail}"


def shown_key(html: str) -> str:
    return re.search(r'<code id="new-key" class="key-value">([^<]+)</code>', html).group(1)


def test_manager_sees_the_stores_with_their_active_keys(manager_client, store, api_key):
    html = manager_client.get(LIST).content.decode()
    assert store.code in html and store.name in html
    assert "Add store" in html


def test_manager_adds_a_store_and_it_is_audited(manager_client, manager, program):
    response = manager_client.post(LIST, {"code": "BERLIN-01", "name": "Berlin Mitte"})

    store = Store.objects.get(program=program, code="BERLIN-01")
    assert response.status_code == 302 and response["Location"] == store_url(store)
    event = AuditEvent.objects.get(action="store.create")
    assert event.actor == manager and event.target_id == str(store.pk)
    assert event.after == {"code": "BERLIN-01", "name": "Berlin Mitte", "is_active": True}


@pytest.mark.parametrize(("data", "message"), [
    ({"code": "DEMO-001", "name": "Again"}, "already has a store DEMO-001"),
    ({"code": "no spaces", "name": "Shop"}, "Use letters, digits"),
    ({"code": "SHOP-2", "name": ""}, "This field is required"),
])
def test_a_bad_store_is_refused_beside_its_field(manager_client, store, data, message):
    response = manager_client.post(LIST, data)
    assert response.status_code == 200 and message in response.content.decode()
    assert Store.objects.count() == 1 and not AuditEvent.objects.exists()


def test_manager_renames_a_store(manager_client, store):
    response = manager_client.post(store_url(store), {"name": "Flagship"})
    assert response.status_code == 302
    store.refresh_from_db()
    assert store.name == "Flagship"
    event = AuditEvent.objects.get(action="store.update")
    assert event.after == {"name": "Flagship"} and set(event.before) == {"name"}


def test_deactivating_a_store_refuses_its_keys_at_once(manager_client, store, api_key, member):
    with override_settings(POS_KEY_CACHE_SECONDS=30):
        assert pos_client(api_key).get(LOOKUP).status_code == 200  # now cached

        response = manager_client.post(store_url(store, "deactivate/"))

        assert response.status_code == 302
        assert pos_client(api_key).get(LOOKUP).status_code == 401
    store.refresh_from_db()
    assert not store.is_active
    assert AuditEvent.objects.get(action="store.deactivate").after == {"is_active": False}

    manager_client.post(store_url(store, "reactivate/"))
    assert pos_client(api_key).get(LOOKUP).status_code == 200


def test_a_new_key_is_shown_once_works_at_the_till_and_is_never_stored(manager_client, manager, store, member):
    response = manager_client.post(store_url(store, "keys/"), {"name": "Till 2"})

    html = response.content.decode()
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    raw_key = shown_key(html)
    assert 'data-copy="#new-key"' in html and "shown only this once" in html
    record = StoreApiKey.objects.get(store=store, name="Till 2")
    assert record.key_hash == hash_api_key(raw_key) and record.created_by == manager
    assert pos_client(raw_key).get(LOOKUP).status_code == 200

    # never again: not on the store page, nor in the audit log
    assert raw_key not in manager_client.get(store_url(store)).content.decode()
    event = AuditEvent.objects.get(action="api_key.create")
    assert raw_key not in str(event.before) + str(event.after) + event.target_label
    assert event.after == {"name": "Till 2", "prefix": raw_key[:8], "store": store.code}


def test_a_key_needs_a_name(manager_client, store):
    response = manager_client.post(store_url(store, "keys/"), {"name": ""})
    assert response.status_code == 200 and "This field is required" in response.content.decode()
    assert not StoreApiKey.objects.exists()


def test_revoking_asks_first_then_the_till_is_refused_at_once(manager_client, manager, store, api_key, member):
    record = StoreApiKey.objects.get(key_hash=hash_api_key(api_key))
    with override_settings(POS_KEY_CACHE_SECONDS=30):
        assert pos_client(api_key).get(LOOKUP).status_code == 200  # now cached

        confirm = manager_client.get(store_url(store, f"keys/{record.pk}/revoke/"))
        assert confirm.status_code == 200 and "Revoke key" in confirm.content.decode()
        record.refresh_from_db()
        assert record.revoked_at is None  # asking changes nothing

        response = manager_client.post(store_url(store, f"keys/{record.pk}/revoke/"))

        assert response.status_code == 302
        assert pos_client(api_key).get(LOOKUP).status_code == 401
    event = AuditEvent.objects.get(action="api_key.revoke")
    assert event.actor == manager and event.before == {"revoked_at": None} and event.after["revoked_at"]


def test_analyst_sees_stores_and_keys_but_cannot_change_them(analyst_client, store, api_key):
    html = analyst_client.get(LIST).content.decode()
    assert store.code in html and "Add store" not in html
    page = analyst_client.get(store_url(store)).content.decode()
    assert "Create key" not in page and "Deactivate store" not in page and "Revoke" not in page
    record = StoreApiKey.objects.get(store=store)
    for url, data in [(LIST, {"code": "X-1", "name": "X"}), (store_url(store), {"name": "Renamed"}),
                      (store_url(store, "deactivate/"), {}), (store_url(store, "keys/"), {"name": "Till"}),
                      (store_url(store, f"keys/{record.pk}/revoke/"), {})]:
        assert analyst_client.post(url, data).status_code == 403, url
    assert analyst_client.get(store_url(store, f"keys/{record.pk}/revoke/")).status_code == 403
    store.refresh_from_db()
    record.refresh_from_db()
    assert store.is_active and store.name != "Renamed" and record.revoked_at is None
    assert StoreApiKey.objects.count() == 1 and Store.objects.count() == 1


def test_agent_is_refused_every_store_page(agent_client, store):
    assert agent_client.get(LIST).status_code == 403
    assert agent_client.get(store_url(store)).status_code == 403
    assert agent_client.post(store_url(store, "keys/"), {"name": "Till"}).status_code == 403
    assert not StoreApiKey.objects.exists()


def test_another_programs_store_and_key_are_404(manager_client, program, other_program, store):
    theirs = StoreFactory(program=other_program, code="THEIRS")
    their_key = api_key_for(theirs)
    their_record = StoreApiKey.objects.get(key_hash=hash_api_key(their_key))
    mine = api_key_for(store)
    my_record = StoreApiKey.objects.get(key_hash=hash_api_key(mine))

    assert manager_client.get(store_url(theirs)).status_code == 404
    assert manager_client.post(store_url(theirs), {"name": "Mine now"}).status_code == 404
    assert manager_client.post(store_url(theirs, "deactivate/")).status_code == 404
    assert manager_client.post(store_url(theirs, "keys/"), {"name": "Till"}).status_code == 404
    assert manager_client.post(store_url(theirs, f"keys/{their_record.pk}/revoke/")).status_code == 404
    # a key of another store (of any program) through this store's address
    assert manager_client.post(store_url(store, f"keys/{their_record.pk}/revoke/")).status_code == 404
    assert manager_client.get(store_url(theirs, f"keys/{my_record.pk}/revoke/")).status_code == 404
    assert manager_client.get("/staff/settings/stores/not-a-uuid/").status_code == 404
    assert manager_client.get(store_url(store, "keys/99999999999999999999/revoke/")).status_code == 404
    theirs.refresh_from_db()
    their_record.refresh_from_db()
    assert theirs.is_active and theirs.name != "Mine now" and their_record.revoked_at is None

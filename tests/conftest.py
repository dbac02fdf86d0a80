import os

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from tests.factories import MemberFactory, ProgramFactory, StoreFactory, api_key_for


@pytest.fixture(autouse=True)
def _fresh_cache():
    # Rate-limit counters live in the cache; each test starts with a clean slate.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _tasks_run_eagerly(request):
    """Tasks run in-process in tests, even where CI sets a real broker; a test that means to
    go through the broker and a worker marks itself ``@pytest.mark.broker``."""
    from loyalty.celery import app

    if request.node.get_closest_marker("broker"):
        yield
        return
    saved = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager = app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = saved


@pytest.fixture
def program(db):
    return ProgramFactory(slug="coffee", name="Coffee Club")


@pytest.fixture
def store(program):
    return StoreFactory(program=program, code="DEMO-001")


@pytest.fixture
def api_key(store):
    return api_key_for(store)


def pos_client(raw_key: str | None) -> APIClient:
    client = APIClient()
    if raw_key:
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw_key}")
    return client


@pytest.fixture
def pos(api_key):
    """A POS terminal of ``store``: an API client carrying that store's key."""
    return pos_client(api_key)


@pytest.fixture
def other_program(db):
    return ProgramFactory(slug="other", name="Other Program")


@pytest.fixture
def other_pos(other_program):
    return pos_client(api_key_for(StoreFactory(program=other_program, code="OTHER-1")))


@pytest.fixture
def member(program, store):
    return MemberFactory(program=program, store=store, email="ada@example.com", first_name="Ada",
                         last_name="Lovelace", phone="+4915112345678")


def skip_unless(condition: bool, reason: str) -> None:
    """Skip where a tool or service is missing; on CI (LOYALTY_REQUIRE_SERVICES=1) that is a failure."""
    if condition:
        return
    if os.environ.get("LOYALTY_REQUIRE_SERVICES"):
        pytest.fail(f"required on CI: {reason}")
    pytest.skip(reason)


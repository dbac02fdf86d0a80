import pytest
import time_machine

from earning.services import earning_rule_create
from tests.conftest import pos_client
from tests.factories import MemberFactory, StoreFactory, api_key_for

from .support import NOW


@pytest.fixture
def clock():
    """Freeze time (so weekdays, birthdays and cap periods are known); move it with ``clock.move_to``."""
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def make_rule(program):
    """Create a rule through the service staff tools use: ``make_rule("coffee-x2", {"kind": ...}, [...])``."""

    def make(code, effect, conditions=(), **options):
        options.setdefault("name", code.replace("-", " ").capitalize())
        return earning_rule_create(program=program, code=code, effect=effect, conditions=list(conditions),
                                   **options)

    return make


@pytest.fixture
def second_store(program):
    return StoreFactory(program=program, code="AIRPORT-2")


@pytest.fixture
def second_pos(second_store):
    return pos_client(api_key_for(second_store))


@pytest.fixture
def friend(program, store):
    return MemberFactory(program=program, store=store, email="grace@example.com", first_name="Grace",
                         last_name="Hopper")

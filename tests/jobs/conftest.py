import pytest
import time_machine

from .support import T0


@pytest.fixture
def clock():
    """The clock stands still at ``T0`` until the test moves it."""
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller

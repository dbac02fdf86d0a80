from datetime import UTC, datetime

import pytest
import time_machine

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock():
    """Time stands still at T0 until a test moves it with ``clock.move_to``."""
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller

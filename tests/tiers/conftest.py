from datetime import UTC, datetime

import pytest
import time_machine

from tiers.models import TierPolicy
from tiers.services import tier_define, tier_policy_set

T0 = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


@pytest.fixture
def clock():
    """A controllable clock, stopped at T0; ``clock.move_to(moment)`` moves it."""
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


def ladder_define(program, *, downgrade=TierPolicy.Downgrade.NEVER, window=TierPolicy.Window.ROLLING_MONTHS,
                  metric=TierPolicy.Metric.POINTS, grace_days=30, window_months=12):
    """The demo ladder (bronze 0 ×1.0, silver 500 ×1.25, gold 2000 ×1.5) with the given policy."""
    tier_policy_set(program=program, metric=metric, window=window, window_months=window_months,
                    downgrade=downgrade, grace_days=grace_days)
    return {
        "bronze": tier_define(program=program, code="bronze", name="Bronze", rank=1, threshold=0, multiplier="1.0"),
        "silver": tier_define(program=program, code="silver", name="Silver", rank=2, threshold=500,
                              multiplier="1.25"),
        "gold": tier_define(program=program, code="gold", name="Gold", rank=3, threshold=2000, multiplier="1.5"),
    }

import itertools

import pytest

from ledger.services import points_earn
from rewards.models import Reward

_keys = itertools.count()


def give_points(member, points):
    points_earn(member=member, points=points, idempotency_key=f"test-grant-{next(_keys)}", source_type="test",
                actor="test")


@pytest.fixture
def coffee(program):
    return Reward.objects.create(program=program, code="FREE-COFFEE", name="Free coffee", points_cost=50)


@pytest.fixture
def tote(program):
    return Reward.objects.create(program=program, code="TOTE-BAG", name="Tote bag", points_cost=400,
                                 stock_remaining=5)


def redeem(pos, member, reward_code, key="key-1", **extra):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    return pos.post("/api/v1/pos/redemptions/", {"member": {"card_number": member.card_number},
                                                  "reward": reward_code, **extra}, format="json", **headers)

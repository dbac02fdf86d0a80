"""Creating and editing rewards through the services: each type's fields, windows, limits, tiers, stock."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from rewards.models import Reward, RewardCategory
from rewards.services import reward_category_create, reward_create, reward_update
from tiers.services import tier_define

pytestmark = pytest.mark.django_db


def test_a_reward_is_created_with_its_code_in_capitals_and_its_categories(program):
    drinks = reward_category_create(program=program, name="Hot drinks")
    reward = reward_create(program=program, code="free-coffee", name="Free coffee", points_cost=50,
                           categories=[drinks], stock_remaining=10)
    assert reward.code == "FREE-COFFEE" and list(reward.categories.all()) == [drinks]
    assert reward_category_create(program=program, name="hot drinks ") == drinks  # same slug, same category


@pytest.mark.parametrize(("fields", "field"), [
    ({"points_cost": 0}, "points_cost"),
    ({"type": Reward.Type.FIXED_DISCOUNT}, "discount_value"),
    ({"type": Reward.Type.PERCENT_DISCOUNT, "discount_value": Decimal("101")}, "discount_value"),
    ({"type": Reward.Type.PAY_WITH_POINTS, "points_min": 10, "points_step": 5, "money_per_point": Decimal("0.01")},
     "points_max"),
    ({"type": Reward.Type.PAY_WITH_POINTS, "points_min": 100, "points_max": 10, "points_step": 5,
      "money_per_point": Decimal("0.01")}, "points_max"),
    ({"limit_per_member": 0}, "limit_per_member"),
    ({"voucher_valid_days": 0}, "voucher_valid_days"),
])
def test_a_reward_members_could_not_redeem_sensibly_is_refused(program, fields, field):
    with pytest.raises(ValidationError) as refused:
        reward_create(program=program, code="X", name="X", **{"points_cost": 10, **fields})
    assert field in refused.value.message_dict
    assert not Reward.objects.exists()


def test_a_window_must_end_after_it_starts(program):
    now = timezone.now()
    with pytest.raises(ValidationError) as refused:
        reward_create(program=program, code="X", name="X", points_cost=10, available_from=now,
                      available_until=now - timedelta(days=1))
    assert "available_until" in refused.value.message_dict


def test_another_programs_tier_and_categories_are_refused(program, other_program):
    vip = tier_define(program=other_program, code="vip", name="VIP", rank=1, threshold=0)
    theirs = RewardCategory.objects.create(program=other_program, slug="x", name="X")
    with pytest.raises(ValidationError) as refused:
        reward_create(program=program, code="X", name="X", points_cost=10, min_tier=vip, categories=[theirs])
    assert {"min_tier", "categories"} <= set(refused.value.message_dict)


def test_an_update_writes_only_the_named_fields(program):
    reward = reward_create(program=program, code="TOTE", name="Tote", points_cost=400, stock_remaining=5)
    Reward.objects.filter(pk=reward.pk).update(stock_remaining=4)  # a redemption meanwhile
    reward_update(reward=reward, name="Canvas tote")
    reward.refresh_from_db()
    assert reward.name == "Canvas tote" and reward.stock_remaining == 4


def test_an_invalid_update_changes_nothing(program):
    reward = reward_create(program=program, code="TOTE", name="Tote", points_cost=400)
    with pytest.raises(ValidationError):
        reward_update(reward=reward, name="Bag", points_cost=0)
    reward.refresh_from_db()
    assert reward.name == "Tote"

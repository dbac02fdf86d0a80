"""Editing the tier ladder: ranks unique, thresholds rising with rank, codes fixed."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from tiers.models import Tier
from tiers.services import tier_create, tier_update

from .conftest import ladder_define

pytestmark = pytest.mark.django_db


def test_a_tier_is_added_between_two_others(program):
    ladder_define(program)
    Tier.objects.filter(program=program, code="gold").update(rank=4)
    tier = tier_create(program=program, code="silver-plus", name="Silver+", rank=3, threshold=1000,
                       multiplier="1.4", perks=["Priority queue"])
    assert tier.perks == ["Priority queue"] and tier.multiplier == Decimal("1.4")


@pytest.mark.parametrize(("rank", "threshold", "field"), [
    (4, 1500, "threshold"),  # above gold in rank, below it in threshold
    (2, 100, "rank"),  # silver's rank
    (0, 10, "threshold"),  # below bronze (0) needs less than 0
])
def test_a_tier_out_of_order_is_refused(program, rank, threshold, field):
    ladder_define(program)
    with pytest.raises(ValidationError) as refused:
        tier_create(program=program, code="new", name="New", rank=rank, threshold=threshold)
    assert field in refused.value.message_dict
    assert not Tier.objects.filter(code="new").exists()


def test_a_code_in_use_is_refused_on_create(program):
    ladder_define(program)
    with pytest.raises(ValidationError) as refused:
        tier_create(program=program, code="gold", name="Gold again", rank=9, threshold=9000)
    assert "code" in refused.value.message_dict


def test_an_update_keeps_the_ladder_in_order(program):
    tiers = ladder_define(program)
    tier_update(tier=tiers["gold"], threshold=Decimal("3000"), name="Gold star")
    with pytest.raises(ValidationError):
        tier_update(tier=tiers["silver"], threshold=Decimal("3000"))
    tiers["silver"].refresh_from_db()
    assert tiers["silver"].threshold == 500
    assert Tier.objects.get(code="gold").name == "Gold star"


def test_the_code_is_not_an_editable_field(program):
    tiers = ladder_define(program)
    with pytest.raises(TypeError):
        tier_update(tier=tiers["gold"], code="platinum")

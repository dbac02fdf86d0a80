"""Changing a program's settings and its stores through the services: invalid configuration is refused whole."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.test import override_settings

from programs.models import Program
from programs.services import accent_contrast_with_white, program_update, store_update
from tests.conftest import pos_client

pytestmark = pytest.mark.django_db


def test_program_update_changes_only_the_named_settings(program):
    updated = program_update(program=program, points_per_unit=Decimal("2"), time_zone="Europe/Berlin")
    program.refresh_from_db()
    assert (program.points_per_unit, program.time_zone, program.name) == (2, "Europe/Berlin", "Coffee Club")
    assert updated.points_per_unit == 2


@pytest.mark.parametrize(("changes", "field"), [
    ({"expiry_days": 0}, "expiry_days"),
    ({"pending_days": 30, "expiry_days": 30}, "expiry_days"),
    ({"time_zone": "Europe/Atlantis"}, "time_zone"),
    ({"accent_color": "#f5f5f5"}, "accent_color"),
    ({"accent_color": "#12345g"}, "accent_color"),
    ({"points_per_unit": Decimal("-1")}, "points_per_unit"),
])
def test_invalid_configuration_is_refused_naming_the_field(program, changes, field):
    with pytest.raises(ValidationError) as refused:
        program_update(program=program, name="Renamed", **changes)
    assert field in refused.value.message_dict
    program.refresh_from_db()
    assert program.name == "Coffee Club"


def test_points_that_never_expire_may_wait_any_number_of_days(program):
    program_update(program=program, pending_days=60, expiry_days=None)
    assert Program.objects.get(pk=program.pk).expiry_days is None


def test_the_slug_and_currency_are_not_settings(program):
    with pytest.raises(TypeError):
        program_update(program=program, currency="USD")


def test_accent_contrast_is_the_wcag_ratio_against_white():
    assert round(accent_contrast_with_white("#000000"), 1) == 21.0
    assert round(accent_contrast_with_white("#ffffff"), 1) == 1.0
    assert accent_contrast_with_white("#4a3fe0") > 4.5  # the default passes


def test_a_deactivated_store_is_refused_at_once_even_from_the_key_cache(store, api_key, member):
    with override_settings(POS_KEY_CACHE_SECONDS=30):
        lookup = "/api/v1/pos/members/lookup/?email=ada@example.com"
        assert pos_client(api_key).get(lookup).status_code == 200
        store_update(store=store, is_active=False)
        assert pos_client(api_key).get(lookup).status_code == 401


def test_a_store_keeps_its_code(store):
    with pytest.raises(TypeError):
        store_update(store=store, code="NEW")

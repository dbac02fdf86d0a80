"""Shared serializer instances answer exactly what a fresh serializer per request answers."""

import pytest
from rest_framework.exceptions import ValidationError

from earning.apis import PurchaseInputSerializer, PurchaseOutputSerializer
from programs.apis import PosApi

GOOD = {"external_id": "R-1", "member": {"card_number": "4000000000000002"}, "currency": "EUR", "total": "42.50",
        "lines": [{"sku": "LATTE", "category": "coffee", "quantity": 2, "unit_price": "4.50"}]}
BAD = [
    None,  # DRF's "No data provided" edge case
    [],
    "text",
    {},
    {**GOOD, "total": "-1"},
    {**GOOD, "lines": [{"sku": "", "quantity": 0, "unit_price": "x"}]},
    {**GOOD, "member": {"card_number": "1", "email": "a@b.c"}},
]


def fresh_validation(data):
    serializer = PurchaseInputSerializer(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def test_valid_input_gives_the_same_validated_data():
    assert PosApi.serializer_validated(PurchaseInputSerializer, GOOD) == fresh_validation(GOOD)


@pytest.mark.parametrize("data", BAD)
def test_invalid_input_raises_the_same_errors(data):
    with pytest.raises(ValidationError) as fresh:
        fresh_validation(data)
    with pytest.raises(ValidationError) as shared:
        PosApi.serializer_validated(PurchaseInputSerializer, data)

    assert shared.value.detail == fresh.value.detail


def test_a_refusal_leaves_nothing_behind_for_the_next_request():
    with pytest.raises(ValidationError):
        PosApi.serializer_validated(PurchaseInputSerializer, BAD[-1])

    assert PosApi.serializer_validated(PurchaseInputSerializer, {**GOOD, "external_id": "R-2"})["external_id"] == "R-2"


def test_rendering_matches_a_fresh_serializer():
    validated = fresh_validation(GOOD)
    answer = {"id": "0b6c3c1e-4a45-4d43-9a3c-8f6f0c1f2a10", "external_id": "R-1", "member": None,
              "total": validated["total"], "currency": "EUR", "occurred_at": None, "points_awarded": 42,
              "breakdown": [{"rule": "base", "points": 42}], "balance": None, "tier": None, "claimable_until": None}

    assert PosApi.serializer_data(PurchaseOutputSerializer, answer) == PurchaseOutputSerializer(answer).data

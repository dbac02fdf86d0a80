"""A JSON body nested too deeply to decode is refused as 400 invalid on every POST endpoint, never a 500."""

import pytest

from earning.models import Purchase
from ledger.models import LedgerTransaction
from loyalty.models import IdempotencyRecord
from members.models import Member
from tests.pos_routes import pos_post_routes, route_path

from .test_errors import assert_problem

ROUTES = pos_post_routes()


def nested_lists(depth: int) -> str:
    return "[" * depth + "]" * depth


def nested_objects(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


def snapshot():
    return [model.objects.count() for model in (Member, Purchase, LedgerTransaction, IdempotencyRecord)]


def post_raw(pos, route, body: str):
    return pos.generic("POST", route_path(route), body.encode(), content_type="application/json",
                       HTTP_IDEMPOTENCY_KEY="deep-1")


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("body", [nested_lists(1000), nested_objects(1000), nested_lists(100_000)],
                         ids=["lists-1000", "objects-1000", "lists-100000"])
def test_a_deeply_nested_body_is_400_invalid_on_every_post_endpoint(pos, member, route, body):
    before = snapshot()

    assert_problem(post_raw(pos, route, body), 400, "invalid")
    assert snapshot() == before


@pytest.mark.parametrize("depth", [50, 900, 990])
def test_a_deeply_nested_value_inside_a_valid_body_is_400_invalid(pos, member, depth):
    # Under a field whose error message repeats the value: one that decodes is printed back whole, one that
    # does not is malformed; neither is a 500.
    body = '{"email": "grace@example.com", "language": ' + nested_lists(depth) + "}"
    before = snapshot()

    assert_problem(post_raw(pos, "api/v1/pos/members/", body), 400, "invalid")
    assert snapshot() == before


def test_every_post_endpoint_is_covered():
    assert {"api/v1/pos/purchases/", "api/v1/pos/purchases/preview/", "api/v1/pos/purchases/batch/",
            "api/v1/pos/returns/", "api/v1/pos/events/", "api/v1/pos/members/", "api/v1/pos/redemptions/",
            "api/v1/pos/redemptions/<str:redemption_id>/cancel/", "api/v1/pos/vouchers/<str:code>/use/"} <= set(ROUTES)


"""A field the POS contract does not define, anywhere in a request body, is 400 invalid naming it; nothing changes."""

import pytest

from earning.models import Event, Purchase, Return
from ledger.models import LedgerEntry
from loyalty.models import IdempotencyRecord
from members.models import Member
from rewards.models import Redemption, Reward
from surveys.services import survey_create
from tests.pos_routes import pos_post_routes, route_path
from tests.rewards.conftest import give_points

from .test_errors import assert_problem
from .test_schema import fetch_schema

LINE = {"sku": "LATTE", "category": "coffee", "quantity": 2, "unit_price": "4.50"}


@pytest.fixture
def world(pos, member):
    """A member with points, a purchase to return, and two vouchers: one to cancel, one to use."""
    give_points(member, 500)
    Reward.objects.create(program=member.program, code="FREE-COFFEE", name="Free coffee", points_cost=50)
    survey_create(program=member.program, code="nps", kind="nps")
    assert pos.post("/api/v1/pos/purchases/", purchase(member, "R-0"), format="json").status_code == 201
    redemptions = [pos.post("/api/v1/pos/redemptions/", {"member": card(member), "reward": "FREE-COFFEE"},
                            format="json", HTTP_IDEMPOTENCY_KEY=f"world-{n}").json() for n in range(2)]
    return {"member": member, "redemption_id": redemptions[0]["id"], "code": redemptions[1]["voucher_code"]}


def card(member):
    return {"card_number": member.card_number}


def purchase(buyer, external_id="R-1", **extra):
    return {"external_id": external_id, "member": card(buyer), "currency": "EUR", "total": "9.00",
            "lines": [dict(LINE)], **extra}


# For each POST route: a body the contract accepts (path values from ``world``), and a request header it needs.
VALID = {
    "api/v1/pos/members/": lambda w: {"email": "grace@example.com"},
    "api/v1/pos/purchases/": lambda w: purchase(w["member"]),
    "api/v1/pos/purchases/preview/": lambda w: purchase(w["member"]),
    "api/v1/pos/purchases/batch/": lambda w: {"purchases": [purchase(w["member"])]},
    "api/v1/pos/returns/": lambda w: {"external_id": "RET-1", "purchase_external_id": "R-0", "amount": "1.00"},
    "api/v1/pos/events/": lambda w: {"external_id": "E-1", "member": card(w["member"]), "type": "review"},
    "api/v1/pos/redemptions/": lambda w: {"member": card(w["member"]), "reward": "FREE-COFFEE"},
    "api/v1/pos/redemptions/<str:redemption_id>/cancel/": lambda w: {},
    "api/v1/pos/vouchers/<str:code>/use/": lambda w: {},
    "api/v1/pos/surveys/responses/": lambda w: {"external_id": "S-1", "survey": "nps", "member": card(w["member"]),
                                                "score": 9},
}
HEADERS = {"HTTP_IDEMPOTENCY_KEY": "unknown-fields-1"}


def snapshot(member):
    member.account.refresh_from_db()
    return ([model.objects.count() for model in (Member, Purchase, Return, Event, Redemption, LedgerEntry,
                                                 IdempotencyRecord)],
            list(Redemption.objects.order_by("pk").values_list("status", flat=True)),
            (member.account.available, member.account.pending))


def post(pos, route, world, body):
    return pos.post(route_path(route, **world), body, format="json", **HEADERS)


def test_every_post_endpoint_has_a_case():
    assert set(VALID) == set(pos_post_routes())


@pytest.mark.parametrize("route", list(VALID))
def test_an_unknown_top_level_field_is_400_invalid_naming_it_and_changes_nothing(pos, world, route):
    before = snapshot(world["member"])

    problem = assert_problem(post(pos, route, world, {**VALID[route](world), "colour": "red"}), 400, "invalid")

    assert problem["errors"] == [{"field": "colour", "message": "Unknown field."}]
    assert snapshot(world["member"]) == before
    assert post(pos, route, world, VALID[route](world)).status_code in (200, 201)  # the field was the only fault


def test_a_card_number_beside_member_instead_of_inside_it_is_refused_not_a_guest_purchase(pos, member):
    body = {"external_id": "R-1", "card_number": member.card_number, "currency": "EUR", "total": "42.50"}

    problem = assert_problem(pos.post("/api/v1/pos/purchases/", body, format="json"), 400, "invalid")

    assert problem["errors"] == [{"field": "card_number", "message": "Unknown field."}]
    assert not Purchase.objects.exists()
    assert IdempotencyRecord.objects.count() == 0  # refused before the external id was taken: a fixed retry works
    body["member"] = {"card_number": body.pop("card_number")}
    assert pos.post("/api/v1/pos/purchases/", body, format="json").json()["points_awarded"] == 42


@pytest.mark.parametrize(("route", "body", "field"), [
    ("api/v1/pos/purchases/", lambda w: purchase(w["member"], lines=[{**LINE, "colour": "red"}]), "lines.0.colour"),
    ("api/v1/pos/purchases/", lambda w: purchase(w["member"], member={**card(w["member"]), "tier": "gold"}),
     "member.tier"),
    ("api/v1/pos/purchases/preview/", lambda w: purchase(w["member"], lines=[LINE, {**LINE, "discount": "1.00"}]),
     "lines.1.discount"),
    ("api/v1/pos/events/", lambda w: {"external_id": "E-1", "member": {"id": "x", "nickname": "a"}, "type": "review"},
     "member.nickname"),
    ("api/v1/pos/redemptions/", lambda w: {"member": {"email": "a@example.com", "pin": "1234"}, "reward": "X"},
     "member.pin"),
], ids=["purchase-line", "purchase-member", "preview-line", "event-member", "redemption-member"])
def test_an_unknown_field_in_a_nested_object_is_named_by_its_path(pos, world, route, body, field):
    before = snapshot(world["member"])

    problem = assert_problem(post(pos, route, world, body(world)), 400, "invalid")

    assert problem["errors"] == [{"field": field, "message": "Unknown field."}]
    assert snapshot(world["member"]) == before


def test_unknown_fields_are_named_beside_the_other_errors_of_the_body(pos, member):
    body = {"external_id": "R-1", "card_number": member.card_number, "currency": "EUR", "total": "-1"}

    problem = assert_problem(pos.post("/api/v1/pos/purchases/", body, format="json"), 400, "invalid")

    assert {error["field"] for error in problem["errors"]} == {"total", "card_number"}


def test_an_unknown_field_in_one_purchase_of_a_batch_refuses_that_purchase_alone(pos, member):
    good, bad = purchase(member, "B-1"), {**purchase(member, "B-2"), "card_number": member.card_number}

    results = pos.post("/api/v1/pos/purchases/batch/", {"purchases": [good, bad]}, format="json").json()["results"]

    assert [result["status"] for result in results] == [201, 400]
    assert results[1]["body"]["errors"] == [{"field": "card_number", "message": "Unknown field."}]
    assert list(Purchase.objects.values_list("external_id", flat=True)) == ["B-1"]


def test_every_field_the_contract_defines_is_accepted(pos, world):
    member, other = world["member"], Member.objects.exclude(pk=world["member"].pk)
    assert not other.exists()

    enrolled = pos.post("/api/v1/pos/members/", {
        "email": "grace@example.com", "first_name": "Grace", "last_name": "Hopper", "phone": "+4915112345679",
        "birth_date": "1906-12-09", "referral_code": member.referral_code, "marketing_opt_in": True,
        "language": "de"}, format="json")
    bought = pos.post("/api/v1/pos/purchases/", purchase(member, occurred_at="2026-01-02T10:00:00Z"), format="json")
    previewed = pos.post("/api/v1/pos/purchases/preview/", purchase(member, occurred_at=None), format="json")
    returned = pos.post("/api/v1/pos/returns/", {"external_id": "RET-1", "purchase_external_id": "R-0",
                                                 "purchase_store": "DEMO-001", "amount": "1.00"}, format="json")
    event = pos.post("/api/v1/pos/events/", {"external_id": "E-1", "member": {"id": str(member.id)},
                                             "type": "review", "quantity": 2, "attributes": {"stars": 5},
                                             "occurred_at": "2026-01-02T10:00:00Z"}, format="json")
    redeemed = pos.post("/api/v1/pos/redemptions/", {"member": {"email": member.email}, "reward": "FREE-COFFEE",
                                                     "points": None}, format="json", **HEADERS)
    guest = pos.post("/api/v1/pos/purchases/", {**purchase(member, "G-1"), "member": None}, format="json")

    assert [response.status_code for response in (enrolled, bought, previewed, returned, event, redeemed, guest)] \
        == [201, 201, 200, 201, 201, 201, 201]
    assert enrolled.json()["marketing_opt_in"] is True


def test_a_call_without_a_body_still_works_where_the_path_says_it_all(pos, world):
    cancelled = pos.post(f"/api/v1/pos/redemptions/{world['redemption_id']}/cancel/")
    used = pos.generic("POST", f"/api/v1/pos/vouchers/{world['code']}/use/", b"", content_type="application/json")

    assert (cancelled.status_code, used.status_code) == (200, 200)


def test_the_schema_says_no_other_field_is_allowed_in_any_request_body(db):
    schema = fetch_schema()
    components = schema["components"]["schemas"]

    def objects(node):
        """Every object schema the body's schema names, nested ones and ``$ref``s followed."""
        if isinstance(node, list):
            for item in node:
                yield from objects(item)
        elif isinstance(node, dict):
            if "$ref" in node:
                yield from objects(components[node["$ref"].rpartition("/")[2]])
            if "properties" in node:
                yield node
            for key, value in node.items():
                if key != "additionalProperties":
                    yield from objects(value)

    bodies = {path: operation["requestBody"]["content"]["application/json"]["schema"]
              for path, item in schema["paths"].items() for method, operation in item.items()
              if method == "post" and "requestBody" in operation}
    assert {"/api/v1/pos/purchases/", "/api/v1/pos/members/", "/api/v1/pos/redemptions/"} <= set(bodies)
    open_objects = [(path, node.get("properties", {}).keys()) for path, body in bodies.items()
                    for node in objects(body) if node.get("additionalProperties") is not False]
    assert open_objects == []

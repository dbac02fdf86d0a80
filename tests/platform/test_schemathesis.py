"""The published OpenAPI schema and the server agree: Schemathesis drives every POS operation through the
WSGI app with all its default checks (documented statuses, content types, headers and bodies; schema-valid
requests accepted and schema-invalid ones refused; authentication not ignored; unknown methods refused).

The run is bounded and repeatable: a fixed seed, derandomised generation and a set number of examples per
operation. Each operation runs against the demo program with its store's key, members and rewards, and a
voucher already issued.

What a schema cannot say is left to the server and answered as the contract says: that the currency is the
program's, a card number's check digit, that an email, phone or referral code names someone, that a date or time
is not in the future, that a member reference resolves. Schema-valid requests take those values from the
demo program (``_in_the_demo_program``), so they meet the rules the schema does state. ``422`` answers
refusals that depend on the state of things (too few points, a key used for another request), never the
shape of a request, so schema-valid requests may receive it."""

import zlib
from datetime import date, datetime

import hypothesis
import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.utils import timezone
from schemathesis.config import SchemathesisConfig

from earning.services import purchase_record
from loyalty.wsgi import application
from programs.demo import demo_seed
from rewards.models import Reward
from rewards.services import reward_redeem

API_KEY = "schemathesis-pos-key-0001"
EXAMPLES_PER_OPERATION = 30

config = SchemathesisConfig.from_dict({
    "seed": 17,
    "headers": {"Authorization": f"Api-Key {API_KEY}"},
    "checks": {"positive_data_acceptance": {
        "expected-statuses": ["2xx", "3xx", "401", "403", "404", "409", "422", "429"]}},
})
schema = schemathesis.openapi.from_wsgi("/api/schema/", application, config=config)

# The demo's member and voucher the current test's requests name (each test seeds its own database).
world: dict = {}


@pytest.fixture(autouse=True)
def one_connection():
    """Requests go through the WSGI app, not Django's test client: like the client, keep the test's connection
    (and its transaction) open across requests rather than closing it at each request's end."""
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


@pytest.fixture(autouse=True)
def demo(db, one_connection, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # the demo's logins, quickly
    seeded = demo_seed(api_key=API_KEY)
    member = seeded.members[0]
    purchase_record(store=seeded.store, actor="test", external_id="SEED-1", member_reference={"id": str(member.id)},
                    currency="EUR", total=200, occurred_at=None, lines=[])
    redemption = reward_redeem(member=member, reward=Reward.objects.get(program=seeded.program, code="FREE-COFFEE"),
                               store=seeded.store, actor="test")
    world.update(member=member, redemption=redemption)
    yield
    world.clear()


def _member_value(field: str) -> str:
    return str(getattr(world["member"], field))


def _without_nul(value):
    """PostgreSQL text cannot hold NUL, so the API refuses it (400, tested with each endpoint); OpenAPI 3.0
    cannot say so short of a pattern on every string, and a schema-valid case may carry one."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, list):
        return [_without_nul(v) for v in value]
    if isinstance(value, dict):
        return {_without_nul(k): _without_nul(v) for k, v in value.items()}
    return value


def _in_the_demo_program(case) -> None:
    """Values a schema cannot judge, taken from the demo program in schema-valid requests."""
    if case.path_parameters:
        if "member_id" in case.path_parameters:
            case.path_parameters["member_id"] = _member_value("id")
        if "redemption_id" in case.path_parameters:
            case.path_parameters["redemption_id"] = str(world["redemption"].id)
        if "code" in case.path_parameters:
            case.path_parameters["code"] = world["redemption"].voucher_code
    if case.path.endswith("/members/lookup/"):
        field = next((name for name in ("card_number", "email", "phone") if name in (case.query or {})),
                     "card_number")
        case.query = {field: _member_value(field)}  # exactly one: a rule OpenAPI cannot state
    elif case.query and case.query.get("member") is not None:
        case.query["member"] = _member_value("card_number")
    body = case.body
    if not isinstance(body, dict):
        return
    case.body = body = _without_nul(body)
    if isinstance(body.get("member"), dict) and len(body["member"]) == 1:
        (field,) = body["member"]
        body["member"] = {field: _member_value(field)}
    if "currency" in body:
        body["currency"] = "EUR"
    if isinstance(body.get("occurred_at"), str) and datetime.fromisoformat(body["occurred_at"]) > timezone.now():
        body["occurred_at"] = timezone.now().isoformat()
    if isinstance(body.get("answered_at"), str) and datetime.fromisoformat(body["answered_at"]) > timezone.now():
        body["answered_at"] = timezone.now().isoformat()
    if case.path.endswith("/surveys/responses/"):
        body["survey"] = "nps"  # the demo's survey (its scale, 0–10, is the schema's)
    if isinstance(body.get("birth_date"), str) and date.fromisoformat(body["birth_date"]) > timezone.localdate():
        body["birth_date"] = timezone.localdate().isoformat()
    if body.get("referral_code"):
        body["referral_code"] = _member_value("referral_code")
    if isinstance(body.get("attributes"), dict):  # names of 1–64 characters: OpenAPI 3.0 has no propertyNames
        body["attributes"] = {name: value for name, value in body["attributes"].items()
                              if 1 <= len(name) <= 64 and "\x00" not in name}
    if body.get("phone") and case.path.endswith("/members/"):
        body["phone"] = f"+4915112{zlib.crc32(body['phone'].encode()) % 10**6:06d}"


@schema.parametrize()
@hypothesis.settings(max_examples=EXAMPLES_PER_OPERATION, derandomize=True, deadline=None,
                     suppress_health_check=list(hypothesis.HealthCheck))
def test_every_operation_answers_as_the_schema_says(case):
    if case.meta is not None and case.meta.generation.mode.is_positive:
        _in_the_demo_program(case)
    case.call_and_validate()

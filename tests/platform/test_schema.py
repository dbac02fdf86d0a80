"""The OpenAPI schema and browsable docs are public and describe the member endpoints."""

import re
from io import StringIO

import yaml
from django.core.management import call_command
from rest_framework.test import APIClient

MEMBER_PATHS = {"/api/v1/pos/members/", "/api/v1/pos/members/lookup/", "/api/v1/pos/members/{member_id}/"}


def fetch_schema() -> dict:
    response = APIClient().get("/api/schema/")
    assert response.status_code == 200
    return yaml.safe_load(response.content)


def test_the_schema_answers_without_a_key(db):
    response = APIClient().get("/api/schema/")

    assert response.status_code == 200
    assert response.content.startswith(b"openapi: 3")


def test_the_schema_is_available_as_json_too(db):
    response = APIClient().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    assert response.status_code == 200
    assert response.json()["openapi"].startswith("3.")


def test_the_schema_answers_even_with_a_bad_key(db):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Api-Key lk_not-a-real-key")

    assert client.get("/api/schema/").status_code == 200


def test_the_schema_contains_the_three_member_paths(db):
    paths = fetch_schema()["paths"]

    assert set(paths) >= MEMBER_PATHS
    assert "post" in paths["/api/v1/pos/members/"]
    assert "get" in paths["/api/v1/pos/members/lookup/"]
    assert "get" in paths["/api/v1/pos/members/{member_id}/"]


def test_the_lookup_documents_its_three_query_parameters(db):
    lookup = fetch_schema()["paths"]["/api/v1/pos/members/lookup/"]["get"]

    assert {p["name"] for p in lookup["parameters"] if p["in"] == "query"} >= {"card_number", "email", "phone"}


def test_the_schema_documents_api_key_authentication_on_every_member_operation(db):
    schema = fetch_schema()

    scheme = schema["components"]["securitySchemes"]["ApiKeyAuth"]
    assert scheme == {**scheme, "type": "apiKey", "in": "header", "name": "Authorization"}
    for path in MEMBER_PATHS:
        for operation in schema["paths"][path].values():
            assert operation["security"] == [{"ApiKeyAuth": []}], path


def test_the_member_object_lists_the_contract_fields(db):
    schemas = fetch_schema()["components"]["schemas"]
    member = next(body for name, body in schemas.items() if name.startswith("MemberOutput"))

    assert set(member["properties"]) >= {"id", "card_number", "email", "first_name", "last_name", "status", "tier",
                                         "balance", "referral_code", "enrolled_at"}


def test_the_docs_page_answers_without_a_key(db):
    response = APIClient().get("/api/docs/")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert b"swagger" in response.content.lower()
    # Swagger UI's set-up is a script of its own (no inline script under the Content-Security-Policy).
    assert b'<script src="/api/docs/?script="></script>' in response.content
    script = APIClient().get("/api/docs/?script=")
    assert script["Content-Type"].startswith("application/javascript")
    assert b"/api/schema/" in script.content


def test_the_schema_is_valid_openapi_and_raises_no_warnings(db, capsys):
    out = StringIO()

    call_command("spectacular", "--validate", stdout=out)  # raises on an invalid document

    assert "openapi: 3" in out.getvalue()
    warnings = [line for line in capsys.readouterr().err.splitlines() if "Warning" in line]
    assert warnings == []


def test_every_operation_has_its_own_request_and_response_components(db):
    components = fetch_schema()["components"]["schemas"]

    assert {"PurchasePreviewInputRequest", "PurchaseBatchInputRequest", "ReturnCreateInputRequest"} <= set(components)


def pos_operations(schema: dict):
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            yield f"{method.upper()} {path}", operation


def test_the_rewards_list_is_documented_as_the_page_it_answers(db):
    schema = fetch_schema()
    rewards = schema["paths"]["/api/v1/pos/rewards/"]["get"]

    page = rewards["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].rpartition("/")[2]
    assert set(schema["components"]["schemas"][page]["properties"]) == {"count", "next", "previous", "results"}
    assert {p["name"]: p["schema"] for p in rewards["parameters"] if p["name"].startswith("page")} == {
        "page": {"type": "integer", "minimum": 1}, "page_size": {"type": "integer", "minimum": 1}}


def test_every_operation_documents_its_refusals_as_problem_json(db):
    schema = fetch_schema()

    problem = schema["components"]["schemas"]["Problem"]
    assert set(problem["required"]) == {"type", "title", "status", "code", "detail"}
    assert problem["properties"]["errors"]["items"] == {"$ref": "#/components/schemas/FieldError"}
    for name, operation in pos_operations(schema):
        refusals = {status: response for status, response in operation["responses"].items() if status >= "400"}
        assert {"401", "429"} <= set(refusals), name
        if name.startswith("POST") or any(p["in"] in ("query", "header") for p in operation.get("parameters", ())):
            assert "400" in refusals, name
        for response in refusals.values():
            assert response["content"] == {"application/problem+json": {
                "schema": {"$ref": "#/components/schemas/Problem"}}}, name
    redemption = schema["paths"]["/api/v1/pos/redemptions/"]["post"]["responses"]
    assert set(redemption) >= {"201", "200", "400", "401", "404", "409", "422", "429"}
    assert "`insufficient_points`" in redemption["422"]["description"]


def test_the_member_reference_says_exactly_one_of_its_four_fields(db):
    reference = fetch_schema()["components"]["schemas"]["MemberReferenceRequest"]

    assert [(alternative["required"], alternative["additionalProperties"]) for alternative in reference["oneOf"]] == [
        (["id"], False), (["card_number"], False), (["email"], False), (["phone"], False)]


def test_the_idempotency_key_header_is_required_with_its_length(db):
    redemption = fetch_schema()["paths"]["/api/v1/pos/redemptions/"]["post"]
    (header,) = [p for p in redemption["parameters"] if p["in"] == "header"]

    assert header["name"] == "Idempotency-Key" and header["required"] is True
    assert header["schema"] == {"type": "string", "minLength": 1, "maxLength": 255}


def test_money_is_documented_as_the_decimal_string_the_server_accepts(db):
    schemas = fetch_schema()["components"]["schemas"]

    total = schemas["PurchaseInputRequest"]["properties"]["total"]
    unit_price = schemas["LineRequest"]["properties"]["unit_price"]
    assert total["type"] == unit_price["type"] == "string"
    for pattern, allowed, refused in [
        (total["pattern"], ["12.5", "12.50", "0.01", "1000000.00"], ["0", "0.00", "1E+5", "012.5", "1000000.01"]),
        (unit_price["pattern"], ["0", "0.00", "4.50"], ["-1", "4.505", "1000001"]),
    ]:
        assert all(re.fullmatch(pattern, value) for value in allowed), pattern
        assert not any(re.fullmatch(pattern, value) for value in refused), pattern

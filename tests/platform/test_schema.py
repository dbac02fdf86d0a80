"""The OpenAPI schema and browsable docs are public and describe the member endpoints."""

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

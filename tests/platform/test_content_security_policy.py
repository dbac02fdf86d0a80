"""Every page sends a strict Content-Security-Policy; the POS API's JSON answers a fixed, cheaper one."""

import re

import pytest
from django.urls import reverse

from notifications.services import unsubscribe_token

STRICT = {
    "default-src": "'self'", "script-src": "'self'", "style-src": "'self'", "img-src": "'self'",
    "object-src": "'none'", "base-uri": "'self'", "form-action": "'self'", "frame-ancestors": "'none'",
}


def policy(response) -> dict:
    header = response.headers["Content-Security-Policy"]
    return {name: value for name, _, value in (part.strip().partition(" ") for part in header.split(";"))}


def pages(member):
    token = unsubscribe_token(member=member)
    return ["/", "/admin/login/", "/no-such-page/", reverse("notifications:unsubscribe", kwargs={"token": token})]


def test_every_page_sends_the_strict_policy(client, member):
    for path in pages(member):
        response = client.get(path)
        assert response.status_code in (200, 404), path
        assert policy(response) == STRICT, path


def test_the_api_docs_add_only_data_images_for_swagger_ui(client, db):
    response = client.get("/api/docs/")

    assert response.status_code == 200
    assert policy(response) == {**STRICT, "img-src": "'self' data:"}


def test_no_page_relies_on_inline_script_or_style(client, member):
    for path in [*pages(member), "/api/docs/"]:
        html = client.get(path).content.decode()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), f"inline script on {path}"
        assert "<style" not in html, f"inline style element on {path}"
        assert not re.search(r"\son[a-z]+=", html), f"inline event handler on {path}"


def test_the_pos_api_answers_with_a_fixed_policy(pos, member):
    response = pos.get(f"/api/v1/pos/members/lookup/?email={member.email}")

    assert response.status_code == 200
    assert response.headers["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"


@pytest.mark.parametrize("path", ["/api/v1/pos/no-such-thing/", "/api/schema/"])
def test_api_errors_and_the_schema_carry_a_policy_too(client, db, path):
    assert "Content-Security-Policy" in client.get(path).headers

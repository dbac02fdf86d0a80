"""CSRF guards the pages people sign in to, and never stands in for an API path's 404.

The test client skips CSRF checks unless asked to enforce them; these clients enforce them as a browser's
request or a till's would meet them.
"""

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from members.models import Member

from .test_errors import assert_problem

MISTYPED = ["/api/v1/pos/purchase/", "/api/v1/pos/purchases", "/api/v1/pos/vouchers/a%2Fb/use/",
            "/api/v1/pos/redemptions/x/cancel", "/api/v1/pos/members/lookup", "/api/v2/pos/members/", "/api/nope"]


@pytest.fixture
def till(api_key):
    client = APIClient(enforce_csrf_checks=True)
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {api_key}")
    return client


@pytest.mark.parametrize("path", MISTYPED)
@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "GET", "OPTIONS"])
def test_any_call_to_an_unknown_api_path_is_404_problem_json(till, method, path):
    response = till.generic(method, path, b'{"email": "a@example.com"}', content_type="application/json")

    assert_problem(response, 404, "not_found")
    assert Member.objects.count() == 0


@pytest.mark.parametrize("path", MISTYPED)
def test_an_unknown_api_path_is_404_for_a_browser_with_a_session_too(client, db, path):
    client.force_login(User.objects.create_user("staff", password="pw-0123456789", is_staff=True))
    client.handler.enforce_csrf_checks = True

    assert_problem(client.post(path, {"email": "a@example.com"}), 404, "not_found")


def test_a_head_request_to_an_unknown_api_path_is_404(till):
    response = till.head("/api/v1/pos/purchase/")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"


def test_a_post_to_the_admin_without_a_csrf_token_is_still_refused(client, db):
    User.objects.create_user("staff", password="pw-0123456789", is_staff=True)
    client.handler.enforce_csrf_checks = True

    response = client.post("/admin/login/", {"username": "staff", "password": "pw-0123456789"})

    assert response.status_code == 403
    assert "_auth_user_id" not in client.session


def test_a_post_to_the_admin_with_its_csrf_token_signs_in(client, db):
    User.objects.create_user("staff", password="pw-0123456789", is_staff=True)
    client.handler.enforce_csrf_checks = True
    client.get("/admin/login/")

    response = client.post("/admin/login/", {"username": "staff", "password": "pw-0123456789",
                                             "csrfmiddlewaretoken": client.cookies["csrftoken"].value})

    assert response.status_code == 302
    assert "_auth_user_id" in client.session

"""Every error on an API path answers application/problem+json with type, title, status, code, detail."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.test import override_settings
from django.urls import include, path
from rest_framework.test import APIClient

from members.models import Member
from programs.apis import PosApi
from programs.models import StoreApiKey
from tests.conftest import pos_client

ENROL = "/api/v1/pos/members/"
LOOKUP = "/api/v1/pos/members/lookup/"


class ExplodingApi(PosApi):
    def get(self, request):
        raise RuntimeError("boom")


def exploding_view(request):
    raise RuntimeError("boom")


# This module doubles as a URLconf: the real routes plus views that fail.
urlpatterns = [
    path("api/v1/pos/test/explode/", ExplodingApi.as_view()),
    path("api/plain-explode/", exploding_view),
    path("", include("loyalty.urls")),
]
handler400 = "loyalty.problems.handler400"
handler403 = "loyalty.problems.handler403"
handler404 = "loyalty.problems.handler404"
handler500 = "loyalty.problems.handler500"


def assert_problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert {"type", "title", "status", "code", "detail"} <= set(problem)
    assert problem["status"] == status
    assert problem["code"] == code
    assert problem["type"] == "about:blank"
    assert isinstance(problem["title"], str) and problem["title"]
    assert isinstance(problem["detail"], str) and problem["detail"]
    return problem


def snapshot():
    return Member.objects.count(), list(StoreApiKey.objects.values_list("pk", "revoked_at"))


# 400 ----------------------------------------------------------------------------------------------------


def test_a_validation_error_is_400_invalid_with_field_errors(pos):
    before = snapshot()

    problem = assert_problem(pos.post(ENROL, {"email": "nope", "birth_date": "yesterday"}, format="json"),
                             400, "invalid")

    assert {"email", "birth_date"} <= {error["field"] for error in problem["errors"]}
    assert all(error["message"] for error in problem["errors"])
    assert snapshot() == before


@pytest.mark.parametrize("body", ['{"email": ', "{'email': 'a@example.com'}", "null", "", "\xff\xfe"],
                         ids=["truncated", "single-quotes", "null", "empty", "not-utf8"])
def test_a_malformed_json_body_is_400_invalid_and_enrols_nobody(pos, body):
    before = snapshot()

    response = pos.generic("POST", ENROL, body.encode("latin-1"), content_type="application/json")

    assert_problem(response, 400, "invalid")
    assert snapshot() == before


def test_a_json_body_that_is_not_an_object_is_400(pos):
    assert_problem(pos.post(ENROL, [1, 2, 3], format="json"), 400, "invalid")
    assert Member.objects.count() == 0


def test_a_service_refusal_is_problem_json_too(pos, member):
    problem = assert_problem(pos.post(ENROL, {"email": "someone@example.com", "referral_code": "NOSUCH99"},
                                      format="json"), 400, "invalid")

    assert problem["errors"] == [{"field": "referral_code", "message": problem["errors"][0]["message"]}]
    assert Member.objects.count() == 1


@override_settings(ALLOWED_HOSTS=["testserver"])
def test_a_request_for_a_host_not_served_is_400_problem_json(pos, member):
    response = pos.get(LOOKUP, {"email": "ada@example.com"}, HTTP_HOST="attacker.example")

    assert_problem(response, 400, "invalid")


# 401 ----------------------------------------------------------------------------------------------------


def test_no_key_is_401_not_authenticated(db):
    response = pos_client(None).post(ENROL, {"email": "a@example.com"}, format="json")

    assert_problem(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"]
    assert Member.objects.count() == 0


def test_a_wrong_key_is_401_even_with_a_valid_body(db):
    response = pos_client("lk_wrong-wrong-wrong").post(ENROL, {"email": "a@example.com"}, format="json")

    assert_problem(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"]
    assert Member.objects.count() == 0


# 404 ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/api/v1/pos/nope/", "/api/v1/pos/members/lookup/extra/", "/api/v2/pos/members/",
                                 "/api/", "/api/v1/pos/members"])
def test_an_unknown_api_path_is_404_problem_json(pos, url):
    assert_problem(pos.get(url), 404, "not_found")


def test_an_unknown_api_path_is_404_problem_json_without_a_key_too(db):
    assert_problem(APIClient().get("/api/v1/pos/nope/"), 404, "not_found")


def test_a_post_to_an_unknown_api_path_is_404_and_changes_nothing(pos):
    before = snapshot()

    assert_problem(pos.post("/api/v1/pos/nope/", {"email": "a@example.com"}, format="json"), 404, "not_found")
    assert snapshot() == before


def test_an_unknown_resource_is_404_with_its_own_code(pos, member):
    assert_problem(pos.get(f"/api/v1/pos/members/{uuid.uuid4()}/"), 404, "member_not_found")


def test_an_unknown_page_outside_the_api_is_an_html_404(client, db):
    response = client.get("/no-such-page/")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


# 405 ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "url", "allowed"), [
    ("delete", ENROL, "POST"),
    ("put", ENROL, "POST"),
    ("get", ENROL, "POST"),
    ("post", LOOKUP, "GET"),
    ("delete", LOOKUP, "GET"),
    ("patch", "/api/v1/pos/members/00000000-0000-0000-0000-000000000000/", "GET"),
])
def test_a_method_the_endpoint_does_not_take_is_405(pos, member, method, url, allowed):
    before = snapshot()

    response = getattr(pos, method)(url, {}, format="json")

    problem = assert_problem(response, 405, "method_not_allowed")
    assert method.upper() in problem["detail"]
    assert allowed in response["Allow"]
    assert snapshot() == before


# 406 / 415 ----------------------------------------------------------------------------------------------


def test_a_text_plain_body_is_415_and_enrols_nobody(pos):
    response = pos.generic("POST", ENROL, "email=a@example.com", content_type="text/plain")

    problem = assert_problem(response, 415, "unsupported_media_type")
    assert "application/json" in problem["detail"]
    assert Member.objects.count() == 0


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "multipart/form-data; boundary=x"])
def test_a_form_body_is_415_and_enrols_nobody(pos, content_type):
    response = pos.generic("POST", ENROL, "email=a%40example.com", content_type=content_type)

    assert_problem(response, 415, "unsupported_media_type")
    assert Member.objects.count() == 0


def test_asking_for_html_is_406_answered_as_problem_json(pos, member):
    response = pos.get(LOOKUP, {"email": "ada@example.com"}, HTTP_ACCEPT="text/html")

    assert_problem(response, 406, "not_acceptable")


# 429 ----------------------------------------------------------------------------------------------------


@override_settings(POS_RATE_LIMIT="3/min")
def test_more_calls_than_the_rate_limit_are_429_with_retry_after(pos, member):
    for _ in range(3):
        assert pos.get(LOOKUP, {"email": "ada@example.com"}).status_code == 200

    response = pos.get(LOOKUP, {"email": "ada@example.com"})

    problem = assert_problem(response, 429, "rate_limited")
    retry_after = int(response["Retry-After"])
    assert 1 <= retry_after <= 61
    assert problem.get("retry_after", retry_after) == retry_after


@override_settings(POS_RATE_LIMIT="3/min")
def test_a_throttled_write_changes_nothing(pos):
    for i in range(3):
        assert pos.post(ENROL, {"email": f"m{i}@example.com"}, format="json").status_code == 201

    assert_problem(pos.post(ENROL, {"email": "late@example.com"}, format="json"), 429, "rate_limited")
    assert not Member.objects.filter(email="late@example.com").exists()
    assert Member.objects.count() == 3


@override_settings(POS_RATE_LIMIT="3/min")
def test_the_rate_limit_counts_per_key(pos, other_pos, member):
    for _ in range(4):
        pos.get(LOOKUP, {"email": "ada@example.com"})
    assert pos.get(LOOKUP, {"email": "ada@example.com"}).status_code == 429

    assert other_pos.get(LOOKUP, {"email": "ada@example.com"}).status_code == 404


@override_settings(POS_RATE_LIMIT="3/min")
def test_the_rate_limit_counts_in_fixed_windows_and_says_when_the_next_one_starts(pos, member):
    start = datetime(2026, 3, 2, 9, 0, 15, tzinfo=UTC)  # 15 s into a minute
    with time_machine.travel(start, tick=False) as clock:
        for _ in range(3):
            assert pos.get(LOOKUP, {"email": "ada@example.com"}).status_code == 200
        clock.move_to(start + timedelta(seconds=30))
        response = pos.get(LOOKUP, {"email": "ada@example.com"})
        assert response.status_code == 429
        assert response["Retry-After"] == "16"  # 15 s left in the window, rounded up by one

        clock.move_to(start + timedelta(seconds=45))  # the next minute: a fresh count
        for _ in range(3):
            assert pos.get(LOOKUP, {"email": "ada@example.com"}).status_code == 200
        assert pos.get(LOOKUP, {"email": "ada@example.com"}).status_code == 429


def test_the_default_rate_limit_does_not_get_in_the_way_of_a_busy_till(pos, member):
    for _ in range(30):
        assert pos.get(LOOKUP, {"email": "ada@example.com"}).status_code == 200


# 500 ----------------------------------------------------------------------------------------------------


@override_settings(ROOT_URLCONF=__name__)
def test_an_unexpected_failure_in_an_api_view_is_500_problem_json(pos):
    pos.raise_request_exception = False

    problem = assert_problem(pos.get("/api/v1/pos/test/explode/"), 500, "server_error")

    assert "boom" not in problem["detail"]  # internals stay in the log


@override_settings(ROOT_URLCONF=__name__)
def test_an_unexpected_failure_in_a_plain_api_view_is_500_problem_json(db):
    client = APIClient(raise_request_exception=False)

    assert_problem(client.get("/api/plain-explode/"), 500, "server_error")


@override_settings(ROOT_URLCONF=__name__)
def test_the_real_routes_still_answer_under_the_test_urlconf(pos, member):
    assert pos.get(LOOKUP, {"email": "ada@example.com"}).status_code == 200

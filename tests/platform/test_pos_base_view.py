"""POS key authentication, the per-key rate limit and JSON negotiation belong to POS views, not to every DRF view."""

from django.contrib.auth import get_user_model
from django.test import override_settings
from django.urls import URLPattern, URLResolver, get_resolver, include, path
from rest_framework.response import Response
from rest_framework.test import APIClient
from rest_framework.views import APIView

from programs.apis import PosApi
from tests.conftest import pos_client

LOOKUP = "/api/v1/pos/members/lookup/"
STAFF_VIEW = "/api/test/staff-only/"


class StaffOnlyApi(APIView):
    """A view as a staff or portal screen would declare it: nothing but DRF's configured defaults."""

    def get(self, request):
        return Response({"user": request.user.get_username()})


# This module doubles as a URLconf: the real routes plus one view that is not a POS view.
urlpatterns = [
    path(STAFF_VIEW.lstrip("/"), StaffOnlyApi.as_view()),
    path("", include("loyalty.urls")),
]


@override_settings(ROOT_URLCONF=__name__)
def test_a_view_that_is_not_a_pos_view_refuses_a_valid_pos_key(pos):
    response = pos.get(STAFF_VIEW)

    assert response.status_code == 403
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "not_authenticated"
    assert "WWW-Authenticate" not in response  # no till is told to send its key here


@override_settings(ROOT_URLCONF=__name__, POS_RATE_LIMIT="3/min")
def test_a_view_that_is_not_a_pos_view_serves_a_signed_in_user_past_the_pos_rate_limit(db):
    client = APIClient()
    client.force_login(get_user_model().objects.create_user("staff", password="not-used-here-0001"))

    answers = [client.get(STAFF_VIEW) for _ in range(5)]

    assert [answer.status_code for answer in answers] == [200] * 5
    assert answers[-1].json() == {"user": "staff"}


@override_settings(ROOT_URLCONF=__name__, POS_RATE_LIMIT="3/min")
def test_calls_with_a_key_to_a_view_that_is_not_a_pos_view_do_not_use_up_the_keys_rate_limit(api_key, member):
    till = pos_client(api_key)
    for _ in range(5):
        till.get(STAFF_VIEW)

    answers = [till.get(LOOKUP, {"email": member.email}).status_code for _ in range(4)]

    assert answers == [200, 200, 200, 429]


def test_every_pos_endpoint_is_a_pos_view():
    pos_routes = next(pattern for pattern in get_resolver().url_patterns
                      if isinstance(pattern, URLResolver) and str(pattern.pattern) == "api/v1/pos/")
    views = []

    def collect(patterns):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                collect(pattern.url_patterns)
            elif isinstance(pattern, URLPattern):
                views.append(pattern.callback.view_class)

    collect(pos_routes.url_patterns)

    assert len(views) == 16
    assert [view.__name__ for view in views if not issubclass(view, PosApi)] == []

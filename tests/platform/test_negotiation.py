"""The shortcut in ``loyalty.negotiation`` picks what DRF's own negotiation picks, for any Accept header."""

import pytest
from django.http import Http404
from drf_spectacular.renderers import OpenApiJsonRenderer, OpenApiYamlRenderer
from rest_framework.exceptions import NotAcceptable
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from loyalty.negotiation import ContentNegotiation

ACCEPTS = [None, "", "*/*", "application/json", "application/json; indent=4", "application/*", "text/html",
           "text/html, */*;q=0.1", "application/vnd.oai.openapi", "application/xml"]
RENDERER_SETS = [[JSONRenderer()], [OpenApiYamlRenderer(), OpenApiJsonRenderer()], []]


def _choice(negotiation, *, accept, query, renderers):
    headers = {} if accept is None else {"HTTP_ACCEPT": accept}
    request = Request(APIRequestFactory().get("/api/v1/pos/members/lookup/" + query, **headers))
    try:
        renderer, media_type = negotiation.select_renderer(request, renderers)
    except NotAcceptable:
        return "406"
    except Http404:  # ?format= names no renderer
        return "404"
    return type(renderer).__name__, media_type


@pytest.mark.parametrize("renderers", RENDERER_SETS, ids=["json", "openapi", "none"])
@pytest.mark.parametrize("query", ["", "?card_number=1", "?format=json", "?format=yaml"])
@pytest.mark.parametrize("accept", ACCEPTS)
def test_the_shortcut_answers_as_drf_does(accept, query, renderers):
    ours = _choice(ContentNegotiation(), accept=accept, query=query, renderers=renderers)
    assert ours == _choice(DefaultContentNegotiation(), accept=accept, query=query, renderers=renderers)


def test_a_till_that_sends_no_accept_gets_json_without_parsing(monkeypatch):
    monkeypatch.setattr(DefaultContentNegotiation, "_get_parsed_accept_list",
                        lambda *args: pytest.fail("the Accept header was parsed"))
    renderer, media_type = _choice_parts(accept=None)
    assert (type(renderer), media_type) == (JSONRenderer, "application/json")


def _choice_parts(*, accept):
    headers = {} if accept is None else {"HTTP_ACCEPT": accept}
    request = Request(APIRequestFactory().get("/api/v1/pos/members/lookup/", **headers))
    return ContentNegotiation().select_renderer(request, [JSONRenderer()])

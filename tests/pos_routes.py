"""The POS API's routes as the URLconf has them, so a test of "every POST endpoint" also covers the next one."""

import re

from django.urls import URLResolver, get_resolver

POS_PREFIX = "api/v1/pos/"


def _routes(patterns, prefix=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _routes(pattern.url_patterns, prefix + str(pattern.pattern))
        else:
            yield prefix + str(pattern.pattern), pattern.callback


def pos_post_routes() -> list[str]:
    """Every POS route whose view takes POST, as written in the URLconf (``api/v1/pos/vouchers/<str:code>/use/``)."""
    return [route for route, view in _routes(get_resolver().url_patterns)
            if route.startswith(POS_PREFIX) and hasattr(getattr(view, "cls", None), "post")]


def route_path(route: str, **values) -> str:
    """The URL path of ``route`` with its parameters filled in (``values`` by name, else a placeholder)."""
    return "/" + re.sub(r"<(?:\w+:)?(\w+)>", lambda found: str(values.get(found[1], "X-1")), route)

"""No staff page escapes the permission map: every view under /staff/ names its action, or is sign-in itself."""

from django.urls import URLPattern, URLResolver, get_resolver

from staff.permissions import PERMISSIONS

OPEN = {"login", "login-code", "logout"}  # reached before there is anyone to check


def _staff_patterns():
    def walk(patterns, prefix=""):
        for entry in patterns:
            if isinstance(entry, URLResolver):
                yield from walk(entry.url_patterns, prefix + str(entry.pattern))
            elif isinstance(entry, URLPattern):
                yield prefix + str(entry.pattern), entry

    return [(route, p) for route, p in walk(get_resolver().url_patterns) if route.startswith("staff/")]


def _view_of(pattern: URLPattern):
    view = pattern.callback
    view_class = getattr(view, "view_class", None)
    return view_class.dispatch if view_class else view


def test_every_staff_view_names_an_action_from_the_map():
    unguarded = []
    for route, pattern in _staff_patterns():
        if pattern.name in OPEN:
            continue
        action = getattr(pattern.callback, "staff_action", None) or getattr(_view_of(pattern), "staff_action", None)
        if action not in PERMISSIONS:
            unguarded.append(route)
    assert unguarded == []


def test_there_are_staff_pages_to_check():
    assert len(_staff_patterns()) >= 4

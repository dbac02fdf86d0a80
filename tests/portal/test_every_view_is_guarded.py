"""Every portal page resolves its member through ``portal_view``, except the few that are public by design."""

from django.urls import URLResolver, get_resolver

from portal import urls

PUBLIC = {"index", "brand-css", "logo"}  # the program list, a program's colours and logo (on the sign-in page)


def test_every_portal_view_goes_through_portal_view():
    names = {pattern.name: pattern.callback for pattern in urls.urlpatterns}
    unguarded = {name for name, view in names.items() if not getattr(view, "portal_view", False)}
    assert unguarded == PUBLIC


def test_the_portal_is_mounted_at_portal():
    mounted = [p for p in get_resolver().url_patterns if isinstance(p, URLResolver) and p.urlconf_module is urls]
    assert [str(p.pattern) for p in mounted] == ["portal/"]

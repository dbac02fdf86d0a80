"""What the site does against password guessing, beyond Django's own settings."""

import ipaddress

from django.conf import settings


def client_address(request) -> str | None:
    """The address failed sign-ins are counted against (django-axes' AXES_CLIENT_IP_CALLABLE).

    Behind ``DJANGO_TRUSTED_PROXY_COUNT`` proxies, each appending the address it was reached from to
    X-Forwarded-For, the client is the entry that many from the right: entries to its left are the
    client's own to write. Without proxies, or with a header too short to hold it, the connecting address.
    """
    count = settings.TRUSTED_PROXY_COUNT
    if count:
        hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        hops = [hop for hop in hops if hop]
        if len(hops) >= count:
            try:
                return str(ipaddress.ip_address(hops[-count]))
            except ValueError:
                pass
    return request.META.get("REMOTE_ADDR") or None

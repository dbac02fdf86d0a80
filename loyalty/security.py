"""What the site does against hostile browsers and password guessing, beyond Django's own settings.

The Content-Security-Policy comes from django-csp, whose middleware builds the policy anew for every
answer; the POS API's JSON answers, which no browser renders as a page, get a fixed policy instead,
so the till's hot path pays for one header and nothing else.
"""

import ipaddress

from csp.middleware import CSPMiddleware
from django.conf import settings

POS_API_PREFIX = "/api/v1/pos/"
POS_API_POLICY = "default-src 'none'; frame-ancestors 'none'"


class ContentSecurityPolicyMiddleware:
    sync_capable, async_capable = True, False

    def __init__(self, get_response):
        self.get_response = get_response
        self.pages = CSPMiddleware(get_response)

    def __call__(self, request):
        if request.path_info.startswith(POS_API_PREFIX):
            response = self.get_response(request)
            response["Content-Security-Policy"] = POS_API_POLICY
            return response
        return self.pages(request)


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

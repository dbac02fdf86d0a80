"""Where webhooks may go: public internet addresses only, checked after DNS and connected to as checked.

An endpoint URL is set by staff but fetched by the server, from inside its network: unchecked, it
would let an endpoint reach the database, the cache, a cloud's metadata service or an admin port on
loopback (server-side request forgery). The host is resolved once; every address it resolves to must
be public; the connection then goes to an address that was checked, so a DNS answer that changes
between check and connect (DNS rebinding) cannot point the request elsewhere. The Host header and
TLS (SNI and certificate check) still use the URL's host name.

``WEBHOOK_ALLOW_PRIVATE_ADDRESSES`` lifts the check for a receiver on a private network (and for
tests on loopback); the connection is still made to the resolved address.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

# Metadata services on addresses the standard library calls global (Azure's, Oracle's); those on
# link-local, private or shared space (169.254.169.254, fd00:ec2::254, 100.100.100.200) are refused
# with their whole range.
METADATA_ADDRESSES = frozenset(map(ipaddress.ip_address, ("168.63.129.16", "192.0.0.192")))
_SHARED = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT (RFC 6598)
# IPv4 addresses carried inside IPv6 ones (RFC 6052 NAT64): the IPv4 address is the one reached.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class AddressRefused(Exception):
    """The URL's host is not somewhere a webhook may be sent; the message says why, for staff."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str
    addresses: tuple[str, ...]  # the checked addresses, tried in turn as the connection is opened


def _reached(address: ipaddress.IPv4Address | ipaddress.IPv6Address):
    if address.version == 6:
        if address.ipv4_mapped:
            return address.ipv4_mapped
        if address.sixtofour:
            return address.sixtofour
        if address in _NAT64:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address


def address_refusal(text: str) -> str | None:
    """Why ``text`` (an IP address) may not receive webhooks, or None if it is a public address."""
    address = _reached(ipaddress.ip_address(text))
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address"
    for kind in ("unspecified", "loopback", "link_local", "multicast", "reserved", "private"):
        if getattr(address, f"is_{kind}"):
            return f"a {kind.replace('_', '-')} address"
    if address.version == 6 and address.is_site_local:
        return "a site-local address"
    if address in _SHARED:
        return "a carrier-grade NAT address"
    if not address.is_global:
        return "not a public address"
    return None


def _addresses(host: str, port: int) -> list[str]:
    try:
        return [str(ipaddress.ip_address(host))]  # a literal address: nothing to look up
    except ValueError:
        pass
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise AddressRefused(f"the host {host} could not be resolved ({error})") from error
    addresses = list(dict.fromkeys(info[4][0] for info in found))
    if not addresses:
        raise AddressRefused(f"the host {host} could not be resolved")
    return addresses


def target_resolve(url: str) -> Target:
    """Resolve ``url``'s host once and check every address it resolves to; answers where to connect.

    Raises ``AddressRefused`` without connecting anywhere when the URL cannot be used.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise AddressRefused("only http and https URLs are delivered to")
    try:
        host, port = parts.hostname, parts.port or (443 if scheme == "https" else 80)
    except ValueError as error:  # a port out of range
        raise AddressRefused(str(error)) from error
    if not host:
        raise AddressRefused("the URL has no host")
    addresses = _addresses(host, port)
    # Every answer is checked, not only the first: a name may resolve to a public and a private address.
    if not settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES:
        for address in addresses:
            reason = address_refusal(address)
            if reason:
                shown = host if host == address else f"{host} resolves to {address}, which"
                raise AddressRefused(f"webhooks are only sent to public internet addresses: {shown} is {reason}")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(scheme=scheme, host=host, port=port, path=path, addresses=tuple(addresses))


def connection_open(target: Target, *, timeout: float) -> http.client.HTTPConnection:
    """An HTTP(S) connection to ``target``'s checked addresses that speaks to the server as ``target.host``.

    No proxy and no redirects: ``http.client`` follows neither.
    """
    if target.scheme == "https":
        connection = http.client.HTTPSConnection(target.host, target.port, timeout=timeout,
                                                 context=ssl.create_default_context())
    else:
        connection = http.client.HTTPConnection(target.host, target.port, timeout=timeout)

    # http.client opens its socket through this hook with (host, port): the checked addresses go in
    # the host's place; HTTPSConnection then wraps the socket for the host name (SNI, certificate).
    def create_connection(address, *args):
        error = None
        for checked in target.addresses:
            try:
                return socket.create_connection((checked, address[1]), *args)
            except OSError as refused:
                error = refused
        raise error

    connection._create_connection = create_connection
    return connection

"""How a POS call proves which store (and so which program) it speaks for."""

from dataclasses import dataclass, field

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions, throttling

from loyalty.cache import counter_add

from .models import Program, Store, StoreApiKey
from .selectors import api_key_cache_put, api_key_cached_with_call_counted, api_key_get_active
from .services import api_key_touch

SCHEME = "Api-Key"


@dataclass(frozen=True)
class PosClient:
    """The authenticated caller of a POS endpoint: one key of one store of one program."""

    api_key: StoreApiKey
    store: Store
    program: Program
    # (calls in the rate-limit window, when) if counted while the key was read: PosKeyRateThrottle's count.
    counted: tuple[int, float] | None = field(default=None, compare=False)

    is_authenticated = True

    @property
    def actor(self) -> str:
        return f"api_key:{self.api_key.pk}"


class PosApiKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        scheme, _, raw_key = header.partition(" ")
        if scheme.lower() != SCHEME.lower() or not raw_key.strip():
            raise exceptions.AuthenticationFailed("Send the header 'Authorization: Api-Key <key>'.")
        raw_key = raw_key.strip()
        throttle = PosKeyRateThrottle()
        now = throttle.timer()
        api_key, count = api_key_cached_with_call_counted(
            raw_key=raw_key, counter=lambda key_hash: throttle.counter_key(key_hash, now),
            timeout=throttle.counter_timeout)
        if api_key is None:
            api_key = api_key_get_active(raw_key=raw_key)
        if api_key is None:
            raise exceptions.AuthenticationFailed("Unknown or revoked API key.")
        if api_key_touch(api_key=api_key):
            api_key_cache_put(api_key=api_key)
        return PosClient(api_key=api_key, store=api_key.store, program=api_key.store.program,
                         counted=(count, now) if count is not None else None), api_key

    def authenticate_header(self, request):
        return f'{SCHEME} realm="pos"'


class PosApiKeySchema(OpenApiAuthenticationExtension):
    """Tells the OpenAPI generator how POS calls authenticate (else it warns and skips the scheme)."""

    target_class = PosApiKeyAuthentication
    name = "ApiKeyAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "header", "name": "Authorization", "description": "`Api-Key <key>`"}

    def get_security_requirement(self, auto_schema):
        # SPECTACULAR_SETTINGS["SECURITY"] already requires ApiKeyAuth on every operation;
        # answering it here too would list the same requirement twice.
        return None


class IsPosClient(permissions.BasePermission):
    message = "Send the header 'Authorization: Api-Key <key>'."

    def has_permission(self, request, view):
        return isinstance(request.user, PosClient)


class PosKeyRateThrottle(throttling.SimpleRateThrottle):
    """Requests per API key (POS_RATE_LIMIT, e.g. "6000/min"), counted in fixed windows of the rate's period.

    One counter per key and window in the cache (``cache.incr``; ``cache.add`` starts a window), not a
    list of timestamps rewritten on every request: a call costs the same at any rate. With the shared
    Redis cache and a cached key the call is counted in the round trip that read the key. A key may send up
    to the limit in each window, so at most twice the limit across a window boundary. A refused call
    is told to retry when its window ends (``Retry-After``). While the cache cannot be reached no call is
    counted and every call is let through (the cache logs the outage): the limit protects the service, and
    refusing every till would be the outage it guards against. The rate is read on each call rather than
    once at import, so a settings override (tests, a management shell) takes effect at once."""

    scope = "pos"
    _wait: float | None = None

    def get_rate(self):
        return settings.POS_RATE_LIMIT

    @property
    def counter_timeout(self) -> int:
        return self.duration + 5  # a window's counter outlives it by a few seconds, then goes

    def counter_key(self, key_hash: str, now: float) -> str:
        return f"throttle_{self.scope}_{key_hash}_{self.duration}_{int(now // self.duration)}"

    def allow_request(self, request, view):
        client = request.user
        if not isinstance(client, PosClient):
            return True
        if client.counted is not None:  # counted with the key's read (PosApiKeyAuthentication)
            count, now = client.counted
        else:
            now = self.timer()
            count = self._count(self.counter_key(client.api_key.key_hash, now))
        if count is None or count <= self.num_requests:
            return True
        self._wait = (int(now // self.duration) + 1) * self.duration - now
        return False

    def _count(self, key: str) -> int | None:
        """The window's count after this call (a window's counter outlives it by a few seconds, then goes);
        None when the cache cannot count it."""
        return counter_add(key, timeout=self.counter_timeout)

    def get_cache_key(self, request, view):
        client = request.user
        if not isinstance(client, PosClient):
            return None
        return self.cache_format % {"scope": self.scope, "ident": client.api_key.pk}

    def wait(self):
        return self._wait

"""How a POS call proves which store (and so which program) it speaks for."""

from dataclasses import dataclass

from django.conf import settings
from django.core.cache import DEFAULT_CACHE_ALIAS, caches
from django.core.cache.backends.redis import RedisCache
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions, throttling

from .models import Program, Store, StoreApiKey
from .selectors import api_key_cache_put, api_key_get_active
from .services import api_key_touch

SCHEME = "Api-Key"


@dataclass(frozen=True)
class PosClient:
    """The authenticated caller of a POS endpoint: one key of one store of one program."""

    api_key: StoreApiKey
    store: Store
    program: Program

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
        api_key = api_key_get_active(raw_key=raw_key.strip())
        if api_key is None:
            raise exceptions.AuthenticationFailed("Unknown or revoked API key.")
        if api_key_touch(api_key=api_key):
            api_key_cache_put(api_key=api_key)
        return PosClient(api_key=api_key, store=api_key.store, program=api_key.store.program), api_key

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
    list of timestamps rewritten on every request: a call costs the same at any rate. A key may send up
    to the limit in each window, so at most twice the limit across a window boundary. A refused call
    is told to retry when its window ends (``Retry-After``). The rate is read on each call rather than
    once at import, so a settings override (tests, a management shell) takes effect at once."""

    scope = "pos"
    _wait: float | None = None

    def get_rate(self):
        return getattr(settings, "POS_RATE_LIMIT", None) or settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["pos"]

    def allow_request(self, request, view):
        client = request.user
        if not isinstance(client, PosClient):
            return True
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        now = self.timer()
        window = int(now // self.duration)
        key = f"throttle_{self.scope}_{client.api_key.pk}_{self.duration}_{window}"
        count = self._count(key)
        if count <= self.num_requests:
            return True
        self._wait = (window + 1) * self.duration - now
        return False

    def _count(self, key: str) -> int:
        """The window's count after this call (a window's counter outlives it by a few seconds, then goes)."""
        cache = caches[DEFAULT_CACHE_ALIAS]  # the backend itself (``self.cache`` is a proxy to it)
        timeout = self.duration + 5
        if isinstance(cache, RedisCache):  # one round trip, where incr() costs two (EXISTS, INCRBY)
            full_key = cache.make_and_validate_key(key)
            with cache._cache.get_client(full_key, write=True).pipeline() as pipe:
                count, _ = pipe.incr(full_key).expire(full_key, timeout).execute()
            return count
        try:
            return cache.incr(key)
        except ValueError:  # the window's first call (or its counter was evicted)
            if cache.add(key, 1, timeout=timeout):
                return 1
            try:
                return cache.incr(key)  # another process started the window first
            except ValueError:
                return 1

    def get_cache_key(self, request, view):
        client = request.user
        if not isinstance(client, PosClient):
            return None
        return self.cache_format % {"scope": self.scope, "ident": client.api_key.pk}

    def wait(self):
        return self._wait

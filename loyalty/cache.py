"""Django's Redis cache, keeping one client per connection pool, and serving on while Redis is down.

Django's ``RedisCacheClient.get_client`` builds a new ``redis.Redis`` for every cache call, and redis-py fills a
table of response callbacks in each constructor, on every call, and a POS request makes one or two (key lookup
with its rate-limit count, the email sender's wake-up). The client is safe to share between threads (connections
come from the pool, which also notices a fork), so one per pool is enough.

The cache is not a dependency of the POS path: while Redis cannot be reached every read misses and every
write is dropped (``RedisOutage``), so API keys are read from the database and the rate limit lets calls
through, and the outage is logged when it starts and when it ends.
"""

from __future__ import annotations

import functools
import logging
import time

import redis
from django.core.cache import DEFAULT_CACHE_ALIAS, caches
from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient

logger = logging.getLogger(__name__)

# After a failed call, calls skip the server this long instead of each paying for a refused (or timed-out)
# connection; then one call tries it again.
RETRY_SECONDS = 1.0


class RedisOutage:
    """Whether this process takes a Redis server (``name``) to be down, and the log of it: one warning when an
    outage starts, saying what is done without the server (``meanwhile``), one when it ends; none per call."""

    def __init__(self, name: str, meanwhile: str, errors: tuple = (redis.RedisError,)):
        self.name, self.meanwhile, self.errors = name, meanwhile, errors
        self._retry_at = 0.0
        self._since: float | None = None
        self._missed = 0  # calls that went on without the server during this outage

    def call(self, method, *args, fallback, **kwargs):
        """``method(*args, **kwargs)``, or ``fallback(*args, **kwargs)`` while the server is down (it failed less
        than RETRY_SECONDS ago, or fails now)."""
        if self._since is not None and time.monotonic() < self._retry_at:
            self._missed += 1
            return fallback(*args, **kwargs)
        try:
            value = method(*args, **kwargs)
        except self.errors as error:
            self._failed(error)
            return fallback(*args, **kwargs)
        if self._since is not None:
            logger.warning("%s answers again after %.1f s (%d calls went on without it)", self.name,
                           time.monotonic() - self._since, self._missed)
            self._since, self._missed = None, 0
        return value

    def _failed(self, error: Exception) -> None:
        now = time.monotonic()
        self._retry_at = now + RETRY_SECONDS
        self._missed += 1
        if self._since is None:
            self._since = now
            logger.warning("%s cannot be reached (%s: %s); %s until it answers", self.name, type(error).__name__,
                           error, self.meanwhile)


_outages: dict[str, RedisOutage] = {}


def _degrades(fallback):
    """A cache method that answers ``fallback(*args, **kwargs)`` (a miss, a dropped write) while Redis is down."""
    def wrap(method):
        @functools.wraps(method)
        def degraded(self, *args, **kwargs):
            return self.outage.call(functools.partial(method, self), *args, fallback=fallback, **kwargs)
        return degraded
    return wrap


def _missing(key, default=None, *args, **kwargs):
    return default


class ReusedRedisCacheClient(RedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client


# A cached value and, only when there is one, a call counted in a window counter: one round trip where a
# GET and a pipelined INCR + EXPIRE take two. Counting only for found values keeps unknown keys (random
# guesses at a POS key, say) from leaving counters behind.
_GET_AND_COUNT = """
local value = redis.call('GET', KEYS[1])
if not value then return {} end
local count = redis.call('INCR', KEYS[2])
redis.call('EXPIRE', KEYS[2], ARGV[1])
return {value, count}
"""


class RedisCache(DjangoRedisCache):
    """``clear()`` and ``incr()`` still raise while Redis is down: the first is an operator's, the second has no
    answer that would not lie (the rate limit counts with ``count``)."""

    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = ReusedRedisCacheClient
        self._get_and_count = None
        # One per server and process (Django makes a cache object per thread).
        self.outage = _outages.setdefault(str(server), RedisOutage(
            "The Redis cache", "serving without it: API keys are read from the database and rate limits not counted"))

    get = _degrades(_missing)(DjangoRedisCache.get)
    get_many = _degrades(lambda *args, **kwargs: {})(DjangoRedisCache.get_many)
    has_key = _degrades(lambda *args, **kwargs: False)(DjangoRedisCache.has_key)
    add = _degrades(lambda *args, **kwargs: False)(DjangoRedisCache.add)
    set = _degrades(lambda *args, **kwargs: None)(DjangoRedisCache.set)
    set_many = _degrades(lambda data, *args, **kwargs: list(data))(DjangoRedisCache.set_many)
    touch = _degrades(lambda *args, **kwargs: False)(DjangoRedisCache.touch)
    delete = _degrades(lambda *args, **kwargs: False)(DjangoRedisCache.delete)
    delete_many = _degrades(lambda *args, **kwargs: None)(DjangoRedisCache.delete_many)

    @_degrades(lambda *args, **kwargs: (None, None))
    def get_and_count(self, key: str, counter: str, timeout: int):
        """``(value, count)``: the value cached under ``key`` and, if there is one, the value of the counter
        ``counter`` after adding one (it lives ``timeout`` seconds from now); ``(None, None)`` when
        ``key`` is not cached (or Redis is down)."""
        key, counter = self.make_and_validate_key(key), self.make_and_validate_key(counter)
        client = self._cache.get_client(key, write=True)
        if self._get_and_count is None:
            self._get_and_count = client.register_script(_GET_AND_COUNT)
        found = self._get_and_count(keys=[key, counter], args=[timeout], client=client)
        if not found:
            return None, None
        return self._cache._serializer.loads(found[0]), int(found[1])

    @_degrades(lambda *args, **kwargs: None)
    def count(self, key: str, timeout: int) -> int | None:
        """The counter ``key`` after adding one, living ``timeout`` seconds from now, in one round trip (where
        ``incr()`` takes two, EXISTS and INCRBY); None while Redis is down."""
        key = self.make_and_validate_key(key)
        with self._cache.get_client(key, write=True).pipeline() as pipe:
            count, _ = pipe.incr(key).expire(key, timeout).execute()
        return count


def counter_add(key: str, *, timeout: int) -> int | None:
    """Add one to the counter ``key`` of the default cache and answer its value; a new counter lives ``timeout``
    seconds. None when the cache cannot count (Redis is down): rate limits built on it then let calls through.
    Rate limits name one counter per window (the window's number in ``key``)."""
    cache = caches[DEFAULT_CACHE_ALIAS]  # the backend itself (``django.core.cache.cache`` is a proxy to it)
    if hasattr(cache, "count"):  # the Redis cache (RedisCache above): one round trip
        return cache.count(key, timeout)
    try:
        return cache.incr(key)
    except ValueError:  # the window's first call (or its counter was evicted)
        if cache.add(key, 1, timeout=timeout):
            return 1
        try:
            return cache.incr(key)  # another process started the window first
        except ValueError:
            return 1

"""Django's Redis cache, keeping one client per connection pool.

Django's ``RedisCacheClient.get_client`` builds a new ``redis.Redis`` for every cache call, and redis-py
fills a table of ~170 response callbacks in each constructor: about 0.3 ms of CPU per call, and a POS
request makes one or two (key lookup with its rate-limit count, the email sender's wake-up). The client is
safe to share between threads (connections come from the pool, which also notices a fork), so one per pool
is enough.
"""

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient


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
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = ReusedRedisCacheClient
        self._get_and_count = None

    def get_and_count(self, key: str, counter: str, timeout: int):
        """``(value, count)``: the value cached under ``key`` and, if there is one, the value of the counter
        ``counter`` after adding one (it lives ``timeout`` seconds from now); ``(None, None)`` when
        ``key`` is not cached."""
        key, counter = self.make_and_validate_key(key), self.make_and_validate_key(counter)
        client = self._cache.get_client(key, write=True)
        if self._get_and_count is None:
            self._get_and_count = client.register_script(_GET_AND_COUNT)
        found = self._get_and_count(keys=[key, counter], args=[timeout], client=client)
        if not found:
            return None, None
        return self._cache._serializer.loads(found[0]), int(found[1])

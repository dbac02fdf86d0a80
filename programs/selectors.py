from django.conf import settings
from django.core.cache import DEFAULT_CACHE_ALIAS, cache, caches

from .models import Store, StoreApiKey, hash_api_key

CACHE_PREFIX = "pos-key:"


def _cache_key(key_hash: str) -> str:
    return CACHE_PREFIX + key_hash  # the digest only: no raw key ever reaches the cache


def api_key_cache_seconds() -> int:
    """How long a positive key lookup may be answered from the cache (0: never cached)."""
    return int(getattr(settings, "POS_KEY_CACHE_SECONDS", 0) or 0)


def api_key_get_active(*, raw_key: str) -> StoreApiKey | None:
    """The active key (with its store and program) whose digest matches ``raw_key``, else None.

    With ``POS_KEY_CACHE_SECONDS`` set (a cache shared by every process), found keys are kept
    there briefly, under their digest. Unknown keys are never cached, and revoking a key or
    deactivating its store deletes the entry at once (``api_key_cache_forget``). While the cache cannot be
    reached every lookup reads the database; an entry a revocation could not delete then lapses within
    ``POS_KEY_CACHE_SECONDS``.
    """
    key_hash = hash_api_key(raw_key)
    seconds = api_key_cache_seconds()
    if seconds:
        cached = cache.get(_cache_key(key_hash))
        if cached is not None:
            return cached
    api_key = (
        StoreApiKey.objects.select_related("store__program")
        .filter(key_hash=key_hash, revoked_at__isnull=True, store__is_active=True)
        .first()
    )
    if api_key is not None and seconds:
        cache.set(_cache_key(key_hash), api_key, seconds)
    return api_key


def api_key_cached_with_call_counted(*, raw_key: str, counter, timeout: int) -> tuple[StoreApiKey | None, int | None]:
    """The cached key for ``raw_key`` and, with it, the value of the rate counter ``counter(key_hash)`` after
    counting this call, in one round trip; ``(None, None)`` when the key is not cached, or caching is off,
    or the cache is not Redis (then look it up with ``api_key_get_active`` and count apart)."""
    backend = caches[DEFAULT_CACHE_ALIAS]
    if not api_key_cache_seconds() or not hasattr(backend, "get_and_count"):
        return None, None
    key_hash = hash_api_key(raw_key)
    return backend.get_and_count(_cache_key(key_hash), counter(key_hash), timeout)


def api_key_cache_put(*, api_key: StoreApiKey) -> None:
    """Refresh the cached copy (after ``last_used_at`` moved), if caching is on."""
    if seconds := api_key_cache_seconds():
        cache.set(_cache_key(api_key.key_hash), api_key, seconds)


def api_key_cache_forget(*, key_hashes) -> None:
    """Drop these keys from the cache, so the next call reads the database again."""
    keys = [_cache_key(key_hash) for key_hash in key_hashes]
    if keys:
        cache.delete_many(keys)


def api_key_hashes_of_store(*, store_id=None, program_id=None) -> list[str]:
    """The digests of a store's keys (or of every store of a program)."""
    keys = StoreApiKey.objects.filter(store_id=store_id) if store_id else StoreApiKey.objects.filter(
        store__program_id=program_id)
    return list(keys.values_list("key_hash", flat=True))


# --- read by analytics: behaviour ---

def store_names(*, program_id, store_ids) -> dict:
    """``{store id: name}`` of the program's stores among ``store_ids``."""
    return dict(Store.objects.filter(program_id=program_id, pk__in=list(store_ids)).values_list("id", "name"))
# --- read by analytics: simulator ---

def store_codes(*, program_id) -> dict:
    """``{store id: store code}`` of the program's stores (what a rule's store condition compares)."""
    from .models import Store  # here, not at the top: this section is appended by the apps that read it

    return dict(Store.objects.filter(program_id=program_id).values_list("id", "code"))

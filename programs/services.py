import secrets
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from loyalty.errors import DomainError

from .models import Program, Store, StoreApiKey, hash_api_key
from .selectors import api_key_cache_forget

KEY_PREFIX = "lk_"
LAST_USED_RESOLUTION = timedelta(minutes=1)


@transaction.atomic
def program_create(*, slug: str, name: str, currency: str, **policy) -> Program:
    program = Program(slug=slug, name=name, currency=currency.upper(), **policy)
    program.full_clean()
    program.save()
    return program


@transaction.atomic
def store_create(*, program: Program, code: str, name: str) -> Store:
    store = Store(program=program, code=code, name=name)
    store.full_clean()
    store.save()
    return store


@transaction.atomic
def api_key_create(*, store: Store, name: str, raw_key: str | None = None, created_by=None) -> tuple[StoreApiKey, str]:
    """Create a key for ``store``; returns the record and the only copy of the key itself."""
    raw_key = raw_key or KEY_PREFIX + secrets.token_urlsafe(32)
    if len(raw_key) < 8 or any(c.isspace() for c in raw_key):
        raise DomainError.invalid("key", "An API key needs at least 8 characters and no spaces.")
    key_hash = hash_api_key(raw_key)
    if StoreApiKey.objects.filter(key_hash=key_hash).exists():
        raise DomainError("invalid", "That key is already in use.", errors=[{"field": "key", "message": "in use"}])
    api_key = StoreApiKey.objects.create(
        store=store, name=name, prefix=raw_key[:8], key_hash=key_hash, created_by=created_by
    )
    return api_key, raw_key


@transaction.atomic
def api_key_revoke(*, api_key: StoreApiKey) -> StoreApiKey:
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
    # Forget the cached lookup now and again after commit, so no request that read the key
    # before the revocation committed can leave it cached.
    api_key_cache_forget(key_hashes=[api_key.key_hash])
    transaction.on_commit(lambda: api_key_cache_forget(key_hashes=[api_key.key_hash]))
    return api_key


def api_key_touch(*, api_key: StoreApiKey) -> bool:
    """Record use, at most once a minute per key, so a busy till does not write on every call.

    Answers whether it wrote (then the caller refreshes any cached copy of the key).
    """
    now = timezone.now()
    if api_key.last_used_at is None or now - api_key.last_used_at >= LAST_USED_RESOLUTION:
        StoreApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now
        return True
    return False

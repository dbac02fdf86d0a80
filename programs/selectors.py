from .models import StoreApiKey, hash_api_key


def api_key_get_active(*, raw_key: str) -> StoreApiKey | None:
    return (
        StoreApiKey.objects.select_related("store__program")
        .filter(key_hash=hash_api_key(raw_key), revoked_at__isnull=True, store__is_active=True)
        .first()
    )

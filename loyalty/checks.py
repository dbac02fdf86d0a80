"""Start-up warnings about a deployment that serves, but not as configured.

The POS rate limit is counted in the cache. The default local-memory cache lives in each process:
with several gunicorn workers each counts alone, so a client gets up to the limit times the number
of workers. Said at ``manage.py check``/``migrate`` as a system check, and by gunicorn itself as it
starts (``gunicorn.conf.py``).
"""

import os

from django.conf import settings
from django.core.checks import Warning, register

PER_PROCESS_CACHES = ("django.core.cache.backends.locmem.LocMemCache",)


def per_process_cache_warning(*, workers: int) -> str | None:
    """Why ``workers`` web processes would each count the POS rate limit alone, or None."""
    if settings.DEBUG or workers <= 1 or settings.CACHES["default"]["BACKEND"] not in PER_PROCESS_CACHES:
        return None
    rate = settings.POS_RATE_LIMIT
    return (f"CACHE_URL is the local-memory cache, which each process keeps for itself, and {workers} web workers "
            f"serve: each counts the POS rate limit ({rate} per key) alone, so a key gets up to {workers} times "
            f"that. Set CACHE_URL to a cache every process shares (redis://...).")


def _web_workers() -> int:
    try:
        return int(os.environ.get("WEB_CONCURRENCY", "1"))
    except ValueError:
        return 1


@register(deploy=False)
def per_process_cache_check(app_configs=None, **kwargs):
    message = per_process_cache_warning(workers=_web_workers())
    if message is None:
        return []
    return [Warning(message, hint="WEB_CONCURRENCY is read as gunicorn's number of workers.",
                    id="loyalty.W001")]

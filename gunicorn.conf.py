"""gunicorn reads this file from the working directory (the image's /app, a checkout's root)."""

import os


def when_ready(server):
    """Say at start-up, loudly, when the workers cannot share the POS rate limit's counts."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "loyalty.settings")
    from loyalty.checks import per_process_cache_warning  # reads the settings; sets up no app in the master

    message = per_process_cache_warning(workers=server.cfg.workers)
    if message:
        server.log.warning("WARNING: %s", message)

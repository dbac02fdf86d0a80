"""Run in its own process against a primary and its streaming replica (``test_replica.py`` starts both): the
reports and exports read from the replica, writes go to the primary, the page says how far behind the
replica is, and a replica that stops answering sends the reads back to the primary. Prints what it saw as
JSON on its last line."""

import json
import os
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "loyalty.settings")

import django

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connections  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from earning.services import purchase_record  # noqa: E402
from ledger.models import LedgerEntry  # noqa: E402
from loyalty.replica import replica_reads, replica_source  # noqa: E402
from programs.demo import demo_seed  # noqa: E402

seen: dict = {}
TODAY = timezone.localdate().isoformat()  # the demo program counts days in UTC, as the server does


def replica_caught_up(timeout: float = 30) -> None:
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_lsn()::text")
        target = cursor.fetchone()[0]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with connections["replica"].cursor() as cursor:
            cursor.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [target])
            if cursor.fetchone()[0]:
                return
        time.sleep(0.1)
    raise SystemExit("the replica did not catch up")


def buy(demo, external_id: str, total: str) -> None:
    purchase_record(store=demo.store, actor="probe", external_id=external_id, currency="EUR", total=Decimal(total),
                    member_reference={"id": str(demo.members[0].pk)}, lines=[])


def report(client, program) -> tuple[int, str, dict]:
    with CaptureQueriesContext(connections["default"]) as primary, \
            CaptureQueriesContext(connections["replica"]) as replica:
        page = client.get("/staff/reports/", {"program": program.slug})
        csv = client.get("/staff/reports/liability.csv",
                         {"program": program.slug, "start": "2020-01-01", "end": TODAY})
        members = client.get("/staff/exports/members.csv", {"program": program.slug})
        csv_text = b"".join(csv.streaming_content).decode()
        members_text = b"".join(members.streaming_content).decode()
    ledger_reads = {
        "primary": sum('"ledger_ledgerentry"' in q["sql"] for q in primary.captured_queries),
        "replica": sum('"ledger_ledgerentry"' in q["sql"] for q in replica.captured_queries),
        "member_rows_replica": sum('"members_member"' in q["sql"] for q in replica.captured_queries),
    }
    return page.status_code, page.content.decode(), {"csv": csv_text, "members": members_text, **ledger_reads}


started = time.monotonic()
call_command("migrate", verbosity=0)
seen["migrate_seconds"] = round(time.monotonic() - started, 1)
demo = demo_seed(api_key="probe-key-" + "x" * 30)
buy(demo, "R-1", "100.00")
replica_caught_up()

manager = get_user_model().objects.get(username=f"{demo.program.slug}-manager")
client = Client()
client.force_login(manager)

status, html, reads = report(client, demo.program)
seen["caught_up"] = {"status": status, "says_replica": "Read from the reporting replica" in html,
                     "ledger_reads": {k: reads[k] for k in ("primary", "replica", "member_rows_replica")},
                     "csv": reads["csv"], "members_lines": reads["members"].count("\n")}

# Writes inside the replica's reads still reach the primary (a standby refuses every write).
with replica_reads() as source:
    buy(demo, "R-2", "50.00")
    seen["write_inside_reads"] = {"source": source.alias,
                                  "entries_on_primary": LedgerEntry.objects.using("default").count()}

# Replay paused: the page reads the replica as it stood, and says it is behind.
replica_caught_up()
with connections["replica"].cursor() as cursor:
    cursor.execute("SELECT pg_wal_replay_pause()")
buy(demo, "R-3", "70.00")
time.sleep(1.5)
status, html, reads = report(client, demo.program)
seen["paused"] = {"status": status, "lag": replica_source().lag_seconds, "says_behind": "s behind the primary" in html,
                  "csv": reads["csv"]}
with connections["replica"].cursor() as cursor:
    cursor.execute("SELECT pg_wal_replay_resume()")
replica_caught_up()
status, html, reads = report(client, demo.program)
seen["resumed"] = {"status": status, "csv": reads["csv"], "up_to_date": "up to date with the primary" in html}

# The replica goes away: reports read the primary and say so.
connections["replica"].close()
sys.stdout.write("STOP-REPLICA\n")
sys.stdout.flush()
sys.stdin.readline()  # the test stops the replica, then answers
page = client.get("/staff/reports/", {"program": demo.program.slug})
csv = client.get("/staff/reports/liability.csv", {"program": demo.program.slug, "start": "2020-01-01",
                                                  "end": TODAY})
seen["replica_down"] = {"status": page.status_code,
                        "says_primary": "read from the primary database" in page.content.decode(),
                        "csv": b"".join(csv.streaming_content).decode()}
print(json.dumps(seen))

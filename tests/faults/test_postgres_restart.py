"""PostgreSQL restarted under a stream of purchases: the server answers clean 503s while it is away and serves
again without being restarted; a retried purchase is recorded once, none is doubled or lost, and the ledger
verifies."""

import os
import subprocess
import sys
import threading
import time

import psycopg
import pytest

from .support import ROOT, SECRET, PrivateCluster, Traffic, WebServer, enrol_tills, is_clean_503, post

pytestmark = [pytest.mark.faults]

KEY = "fault-test-pos-key-postgres-0001"
CLIENTS = 4
DOWN_SECONDS = 2
RETRIES = 200  # a purchase answered 503 is posted again, the same body, this many times at most


@pytest.fixture
def cluster():
    cluster = PrivateCluster()
    try:
        cluster.create()
        with psycopg.connect(cluster.url, autocommit=True) as admin:
            admin.execute("CREATE DATABASE loyalty")
        yield cluster
    finally:
        cluster.destroy()


def manage(database_url: str, *commands: tuple[str, ...]) -> subprocess.CompletedProcess:
    """Management commands run one after another in one process against ``database_url``."""
    env = {**os.environ, "DATABASE_URL": database_url, "DJANGO_SECRET_KEY": SECRET, "CELERY_BROKER_URL": "",
           "CACHE_URL": "locmemcache://", "DJANGO_DEBUG": "false", "DJANGO_SETTINGS_MODULE": "loyalty.settings"}
    script = ("import django; django.setup(); from django.core.management import call_command; "
              f"[call_command(*command) for command in {commands!r}]")
    return subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)


def test_purchases_through_a_postgres_restart_answer_201_or_a_clean_503_and_each_is_recorded_once(cluster, tmp_path):
    database_url = cluster.url.rsplit("/", 1)[0] + "/loyalty"
    prepared = manage(database_url, ("migrate", "--noinput", "--verbosity", "0"), ("seed_demo", "--api-key", KEY))
    assert prepared.returncode == 0, prepared.stderr
    web = WebServer(tmp_path / "web.log", DATABASE_URL=database_url, CELERY_BROKER_URL="", CACHE_URL="locmemcache://",
                    EMAIL_URL="dummymail://")
    attempts: dict[str, list] = {}
    lock = threading.Lock()
    try:
        cards = enrol_tills(web.url, key=KEY, count=CLIENTS)
        pids = web.pids

        def purchase(client: int, n: int):
            body = {"external_id": f"R-{client}-{n}", "member": {"card_number": cards[client]}, "currency": "EUR",
                    "total": "12.00"}
            tried = []
            for _ in range(RETRIES):
                answer = post(web.url, "/api/v1/pos/purchases/", body, key=KEY)
                tried.append(answer)
                if answer.status != 503:
                    break
                time.sleep(0.2)  # a till would wait Retry-After; the test only needs to come back during the outage
            with lock:
                attempts[body["external_id"]] = tried
            return answer

        traffic = Traffic().run(purchase, clients=CLIENTS, limit=300)
        time.sleep(1.5)
        restart_began = time.monotonic()
        cluster.restart(down_for=DOWN_SECONDS)
        restart_ended = time.monotonic()
        time.sleep(2)
        traffic.stop()
        assert web.pids == pids  # served again by the same processes: nothing was restarted
        after = post(web.url, "/api/v1/pos/purchases/", {"external_id": "R-after", "member": {"card_number": cards[0]},
                                                        "currency": "EUR", "total": "12.00"}, key=KEY)
        assert after.status == 201, after.json
    finally:
        web.stop()

    every = [answer for tried in attempts.values() for answer in tried]
    refused = [answer for answer in every if answer.status == 503]
    statuses = {}
    for answer in every:
        statuses[answer.status] = statuses.get(answer.status, 0) + 1
    window = (refused[-1].at - refused[0].at) if refused else 0.0
    print(f"\nPostgreSQL fast restart took {restart_ended - restart_began:.1f}s; {len(attempts)} purchases in "
          f"{len(every)} requests, answers {statuses}; 503s for {window:.1f}s")
    assert refused, "no request reached the server while PostgreSQL was down"
    assert all(answer.status in (200, 201) or is_clean_503(answer) for answer in every), [
        (a.status, a.json) for a in every if a.status not in (200, 201) and not is_clean_503(a)][:5]
    finals = {external_id: tried[-1] for external_id, tried in attempts.items()}
    assert all(final.status in (200, 201) for final in finals.values())  # every retried 503 succeeded
    with psycopg.connect(database_url) as db:
        rows = dict(db.execute("SELECT external_id, count(*) FROM earning_purchase WHERE external_id LIKE 'R-%%-%%' "
                               "GROUP BY external_id").fetchall())
        ids = dict(db.execute("SELECT external_id, id::text FROM earning_purchase").fetchall())
    assert rows == dict.fromkeys(finals, 1)  # every purchase answered once recorded, exactly once
    assert {external_id: ids[external_id] for external_id in finals} == {
        external_id: final.json["id"] for external_id, final in finals.items()}
    verified = manage(database_url, ("ledger_verify",))
    assert verified.returncode == 0, verified.stdout + verified.stderr

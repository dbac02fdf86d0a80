"""PostgreSQL: a reused connection is checked at each request without a query (a dead one is replaced), and
with server-side binding (at most 65,535 values bound per statement) a big bulk insert still goes in."""

import time

import psycopg
import pytest
from django.core.signals import request_started
from django.db import connection


def _server_side_last_query(pid: int) -> str:
    with psycopg.connect(**connection.get_connection_params()) as other:
        return other.execute("SELECT query FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_a_healthy_idle_connection_is_usable_without_a_round_trip():
    with connection.cursor() as cursor:  # autocommit: the connection is idle afterwards, as between two requests
        cursor.execute("SELECT 'the last statement sent'")
    pid = connection.connection.info.backend_pid

    assert connection.is_usable()

    assert _server_side_last_query(pid) == "SELECT 'the last statement sent'"


@pytest.mark.django_db(transaction=True)
def test_a_connection_the_server_ended_is_replaced_at_the_next_request():
    connection.ensure_connection()
    pid = connection.connection.info.backend_pid
    with psycopg.connect(**connection.get_connection_params(), autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", (pid,))
    deadline = time.monotonic() + 5
    while connection.is_usable() and time.monotonic() < deadline:
        time.sleep(0.05)

    assert not connection.is_usable()
    request_started.send(sender=None)  # what every request starts with: old or broken connections go
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] != pid


@pytest.mark.django_db
def test_a_bulk_insert_of_more_values_than_a_statement_binds_goes_in():
    from django.utils import timezone

    from loyalty.models import IdempotencyRecord
    from tests.factories import StoreFactory

    store, now = StoreFactory(), timezone.now()
    rows = [IdempotencyRecord(store=store, scope="bulk", key=f"k-{i}", request_hash="h", response_status=201,
                              response_body={}, created_at=now) for i in range(10_000)]  # 70,000 values

    IdempotencyRecord.objects.bulk_create(rows)

    assert IdempotencyRecord.objects.filter(scope="bulk").count() == 10_000

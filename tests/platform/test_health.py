import time

import pytest
from django.db import OperationalError
from django.test import override_settings

CLOSED_BROKER = "redis://127.0.0.1:1/0"  # port 1: nothing listens there


def test_healthz_answers_200_with_the_database_reachable(client, db):
    response = client.get("/healthz")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["broker"]["ok"] is True
    assert "no-cache" in response["Cache-Control"]  # a load balancer must never see a cached answer


def test_healthz_needs_no_api_key(client, db):
    assert client.get("/healthz").status_code == 200


@override_settings(CELERY_BROKER_URL=CLOSED_BROKER)
def test_healthz_answers_503_when_the_broker_cannot_be_reached(client, db):
    started = time.monotonic()
    response = client.get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["broker"]["ok"] is False
    assert body["checks"]["broker"]["mode"] == "broker"
    assert body["checks"]["database"]["ok"] is True
    assert time.monotonic() - started < 15  # a probe must answer well within a load balancer's timeout


def test_healthz_reads_the_broker_url_on_each_call(client, db):
    # An in-memory broker is always reachable; the closed port never is. Whichever
    # is configured now decides, not whichever the process happened to see first.
    with override_settings(CELERY_BROKER_URL="memory://"):
        assert client.get("/healthz").status_code == 200
    with override_settings(CELERY_BROKER_URL=CLOSED_BROKER):
        assert client.get("/healthz").status_code == 503
    with override_settings(CELERY_BROKER_URL="memory://"):
        assert client.get("/healthz").status_code == 200
    with override_settings(CELERY_BROKER_URL=""):
        assert client.get("/healthz").json()["checks"]["broker"] == {"ok": True, "mode": "eager"}


def test_healthz_answers_503_when_the_database_fails(client, db, monkeypatch):
    from loyalty import health

    def broken_cursor(*args, **kwargs):
        raise OperationalError("connection refused")

    with monkeypatch.context() as patch:
        patch.setattr(health.connection, "cursor", broken_cursor)
        response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["checks"]["database"] == {"ok": False, "error": "OperationalError"}


@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_healthz_only_answers_get(client, db, method):
    assert getattr(client, method)("/healthz").status_code == 405

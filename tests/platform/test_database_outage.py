"""While the database cannot be reached, or the connection breaks during a request, a POS call answers 503
problem+json with Retry-After (a page, a plain 503) and records nothing; the same call succeeds once it is back.
The real thing, a PostgreSQL restart under load, is tests/faults/test_postgres_restart.py."""

import pytest
from django.db import OperationalError, connection
from django.test import Client
from django.urls import reverse

from earning.models import Purchase
from notifications.services import unsubscribe_token

pytestmark = pytest.mark.django_db(transaction=True)

PURCHASES = "/api/v1/pos/purchases/"


@pytest.fixture
def body(member):
    return {"external_id": "R-1", "member": {"card_number": member.card_number}, "currency": "EUR", "total": "10.00"}


def refused(*args, **kwargs):
    raise OperationalError('connection failed: connection to server at "127.0.0.1", port 5432 failed: '
                           "Connection refused")


def lost(*args, **kwargs):
    raise OperationalError("server closed the connection unexpectedly")


@pytest.mark.parametrize(("failing", "failure"), [("ensure_connection", refused), ("_commit", lost)],
                         ids=["unreachable", "connection-lost-at-commit"])
def test_a_purchase_during_a_database_outage_answers_503_records_nothing_and_succeeds_when_retried(
        pos, body, monkeypatch, failing, failure):
    with monkeypatch.context() as outage:
        outage.setattr(connection, failing, failure)
        response = pos.post(PURCHASES, body, format="json")

    assert response.status_code == 503, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "service_unavailable"
    assert int(response["Retry-After"]) > 0
    assert not Purchase.objects.exists()
    retried = pos.post(PURCHASES, body, format="json")
    assert retried.status_code == 201, retried.json()
    assert Purchase.objects.count() == 1


def test_a_page_while_the_database_is_unreachable_answers_a_plain_503(monkeypatch, member):
    # A page that reads the database (the public page at / reads nothing with DEBUG off): a member's
    # unsubscribe link.
    page = reverse("notifications:unsubscribe", kwargs={"token": unsubscribe_token(member=member)})
    browser = Client(raise_request_exception=False)
    with monkeypatch.context() as outage:
        outage.setattr(connection, "ensure_connection", refused)
        response = browser.get(page)

    assert response.status_code == 503
    assert response["Content-Type"].startswith("text/plain")
    assert int(response["Retry-After"]) > 0
    assert browser.get(page).status_code == 200

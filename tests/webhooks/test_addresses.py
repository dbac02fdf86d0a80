"""Webhooks reach public internet addresses only: refused, after DNS, when saved and when delivered."""

import socket
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError

from loyalty.events import announce
from webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from webhooks.services import EXCERPT_CHARS, webhook_deliver_due

from .conftest import ALL_EVENTS

REFUSED = [
    ("http://127.0.0.1/hooks", "loopback"),
    ("http://10.0.0.1/hooks", "private"),
    ("http://192.168.1.20:8080/hooks", "private"),
    ("http://169.254.169.254/latest/meta-data/", "link-local"),
    ("http://[::1]/hooks", "loopback"),
    ("http://[::ffff:127.0.0.1]/hooks", "loopback"),
    ("http://[::ffff:169.254.169.254]/hooks", "link-local"),
    ("http://[64:ff9b::a00:1]/hooks", "private"),  # NAT64 of 10.0.0.1
    ("http://[fe80::1]/hooks", "link-local"),
    ("http://[fd00:ec2::254]/latest/meta-data/", "private"),
    ("http://100.64.0.7/hooks", "carrier-grade NAT"),
    ("http://224.0.0.1/hooks", "multicast"),
    ("http://240.0.0.1/hooks", "reserved"),
    ("http://0.0.0.0/hooks", "unspecified"),
    ("http://[::]/hooks", "unspecified"),
    ("http://168.63.129.16/hooks", "cloud metadata"),
    ("https://hooks.internal.test/hooks", "loopback"),  # a name that resolves to loopback
    ("https://mixed.internal.test/hooks", "private"),  # one public answer does not clear a private one
]


@pytest.fixture(autouse=True)
def names(resolver):
    resolver.answers.update({
        "hooks.internal.test": ["127.0.0.1"],
        "mixed.internal.test": ["93.184.215.14", "10.1.2.3"],
    })
    return resolver


def suite_services():
    """The broker and cache the suite itself may use (the delivery sweep clears its wake-up key there)."""
    urls = [settings.CELERY_BROKER_URL, *(str(cache.get("LOCATION", "")) for cache in settings.CACHES.values())]
    return {(parts.hostname, parts.port or 6379) for parts in map(urlsplit, urls) if parts.scheme.startswith("redis")}


@pytest.fixture
def connects(monkeypatch):
    """Every socket connection the code under test tries, but to the suite's own services; none is let through."""
    tried = []
    services = suite_services()
    real = socket.socket.connect

    def connect(self, address):
        if tuple(address[:2]) in services:
            return real(self, address)
        tried.append(address)
        raise ConnectionRefusedError("the test lets no connection out")

    monkeypatch.setattr(socket.socket, "connect", connect)
    return tried


def publish(program, member):
    announce(program=program, type="points.earned", member=member, key="k-1",
                         payload={"points": 10, "source": {"type": "test"}})


@pytest.mark.parametrize(("url", "kind"), REFUSED)
def test_a_delivery_to_a_non_public_address_is_refused_without_connecting(program, member, connects, url, kind):
    WebhookEndpoint.objects.create(program=program, url=url, events=ALL_EVENTS)  # saved before the check existed
    publish(program, member)

    webhook_deliver_due()

    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.response_code, delivery.response_body) == ("pending", None, "")
    assert delivery.last_error.startswith("not sent: webhooks are only sent to public internet addresses")
    assert kind in delivery.last_error
    assert WebhookAttempt.objects.get(delivery=delivery).error == delivery.last_error
    assert connects == []


@pytest.mark.parametrize(("url", "kind"), REFUSED)
def test_an_endpoint_on_a_non_public_address_cannot_be_saved(program, connects, url, kind):
    endpoint = WebhookEndpoint(program=program, url=url, events=["points.earned"])

    with pytest.raises(ValidationError) as refused:
        endpoint.full_clean()

    (message,) = refused.value.message_dict["url"]
    assert message.startswith("Webhooks are only sent to public internet addresses")
    assert kind in message
    assert connects == []


def test_an_endpoint_whose_host_does_not_resolve_cannot_be_saved(program):
    endpoint = WebhookEndpoint(program=program, url="https://no-such-host.test/hooks", events=["points.earned"])

    with pytest.raises(ValidationError) as refused:
        endpoint.full_clean()

    assert "The host no-such-host.test could not be resolved" in refused.value.message_dict["url"][0]


def test_an_endpoint_on_a_public_address_is_saved(program, names, connects):
    names.answers["hooks.example.test"] = ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"]

    WebhookEndpoint(program=program, url="https://hooks.example.test/loyalty", events=["points.earned"]).full_clean()

    assert connects == []


def test_staff_adding_a_private_endpoint_in_the_admin_see_why_it_is_refused(client, program, connects):
    client.force_login(User.objects.create_superuser("admin", password="pw-admin-1234"))

    response = client.post("/admin/webhooks/webhookendpoint/add/", {
        "program": program.pk, "url": "http://169.254.169.254/latest/meta-data/", "description": "",
        "events": ["points.earned"], "active": "on", "secret": "whsec_test"})

    assert response.status_code == 200
    assert ("Webhooks are only sent to public internet addresses: 169.254.169.254 is a link-local address"
            in response.content.decode())
    assert not WebhookEndpoint.objects.exists()
    assert connects == []


def test_a_delivery_connects_to_the_address_it_checked_and_looks_the_name_up_once(program, member, names,
                                                                                   connects):
    # The name's first answer is public; any later lookup (a rebinding DNS server) answers loopback.
    names.answers["rebind.example.test"] = [["93.184.215.14"], ["127.0.0.1"]]
    WebhookEndpoint.objects.create(program=program, url="http://rebind.example.test/hooks", events=ALL_EVENTS)
    publish(program, member)

    webhook_deliver_due()

    assert names.lookups == ["rebind.example.test"]
    assert connects == [("93.184.215.14", 80)]
    assert "ConnectionRefusedError" in WebhookDelivery.objects.get().last_error


def test_a_delivery_speaks_to_the_receiver_by_the_endpoints_host_name(program, member, names, receiver):
    port = receiver.url.split(":")[2].split("/")[0]
    names.answers["receiver.example.test"] = ["127.0.0.1"]
    WebhookEndpoint.objects.create(program=program, url=f"http://receiver.example.test:{port}/hooks?v=2",
                                   events=ALL_EVENTS)
    publish(program, member)

    webhook_deliver_due()

    (request,) = receiver.requests
    assert request.headers["Host"] == f"receiver.example.test:{port}"
    assert request.path == "/hooks?v=2"
    assert WebhookDelivery.objects.get().status == "succeeded"


def test_staff_see_only_the_start_of_a_reply_as_printable_text(program, member, endpoint, receiver):
    receiver.statuses = [500]
    receiver.refusal = b"upstream said:\x1b[31m no\r\n" + b"x" * 5000
    publish(program, member)

    webhook_deliver_due()

    delivery = WebhookDelivery.objects.get()
    assert delivery.response_body.startswith("upstream said: [31m no")
    assert len(delivery.response_body) == EXCERPT_CHARS <= 200
    assert WebhookAttempt.objects.get(delivery=delivery).response_body == delivery.response_body

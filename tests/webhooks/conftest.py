"""A local HTTP receiver on 127.0.0.1 (a thread in the test process) stands in for an integrator."""

import ipaddress
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from webhooks.models import WebhookEndpoint


@dataclass
class Received:
    path: str
    headers: dict
    body: bytes

    @property
    def json(self) -> dict:
        return json.loads(self.body)


@dataclass
class Receiver:
    url: str
    requests: list = field(default_factory=list)
    statuses: list = field(default_factory=list)  # answered in turn; then 200
    delay: float = 0.0
    redirect_to: str | None = None
    refusal: bytes = b"receiver says no"  # the body of a non-2xx answer

    def of_type(self, event_type: str) -> list[Received]:
        return [r for r in self.requests if r.headers.get("X-Loyalty-Event") == event_type]


@pytest.fixture
def receiver(settings):
    """The receiver listens on loopback, where webhooks are only sent with private addresses allowed."""
    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = True
    state: dict = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            recv = state["receiver"]
            recv.requests.append(Received(path=self.path, headers=dict(self.headers.items()), body=body))
            if recv.delay:
                time.sleep(recv.delay)
            if recv.redirect_to:
                self.send_response(307)
                self.send_header("Location", recv.redirect_to)
                self.end_headers()
                return
            status = recv.statuses.pop(0) if recv.statuses else 200
            reply = b'{"ok": true}' if status < 300 else recv.refusal
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, format, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state["receiver"] = Receiver(url=f"http://127.0.0.1:{server.server_address[1]}/hooks")
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield state["receiver"]
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


ALL_EVENTS = ["member.enrolled", "points.earned", "points.expired", "tier.changed", "reward.redeemed", "voucher.used"]


@pytest.fixture
def endpoint(program, receiver):
    return WebhookEndpoint.objects.create(program=program, url=receiver.url, events=ALL_EVENTS)


def _is_address(host) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


@dataclass
class Resolver:
    """Names the webhook tests look up: answered here, never by a DNS server."""

    answers: dict = field(default_factory=dict)  # name -> addresses, or a list of them answered in turn
    lookups: list = field(default_factory=list)


@pytest.fixture(autouse=True)
def resolver(monkeypatch):
    real = socket.getaddrinfo
    fake = Resolver()

    def getaddrinfo(host, port, *args, **kwargs):
        if host in (None, "localhost") or _is_address(host):
            return real(host, port, *args, **kwargs)
        fake.lookups.append(host)
        answer = fake.answers.get(host)
        if answer and isinstance(answer[0], list):
            answer = answer.pop(0) if len(answer) > 1 else answer[0]
        if not answer:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [(socket.AF_INET6 if ":" in address else socket.AF_INET, socket.SOCK_STREAM, 6, "",
                 (address, port or 0)) for address in answer]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return fake

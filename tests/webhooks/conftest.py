"""A local HTTP receiver on 127.0.0.1 (a thread in the test process) stands in for an integrator."""

import json
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

    def of_type(self, event_type: str) -> list[Received]:
        return [r for r in self.requests if r.headers.get("X-Loyalty-Event") == event_type]


@pytest.fixture
def receiver():
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
            reply = b'{"ok": true}' if status < 300 else b"receiver says no"
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

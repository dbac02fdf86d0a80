"""Queueing, delivering and replaying webhook deliveries.

Deliveries are written in the transaction of the action they report (nothing is sent for an
action that rolled back) and handed to a worker on commit. A delivery is attempted at once, then
retried after 1 minute, 5 minutes, 30 minutes, 2 hours and 12 hours; after the last retry it is
marked ``failed``. Staff can replay any delivery: that is a new delivery of the same event.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from http.client import HTTPException

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from loyalty.celery import app
from loyalty.config_cache import ProgramMemo
from loyalty.edits import changes_apply, record_check
from loyalty.events import event_id_for
from loyalty.queue import Wake, attempt_failed, attempt_run, claim_finish, lease_renew, rows_claim
from loyalty.rows import database, rows_insert, rows_select

from .addresses import AddressRefused, connection_open, target_resolve
from .models import EVENT_TYPE_NAMES, TEST_EVENT, WebhookAttempt, WebhookDelivery, WebhookEndpoint, secret_generate
from .signing import SIGNATURE_HEADER, signature_header

logger = logging.getLogger(__name__)

_PROGRAM = WebhookEndpoint._meta.get_field("program")
BACKOFF = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2),
           timedelta(hours=12))
MAX_ATTEMPTS = len(BACKOFF) + 1
TIMEOUT_SECONDS = 10
LEASE = timedelta(minutes=2)  # well above one request's timeout
# Staff see this much of a reply: enough for a receiver's error message, too little to carry a page off.
EXCERPT_CHARS = 200
USER_AGENT = "Loyalty-Webhooks/1"


SCHEDULE_ONE_BY_ONE = 50  # without a broker, more new deliveries than this at once are left to one sweep
# With a broker, new deliveries wake the sweep (``loyalty.queue.Wake``): one ``deliver_due_webhooks`` per
# sweep started, rather than a Celery publish per delivery on each purchase of a subscribed program.
WAKE_KEY = "webhooks:deliverer-wake"
_deliverer_wake = Wake(WAKE_KEY, "webhooks.tasks.deliver_due_webhooks")


def _schedule(ids: list[int]) -> None:
    if not ids:
        return
    # robust: a broker that is down must not fail the action that has already committed;
    # the rows stay pending and the periodic sweep delivers them.
    if not app.conf.task_always_eager:
        transaction.on_commit(_deliverer_wake, robust=True)  # a second batch of the transaction finds the key
        return

    def send():  # no broker: delivered in this process, as the transaction commits
        if len(ids) > SCHEDULE_ONE_BY_ONE:
            app.signature("webhooks.tasks.deliver_due_webhooks").delay()
            return
        for pk in ids:
            app.signature("webhooks.tasks.deliver_webhook", args=(pk,)).delay()

    transaction.on_commit(send, robust=True)


@dataclass(frozen=True)
class WebhookEvent:
    program_id: object
    type: str
    id: uuid.UUID
    payload: dict


def webhook_endpoints_by_program(*, program_ids) -> dict:
    """Active endpoints per program id (read in the caller's transaction)."""
    db = database()
    program_ids = [_PROGRAM.get_db_prep_value(pk, db) for pk in set(program_ids)]
    grouped: dict = {}
    if not program_ids:
        return grouped
    for endpoint in rows_select(WebhookEndpoint, f"active AND program_id IN ({', '.join(['%s'] * len(program_ids))})",
                                program_ids, order_by="id"):
        grouped.setdefault(endpoint.program_id, []).append(endpoint)
    return grouped


def _subscribed_types(program_id) -> frozenset:
    return frozenset(event_type for events in WebhookEndpoint.objects.filter(program_id=program_id, active=True)
                     .values_list("events", flat=True) for event_type in events)


# The event types a program's active endpoints subscribe to, as of at most PROGRAM_CONFIG_CACHE_SECONDS ago
# (``loyalty.config_cache``): only to skip the endpoint query for events nobody wants. An endpoint added,
# activated or subscribed in another process receives events within those seconds; whoever is queued is
# always read from the endpoints themselves, in the caller's transaction.
_SUBSCRIBED = ProgramMemo("webhooks", _subscribed_types, models=(WebhookEndpoint,))


def webhook_event_wanted(*, program_id, type: str) -> bool:
    """Whether an active endpoint of the program may want events of ``type`` (memoised, as in
    ``webhook_events_queue``): when not, a publisher need not even build the event."""
    if type not in EVENT_TYPE_NAMES:
        raise ValueError(f"unknown webhook event type {type!r}")
    return type in _SUBSCRIBED.get(program_id)


def webhook_events_queue(*, events: list[WebhookEvent], endpoints: dict | None = None) -> int:
    """Queue each event for every active endpoint of its program that subscribes to its type.

    Runs in the caller's transaction: one query for the endpoints (unless given, as from
    ``webhook_endpoints_by_program``; none when no endpoint of the program subscribes to the events'
    types), one insert per 500 deliveries. An event id already queued for an endpoint is not
    queued again. Answers how many deliveries were queued.
    """
    for event in events:
        if event.type not in EVENT_TYPE_NAMES:
            raise ValueError(f"unknown webhook event type {event.type!r}")
    if endpoints is None:
        events = [event for event in events if event.type in _SUBSCRIBED.get(event.program_id)]
        if not events:
            return 0
        endpoints = webhook_endpoints_by_program(program_ids={event.program_id for event in events})
    rows = [
        WebhookDelivery(endpoint_id=endpoint.pk, program_id=event.program_id, event_id=event.id,
                        event_type=event.type, payload=event.payload)
        for event in events for endpoint in endpoints.get(event.program_id, ()) if endpoint.wants(event.type)
    ]
    # An event already queued for the endpoint (published again, or by a concurrent publisher, whose row
    # wins) is left out by the unique index, with no read before or after.
    ids = rows_insert(rows, unless_exists=("endpoint", "event_id"), unless_exists_where='"replay_of_id" IS NULL')
    _schedule(ids)
    return len(ids)


ENDPOINT_CHANGES = frozenset({"url", "description", "events", "active"})


@transaction.atomic
def webhook_endpoint_create(*, program, url: str, events: list[str], description: str = "",
                            active: bool = True) -> WebhookEndpoint:
    """A new endpoint of ``program``, with a new signing secret. Refused (``ValidationError`` by field) for a URL
    that is not a public internet address, and for events that do not exist."""
    endpoint = WebhookEndpoint(program=program, url=url, events=list(events), description=description, active=active)
    record_check(endpoint)
    endpoint.save()
    return endpoint


@transaction.atomic
def webhook_endpoint_update(*, endpoint: WebhookEndpoint, **changes) -> WebhookEndpoint:
    """Change an endpoint (``ENDPOINT_CHANGES``); a disabled endpoint receives nothing, and what was queued for it
    fails at its next attempt. The URL is checked again only when it changes: switching an endpoint off must not
    depend on its host resolving."""
    locked = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    changes_apply(locked, changes, allowed=ENDPOINT_CHANGES, what="webhook endpoint")
    record_check(locked, exclude=() if "url" in changes else ("url",))
    locked.save()
    return locked


@transaction.atomic
def webhook_endpoint_secret_rotate(*, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    """A new signing secret for ``endpoint``, in use from the next attempt on (the old one stops at once)."""
    locked = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    locked.secret = secret_generate()
    locked.save(update_fields=["secret"])
    return locked


@transaction.atomic
def webhook_test_send(*, endpoint: WebhookEndpoint, actor: str, now: datetime | None = None) -> WebhookDelivery:
    """Queue a test event for ``endpoint`` (whatever it subscribes to), delivered as every event is: signed, the
    host checked again, the attempt logged. Tried once: a failed test is shown, not retried for hours.

    Without a broker it is sent as the caller's transaction commits; with one, by the next sweep.
    """
    now = now or timezone.now()
    event_id = uuid.uuid4()
    payload = {"id": str(event_id), "type": TEST_EVENT, "created_at": now.isoformat(),
               "program": endpoint.program.slug,
               "data": {"message": "A test event: the endpoint is reachable and can check the signature.",
                        "requested_by": actor}}
    delivery = WebhookDelivery.objects.create(endpoint=endpoint, program_id=endpoint.program_id, event_id=event_id,
                                              event_type=TEST_EVENT, payload=payload, created_at=now,
                                              next_attempt_at=now)
    _schedule([delivery.pk])
    return delivery


@transaction.atomic
def webhook_delivery_replay(*, delivery: WebhookDelivery, actor: str) -> WebhookDelivery:
    """Send ``delivery``'s event again, as a new delivery (the original and its log stay as they were)."""
    replay = WebhookDelivery.objects.create(
        endpoint_id=delivery.endpoint_id, program_id=delivery.program_id, event_id=delivery.event_id,
        event_type=delivery.event_type, payload=delivery.payload, replay_of=delivery, replayed_by=actor)
    _schedule([replay.pk])
    return replay


@transaction.atomic
def webhook_member_forget(*, member) -> int:
    """Wipe what deliveries of an anonymised member's enrolment carry of the person (email, name, language,
    consent): their ``data.member`` keeps only the id and the (anonymised) card number, as every other event's
    does, so a replay sends nothing more. Other events never carried more. Answers how many were wiped.

    Found by the enrolment's event id through the index of one delivery per endpoint and event, then its replays.
    """
    event_id = event_id_for(program_id=member.program_id, type="member.enrolled", key=str(member.pk))
    endpoints = list(WebhookEndpoint.objects.filter(program_id=member.program_id).values_list("pk", flat=True))
    originals = list(WebhookDelivery.objects.filter(endpoint_id__in=endpoints, event_id=event_id,
                                                    replay_of__isnull=True).values_list("pk", flat=True))
    wiped = 0
    for delivery in WebhookDelivery.objects.filter(Q(pk__in=originals) | Q(replay_of_id__in=originals)):
        delivery.payload = {**delivery.payload, "data": {**delivery.payload.get("data", {}), "member": {
            "id": str(member.pk), "card_number": member.card_number}}}
        delivery.save(update_fields=["payload"])
        wiped += 1
    return wiped


def payload_body(payload: dict) -> bytes:
    return json.dumps(payload, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode()


def _excerpt(raw: bytes) -> str:
    """What staff see of a reply: its start, as printable text."""
    text = raw.decode(errors="replace")
    return "".join(ch if ch.isprintable() else " " for ch in text)[:EXCERPT_CHARS]


def _post(*, url: str, body: bytes, headers: dict) -> tuple[int | None, str, str]:
    """POST and answer (status code, body excerpt, error).

    The host is checked and connected to as in ``webhooks.addresses``; a redirect is an answer, not
    followed: the receiver must answer 2xx at the configured URL.
    """
    try:
        target = target_resolve(url)
    except AddressRefused as refused:
        logger.warning("webhook to %s not sent: %s", url, refused)
        return None, "", f"not sent: {refused}"
    connection = connection_open(target, timeout=TIMEOUT_SECONDS)
    try:
        connection.request("POST", target.path, body=body, headers=headers)
        response = connection.getresponse()
        excerpt = _excerpt(response.read(EXCERPT_CHARS))
    except (HTTPException, OSError) as error:  # refused, TLS, timeout, a broken reply
        return None, "", f"{type(error).__name__}: {error}"
    finally:
        connection.close()
    return response.status, excerpt, "" if 200 <= response.status < 300 else f"HTTP {response.status}"


def _attempt(delivery: WebhookDelivery, *, token: uuid.UUID, now: datetime) -> str:
    """One HTTP attempt of a claimed delivery; records it and answers the delivery's new status."""
    endpoint = delivery.endpoint
    if not endpoint.active:
        claim_finish(WebhookDelivery, pk=delivery.pk, token=token, status=WebhookDelivery.Status.FAILED,
                     last_error="endpoint is inactive")
        return WebhookDelivery.Status.FAILED
    body = payload_body(delivery.payload)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        SIGNATURE_HEADER: signature_header(secret=endpoint.secret, body=body, timestamp=int(now.timestamp())),
        "X-Loyalty-Event": delivery.event_type,
        "X-Loyalty-Event-Id": str(delivery.event_id),
        "X-Loyalty-Delivery": str(delivery.pk),
    }
    started = time.monotonic()
    what = f"webhook delivery {delivery.pk} to {endpoint.url}"
    answer, unexpected = attempt_run(lambda: _post(url=endpoint.url, body=body, headers=headers), what=what)
    code, excerpt, error = answer if unexpected is None else (None, "", unexpected)
    WebhookAttempt.objects.create(delivery=delivery, attempted_at=now, response_code=code, response_body=excerpt,
                                  error=error, duration_ms=int((time.monotonic() - started) * 1000))
    if code is None or not 200 <= code < 300:
        backoff = () if delivery.event_type == TEST_EVENT else BACKOFF
        return attempt_failed(WebhookDelivery, row=delivery, token=token, error=error, backoff=backoff, what=what,
                              response_code=code, response_body=excerpt)
    claim_finish(WebhookDelivery, pk=delivery.pk, token=token, status=WebhookDelivery.Status.SUCCEEDED,
                 delivered_at=timezone.now(), response_code=code, response_body=excerpt, last_error="")
    return WebhookDelivery.Status.SUCCEEDED


def webhook_deliver_due(*, pk: int | None = None, limit: int = 50) -> dict:
    """Claim due deliveries (or just delivery ``pk`` if it is due) and attempt each once.

    Answers counts per resulting status. Safe to run concurrently: each delivery is claimed by one worker.
    """
    counts = {"succeeded": 0, "pending": 0, "failed": 0}
    if pk is None:
        _deliverer_wake.woken()  # before claiming: a delivery committed from now on wakes another sweep
    while True:
        now = timezone.now()
        token, claimed = rows_claim(WebhookDelivery, now=now, lease=LEASE, limit=limit,
                                    only={"pk": pk} if pk is not None else None)
        for delivery in claimed:
            now = timezone.now()
            if not lease_renew(WebhookDelivery, pk=delivery.pk, token=token, now=now, lease=LEASE):
                continue  # the lease lapsed and another worker has it
            counts[_attempt(delivery, token=token, now=now)] += 1
        if pk is not None or len(claimed) < limit:
            return counts

"""Domain events become webhook deliveries for the program's integrators.

Connected in ``WebhooksConfig.ready()``. Each listener runs in the announcer's transaction: the deliveries
are written there (an action that rolls back sends nothing) and handed to workers on commit.

Webhook body::

    {"id": "<event uuid>", "type": "points.earned", "created_at": "<ISO 8601>",
     "program": "<program slug>", "data": {"member": {"id": …, "card_number": …}, …}}
"""

from __future__ import annotations

import json
from datetime import datetime

from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone

from loyalty.events import DomainEvent, event_id_for, member_data
from members.models import Member
from programs.models import Program
from tiers.events import tier_change_events

from .services import (
    WebhookEvent,
    webhook_endpoints_by_program,
    webhook_event_wanted,
    webhook_events_queue,
    webhook_member_forget,
)


def _json(value):
    """Datetimes, decimals and UUIDs as JSON has them (what the receiver gets)."""
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def _envelope(*, event_id, type: str, program: Program, data: dict, at: datetime) -> dict:
    return _json({"id": event_id, "type": type, "created_at": at, "program": program.slug, "data": data})


def _program_of(event: DomainEvent) -> Program:
    if isinstance(event.program, Program):
        return event.program
    return event.member.program if event.member is not None else Program.objects.get(pk=event.program_id)


def _delivery(event: DomainEvent, program: Program, at: datetime) -> WebhookEvent:
    return WebhookEvent(program_id=event.program_id, type=event.type, id=event.id,
                        payload=_envelope(event_id=event.id, type=event.type, program=program, data=event.data,
                                          at=at))


def domain_event_received(sender, *, event: DomainEvent, **kwargs) -> None:
    """Queue ``event`` for the program's subscribed endpoints. Costs the transaction nothing when no endpoint
    subscribes to its type (memoised), else a query for the endpoints and an insert."""
    if webhook_event_wanted(program_id=event.program_id, type=event.type):  # else not even the envelope is built
        webhook_events_queue(events=[_delivery(event, _program_of(event), timezone.now())])


def points_expired_received(sender, *, expired, run_key: str, now: datetime, **kwargs) -> int:
    """``points.expired`` for each (points account, points) pair of one expiry run or batch. Set-based: a query
    for the endpoints, one for the members, one insert. Answers the number of deliveries queued."""
    pairs = [(account, int(points)) for account, points in expired if points > 0]
    if not pairs:
        return 0
    endpoints = webhook_endpoints_by_program(program_ids={account.program_id for account, _ in pairs})
    if not any(e.wants("points.expired") for group in endpoints.values() for e in group):
        return 0
    members = Member.objects.filter(pk__in={account.member_id for account, _ in pairs}).select_related("program")
    members = {member.pk: member for member in members}
    events = []
    for account, points in pairs:
        if not endpoints.get(account.program_id):
            continue
        member = members[account.member_id]
        event_id = event_id_for(program_id=account.program_id, type="points.expired", key=f"{run_key}:{account.pk}")
        data = {"member": member_data(member, "points.expired"), "points": points, "expired_at": now}
        events.append(WebhookEvent(program_id=account.program_id, type="points.expired", id=event_id,
                                   payload=_envelope(event_id=event_id, type="points.expired", program=member.program,
                                                     data=data, at=now)))
    return webhook_events_queue(events=events, endpoints=endpoints)


def tier_changes_received(sender, *, program: Program, changes, **kwargs) -> int:
    """``tier.changed`` for each change of a batch recalculation, as a single change announces it (the same
    event id and body). Set-based: a query for the endpoints; only when one subscribes, the changes' rows and
    one insert. Answers the number of deliveries queued."""
    endpoints = webhook_endpoints_by_program(program_ids={program.pk})
    if not any(endpoint.wants("tier.changed") for endpoint in endpoints.get(program.pk, ())):
        return 0
    now = timezone.now()
    events = [_delivery(event, program, now) for event in tier_change_events(program=program, changes=changes)]
    return webhook_events_queue(events=events, endpoints=endpoints) if events else 0


def member_anonymised_received(sender, *, member, **kwargs) -> None:
    webhook_member_forget(member=member)

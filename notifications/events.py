"""Domain events leave the domain here: webhooks for the program's integrators, emails for the member.

Services call ``domain_event_publish`` inside their transaction. It writes the webhook deliveries
and the outbox row in that same transaction (an action that rolls back sends nothing) and hands
them to workers on commit. ``key`` names the occasion (``purchase:<id>``): the event id is derived
from it, so publishing the same occasion twice queues one delivery per endpoint and one email.

Webhook body::

    {"id": "<event uuid>", "type": "points.earned", "created_at": "<ISO 8601>",
     "program": "<program slug>", "data": {"member": {"id": …, "card_number": …}, …}}
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from datetime import datetime

from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone

from members.models import Member
from programs.models import Program
from tiers.models import Tier
from webhooks.services import WebhookEvent, webhook_endpoints_by_program, webhook_event_wanted, webhook_events_queue

from .models import Kind
from .services import (
    _outbox_insert,
    _outbox_values,
    _refusal,
    _schedule_sweep,
    notification_enqueue,
    notification_settings_for,
)

EVENT_NAMESPACE = uuid.UUID("7f1b3a52-7e0c-4d5e-9a53-1c1f0c2b9e41")

# The member email each event sends, if any.
EMAIL_FOR_EVENT = {
    "points.earned": Kind.POINTS_EARNED,
    "tier.changed": Kind.TIER_CHANGED,
    "reward.redeemed": Kind.REWARD_ISSUED,
}


def event_id_for(*, program_id, type: str, key: str) -> uuid.UUID:
    return uuid.uuid5(EVENT_NAMESPACE, f"{program_id}:{type}:{key}")


def _json(value):
    """Datetimes, decimals and UUIDs as JSON has them (what the receiver gets)."""
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def _member_data(member: Member, type: str) -> dict:
    data = {"id": str(member.pk), "card_number": member.card_number}
    if type == "member.enrolled":
        data.update(email=member.email, first_name=member.first_name, last_name=member.last_name,
                    language=member.language, marketing_opt_in=member.marketing_opt_in,
                    enrolled_at=member.enrolled_at)
    return data


def _email_data(type: str, data: dict) -> dict:
    if type != "points.earned":
        return data
    available_at = data.get("available_at")
    return {**data, "pending_until": available_at if available_at and available_at > timezone.now() else None}


def _envelope(*, event_id, type: str, program: Program | None, program_id, data: dict, at: datetime) -> dict:
    return _json({"id": event_id, "type": type, "created_at": at,
                  "program": program.slug if program is not None else str(program_id), "data": data})


def tier_changed_payload(*, cause: str, from_tier, to_tier) -> dict:
    """What ``tier.changed`` says besides the member (a tier is None where the member has none)."""
    return {"cause": cause, "to_tier": {"code": to_tier.code, "name": to_tier.name} if to_tier else None,
            "from_tier": {"code": from_tier.code, "name": from_tier.name} if from_tier else None}


def _event(*, program_id, type: str, key: str, payload: dict, member: Member | None) -> tuple[uuid.UUID, dict]:
    """The event id and data of one occasion: ``payload`` and the member's identifiers."""
    data = dict(payload)
    if member is not None:
        data["member"] = _member_data(member, type)
    return event_id_for(program_id=program_id, type=type, key=key), data


def _email(*, type: str, event_id: uuid.UUID, data: dict) -> tuple[str, dict, str] | None:
    """The member email an event sends, if any: its kind, what its templates are given, its dedupe key."""
    kind = EMAIL_FOR_EVENT.get(type)
    if kind is None:
        return None
    return kind, _email_data(type, data), f"{kind}:{event_id}"


def domain_event_publish(*, program, type: str, payload: dict, key: str, member: Member | None = None) -> uuid.UUID:
    """Publish one domain event (``program`` is a Program or its id); answers the event id.

    ``payload`` holds what is particular to the event; the member's identifiers are added here.
    Costs the caller's transaction one query (the program's endpoints; none when no endpoint
    subscribes) plus one insert per subscribed endpoint batch, and one more when the event emails
    the member (the insert; the program's notification settings are memoised).
    """
    program_id = getattr(program, "pk", program)

    def program_row() -> Program:  # read only when an envelope or an email needs it (voucher.used: neither)
        if isinstance(program, Program):
            return program
        return member.program if member is not None else Program.objects.get(pk=program_id)

    event_id, data = _event(program_id=program_id, type=type, key=key, payload=payload, member=member)
    if webhook_event_wanted(program_id=program_id, type=type):  # else not even the envelope is built
        envelope = _envelope(event_id=event_id, type=type, program=program_row(), program_id=program_id, data=data,
                             at=timezone.now())
        webhook_events_queue(events=[WebhookEvent(program_id=program_id, type=type, id=event_id, payload=envelope)])
    if member is not None and (email := _email(type=type, event_id=event_id, data=data)):
        kind, email_data, dedupe_key = email
        notification_enqueue(member=member, program=program_row(), kind=kind, data=email_data,
                             dedupe_key=dedupe_key)
    return event_id


def points_expired_publish(*, expired: Iterable[tuple], run_key: str, now: datetime | None = None) -> int:
    """Publish ``points.expired`` for each (points account, points) pair of one expiry run.

    For the batch-expiry job: call it inside the transaction that expires the points, with the
    accounts (``PointsAccount`` rows, or anything with ``pk``, ``member_id`` and ``program_id``)
    and how many points each lost. ``run_key`` names the run (or batch), so a rerun of the same
    run publishes nothing twice. Set-based: a query for the endpoints, one for the members, one insert.
    Answers the number of deliveries queued.
    """
    now = now or timezone.now()
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
        data = {"member": _member_data(member, "points.expired"), "points": points, "expired_at": now}
        events.append(WebhookEvent(program_id=account.program_id, type="points.expired", id=event_id,
                                   payload=_envelope(event_id=event_id, type="points.expired", program=member.program,
                                                     program_id=account.program_id, data=data, at=now)))
    return webhook_events_queue(events=events, endpoints=endpoints)


# What the batch path reads of each changed member (what events and emails say of a member), in the
# model's order, as ``Model.from_db`` takes them.
_MEMBER_COLUMNS = tuple(field.attname for field in Member._meta.concrete_fields if field.attname in {
    "id", "program_id", "card_number", "email", "first_name", "last_name", "language", "marketing_opt_in"})


def tier_changes_publish(*, program: Program, changes) -> tuple[int, int]:
    """Publish ``tier.changed`` (webhook and email) for each ``TierChange`` of ``changes``, all of ``program``.

    For the set-based recalculation: call it inside the batch's transaction, with a queryset of the
    tier history rows the batch wrote. Each change is announced exactly as ``domain_event_publish``
    announces a single change (the same event id, from the row's id, the same webhook body, the same
    email row), so a rerun, or a change already announced, is not announced twice. Set-based: a query
    for the program's endpoints and one for its email settings; only if either wants the event, one
    for the rows with their members and one for the program's tiers, then the deliveries in one
    insert and the emails in multi-row inserts of ``OUTBOX_INSERT_ROWS``, and the sender woken once.
    Answers (deliveries queued, emails written; an email already queued is kept as it was).
    """
    endpoints = webhook_endpoints_by_program(program_ids={program.pk})
    hooked = any(endpoint.wants("tier.changed") for endpoint in endpoints.get(program.pk, ()))
    program_settings = notification_settings_for(program=program)
    if not hooked and not program_settings.emails_enabled:
        return 0, 0
    rows = changes.values_list("pk", "cause", "from_tier_id", "to_tier_id",
                               *(f"member__{column}" for column in _MEMBER_COLUMNS))
    tiers = {tier.pk: tier for tier in Tier.objects.filter(program_id=program.pk)}
    now = timezone.now()
    events, outbox = [], []
    for pk, cause, from_tier_id, to_tier_id, *member_values in rows:
        # A Member with just these columns, not the whole row: a batch announces up to 50,000 changes.
        member = Member.from_db(changes.db, _MEMBER_COLUMNS, member_values)
        member.program = program
        event_id, data = _event(program_id=program.pk, type="tier.changed", key=str(pk), member=member,
                                payload=tier_changed_payload(cause=cause, from_tier=tiers.get(from_tier_id),
                                                             to_tier=tiers.get(to_tier_id)))
        if hooked:
            events.append(WebhookEvent(program_id=program.pk, type="tier.changed", id=event_id,
                                       payload=_envelope(event_id=event_id, type="tier.changed", program=program,
                                                         program_id=program.pk, data=data, at=now)))
        kind, email_data, dedupe_key = _email(type="tier.changed", event_id=event_id, data=data)
        if not _refusal(member, kind, program_settings):
            outbox.append(_outbox_values(member=member, kind=kind, data=email_data, dedupe_key=dedupe_key,
                                         program_settings=program_settings, now=now))
    deliveries = webhook_events_queue(events=events, endpoints=endpoints) if events else 0
    written = _outbox_insert(outbox)
    if written:
        _schedule_sweep()
    return deliveries, written

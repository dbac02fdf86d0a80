"""Domain events become member emails.

Connected in ``NotificationsConfig.ready()``. Each listener runs in the announcer's transaction: the
outbox row is written there (an action that rolls back sends nothing) and sent after commit. The dedupe
key derives from the event id, so an occasion announced twice emails once.
"""

from __future__ import annotations

from django.utils import timezone

from loyalty.events import DomainEvent
from programs.models import Program
from tiers.events import tier_change_events

from .models import Kind
from .services import (
    member_outbox_forget,
    notification_enqueue,
    notification_settings_for,
    outbox_insert,
    outbox_refusal,
    outbox_sweep_schedule,
    outbox_values,
)

# The member email each event sends, if any.
EMAIL_FOR_EVENT = {
    "points.earned": Kind.POINTS_EARNED,
    "tier.changed": Kind.TIER_CHANGED,
    "reward.redeemed": Kind.REWARD_ISSUED,
}


def _email(event: DomainEvent) -> tuple[str, dict, str] | None:
    """The member email an event sends, if any: its kind, what its templates are given, its dedupe key."""
    kind = EMAIL_FOR_EVENT.get(event.type)
    if kind is None or event.member is None:
        return None
    data = event.data
    if event.type == "points.earned":
        available_at = data.get("available_at")
        data = {**data, "pending_until": available_at if available_at and available_at > timezone.now() else None}
    return kind, data, f"{kind}:{event.id}"


def domain_event_received(sender, *, event: DomainEvent, **kwargs) -> None:
    """Queue the member's email for ``event``, if it sends one: one insert (the settings are memoised)."""
    if email := _email(event):
        kind, data, dedupe_key = email
        notification_enqueue(member=event.member, kind=kind, data=data, dedupe_key=dedupe_key,
                             program=event.program if isinstance(event.program, Program) else None)


def tier_changes_received(sender, *, program: Program, changes, **kwargs) -> int:
    """The ``tier.changed`` email of each change of a batch recalculation, the row a single change writes.
    Set-based: the program's settings; only when it sends emails, the changes' rows and multi-row inserts,
    and the sender woken once. Answers the emails written (one already queued is kept as it was)."""
    program_settings = notification_settings_for(program=program)
    if not program_settings.emails_enabled:
        return 0
    now = timezone.now()
    rows = []
    for event in tier_change_events(program=program, changes=changes):
        kind, data, dedupe_key = _email(event)
        if not outbox_refusal(event.member, kind, program_settings):
            rows.append(outbox_values(member=event.member, kind=kind, data=data, dedupe_key=dedupe_key,
                                      program_settings=program_settings, now=now))
    written = outbox_insert(rows)
    if written:
        outbox_sweep_schedule()
    return written


def member_anonymised_received(sender, *, member, **kwargs) -> None:
    member_outbox_forget(member=member)

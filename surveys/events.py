"""Domain events invite members to surveys: a purchase, a redemption, a tier change.

Connected in ``SurveysConfig.ready()``. A listener runs in the announcer's transaction, so the pending
invitation it queues commits or rolls back with the action; the occasion is the event's id, so an event
announced twice queues one invitation. A program without an event-triggered survey costs one memoised look-up.
"""

from __future__ import annotations

from loyalty.events import DomainEvent
from tiers.events import tier_change_events

from .models import Trigger
from .services import TRIGGERED, invitations_for_occasion, member_survey_data_forget


def _trigger(event: DomainEvent) -> str | None:
    if event.type == "points.earned":
        source = event.payload.get("source") or {}
        return Trigger.PURCHASE if source.get("type") == "purchase" else None
    if event.type == "reward.redeemed":
        return Trigger.REDEMPTION
    if event.type == "tier.changed":
        return Trigger.TIER_CHANGE
    return None


def domain_event_received(sender, *, event: DomainEvent, **kwargs) -> None:
    if event.member is None or (trigger := _trigger(event)) is None:
        return
    invitations_for_occasion(program_id=event.program_id, member=event.member, trigger=trigger,
                             occasion=str(event.id))


def tier_changes_received(sender, *, program, changes, **kwargs) -> int:
    """The invitations of a batch recalculation's tier changes, as a single change queues them; nothing read
    when the program has no survey triggered by tier changes."""
    if not any(survey.on_tier_change for survey in TRIGGERED.get(program.pk)):
        return 0
    queued = 0
    for event in tier_change_events(program=program, changes=changes):
        queued += len(invitations_for_occasion(program_id=program.pk, member=event.member,
                                               trigger=Trigger.TIER_CHANGE, occasion=str(event.id)))
    return queued


def member_anonymised_received(sender, *, member, **kwargs) -> None:
    member_survey_data_forget(member=member)

"""Domain events: what happened in a program, announced by the app that did it, heard by the apps above it.

The apps that hold the program's facts (members, ledger, tiers, earning, rewards) call ``announce`` inside
the transaction of the action; the apps that tell the outside world (webhooks for integrators,
notifications for members) listen to ``domain_event``, connecting in their ``AppConfig.ready()``. So a
lower app never imports a higher one, and what a listener queues commits or rolls back with the action.

``key`` names the occasion (``purchase:<id>``): the event id is derived from it, so announcing the same
occasion twice is one event, and a listener that queues by event id queues it once.

Events announced by batch jobs, thousands at a time, have signals of their own in the app that runs the
job (``ledger.signals``, ``tiers.signals``), so that listeners can work set-based.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from django.dispatch import Signal

EVENT_NAMESPACE = uuid.UUID("7f1b3a52-7e0c-4d5e-9a53-1c1f0c2b9e41")

# Sent with ``event``, a ``DomainEvent``.
domain_event = Signal(use_caching=True)


def event_id_for(*, program_id, type: str, key: str) -> uuid.UUID:
    return uuid.uuid5(EVENT_NAMESPACE, f"{program_id}:{type}:{key}")


def member_data(member, type: str) -> dict:
    """What an event says of its member: identifiers, and for an enrolment the member's details."""
    data = {"id": str(member.pk), "card_number": member.card_number}
    if type == "member.enrolled":
        data.update(email=member.email, first_name=member.first_name, last_name=member.last_name,
                    language=member.language, marketing_opt_in=member.marketing_opt_in,
                    enrolled_at=member.enrolled_at)
    return data


@dataclass(frozen=True)
class DomainEvent:
    """One occasion: ``program`` is a Program or its id; ``payload`` what is particular to the event."""

    program: object
    type: str
    key: str
    payload: dict
    member: object | None = None
    program_id: object = field(init=False)
    id: uuid.UUID = field(init=False)
    data: dict = field(init=False)  # the payload with the member's identifiers

    def __post_init__(self):
        program_id = getattr(self.program, "pk", self.program)
        data = dict(self.payload)
        if self.member is not None:
            data["member"] = member_data(self.member, self.type)
        object.__setattr__(self, "program_id", program_id)
        object.__setattr__(self, "id", event_id_for(program_id=program_id, type=self.type, key=self.key))
        object.__setattr__(self, "data", data)


def announce(*, program, type: str, payload: dict, key: str, member=None) -> uuid.UUID:
    """Announce one domain event to its listeners, in the caller's transaction; answers the event id."""
    event = DomainEvent(program=program, type=type, key=key, payload=payload, member=member)
    domain_event.send(sender=DomainEvent, event=event)
    return event.id

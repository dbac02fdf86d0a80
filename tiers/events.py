"""Tier changes as domain events (``tier.changed``), one at a time or a batch's thousands alike."""

from __future__ import annotations

from loyalty.events import DomainEvent
from members.models import Member

from .models import Tier


def tier_changed_payload(*, cause: str, from_tier, to_tier) -> dict:
    """What ``tier.changed`` says besides the member (a tier is None where the member has none)."""
    return {"cause": cause, "to_tier": {"code": to_tier.code, "name": to_tier.name} if to_tier else None,
            "from_tier": {"code": from_tier.code, "name": from_tier.name} if from_tier else None}


# What the batch path reads of each changed member (what events and emails say of a member), in the
# model's order, as ``Model.from_db`` takes them.
_MEMBER_COLUMNS = tuple(field.attname for field in Member._meta.concrete_fields if field.attname in {
    "id", "program_id", "card_number", "email", "first_name", "last_name", "language", "marketing_opt_in"})


def tier_change_events(*, program, changes) -> list[DomainEvent]:
    """The ``tier.changed`` event of each ``TierChange`` in ``changes`` (all of ``program``), the same event a
    single change announces: two queries (the rows with their members, the program's tiers)."""
    rows = changes.values_list("pk", "cause", "from_tier_id", "to_tier_id",
                               *(f"member__{column}" for column in _MEMBER_COLUMNS))
    tiers = {tier.pk: tier for tier in Tier.objects.filter(program_id=program.pk)}
    events = []
    for pk, cause, from_tier_id, to_tier_id, *member_values in rows:
        # A Member with just these columns, not the whole row: a batch announces up to 50,000 changes.
        member = Member.from_db(changes.db, _MEMBER_COLUMNS, member_values)
        member.program = program
        events.append(DomainEvent(program=program, type="tier.changed", key=str(pk), member=member,
                                  payload=tier_changed_payload(cause=cause, from_tier=tiers.get(from_tier_id),
                                                               to_tier=tiers.get(to_tier_id))))
    return events

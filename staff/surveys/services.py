"""Goodwill points for a follow-up case: a staff adjustment (so the program's approval threshold and the
agents' limit apply, and the audit log has it) and a note on the case, in one transaction."""

from __future__ import annotations

from django.db import transaction

from surveys.models import FollowUpCase
from surveys.services import case_update

from ..adjustments.services import adjustment_key_for_form, adjustment_request
from ..models import Adjustment, ReasonCode


@transaction.atomic
def case_goodwill_give(*, case: FollowUpCase, points: int, message: str, token: str, actor,
                       role: str | None) -> Adjustment:
    """Ask for ``points`` of goodwill for the case's member. Up to the threshold they post at once; more
    waits for another manager. A second submission of the same form (``token``) answers the first adjustment
    and adds no second note."""
    adjustment = adjustment_request(member=case.member, points=points, reason_code=ReasonCode.GOODWILL,
                                    note=message, actor=actor, role=role,
                                    idempotency_key=adjustment_key_for_form(token))
    if not adjustment.replayed:
        state = ("waiting for a second manager's approval" if adjustment.status == Adjustment.Status.PENDING
                 else "posted")
        case_update(case=case, actor=actor, note=f"Goodwill: {points:+,} points, {state}. “{message.strip()}”")
    return adjustment

"""Changing a survey's definition from the staff dashboard (``survey_create`` lives in ``surveys.services``).

A survey's code and kind are fixed once it exists: the tills name it by its code, and its answers were given on
its kind's scale, so changing either would make its past answers mean something else.
"""

from __future__ import annotations

from django.db import transaction

from loyalty.errors import DomainError

from .models import Survey
from .services import extra_questions_check

EDITABLE = (
    "name", "question_en", "question_de", "follow_up_en", "follow_up_de", "extra_questions", "active", "starts_at",
    "ends_at", "bonus_points", "on_purchase", "on_redemption", "on_tier_change", "sampling_rate", "delay_minutes",
    "cooldown_days", "invitation_days", "reply_target_business_days",
)


@transaction.atomic
def survey_update(*, survey: Survey, **changes) -> Survey:
    """Change the editable fields of ``survey`` (``EDITABLE``); anything else is refused as ``invalid``.
    The whole definition is checked before anything is saved."""
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise DomainError.invalid(unknown[0], "This cannot be changed once the survey exists.")
    survey = Survey.objects.select_for_update().get(pk=survey.pk)
    if "extra_questions" in changes:
        changes["extra_questions"] = extra_questions_check(changes["extra_questions"] or [])
    for name, value in changes.items():
        setattr(survey, name, value)
    if survey.starts_at and survey.ends_at and survey.ends_at <= survey.starts_at:
        raise DomainError.invalid("ends_at", "The survey must end after it starts.")
    survey.full_clean()
    survey.save(update_fields=list(changes))
    return survey

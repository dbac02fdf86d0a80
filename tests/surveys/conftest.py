import pytest

from surveys.services import survey_create


@pytest.fixture
def nps_survey(program):
    return survey_create(program=program, code="nps", kind="nps")


@pytest.fixture
def csat_survey(program):
    return survey_create(program=program, code="csat", kind="csat")


def sent_invitation(survey, member, *, days: int = 14, key: str = "test"):
    """An invitation as the sender leaves it: sent now, its link working for ``days``."""
    from datetime import timedelta

    from django.utils import timezone

    from surveys.models import Invitation

    now = timezone.now()
    return Invitation.objects.create(program=survey.program, survey=survey, member=member, trigger="manual",
                                     trigger_key=key, status="sent", due_at=now, sent_at=now,
                                     expires_at=now + timedelta(days=days))

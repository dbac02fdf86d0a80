"""Overdue survey follow-up cases are escalated to the program's managers: on the home page (a check), and
by email once per case (``overdue_cases_escalate``, hourly)."""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import transaction

from programs.models import Program
from surveys.services import case_escalations_take

from .models import Role

logger = logging.getLogger(__name__)


def program_managers_emails(program_id) -> list[str]:
    return list(get_user_model().objects.filter(
        is_active=True, staff_roles__program_id=program_id, staff_roles__role=Role.MANAGER).exclude(email="")
        .order_by("email").values_list("email", flat=True).distinct())


@transaction.atomic
def overdue_cases_escalate(*, now=None) -> int:
    """Email each program's managers the cases that became overdue since the last run (each case once); the
    number of cases escalated. A program without a manager with an email address is logged instead."""
    escalated = 0
    for program_id, cases in case_escalations_take(now=now).items():
        program = Program.objects.get(pk=program_id)
        recipients = program_managers_emails(program_id)
        escalated += len(cases)
        if not recipients:
            logger.error("%s overdue survey cases of %s and no manager with an email address", len(cases),
                         program.slug)
            continue
        base = settings.SITE_URL.rstrip("/")
        lines = [f"- {case.member.first_name} {case.member.last_name} ({case.response.survey.code} "
                 f"{case.response.score}), due {case.due_at:%Y-%m-%d %H:%M} UTC: {base}/staff/surveys/cases/{case.pk}/"
                 for case in cases]
        plural = "s" if len(cases) > 1 else ""
        message = ("These cases of unhappy answers have passed their reply target and nobody has resolved them yet:"
                   "\n\n" + "\n".join(lines) + f"\n\nAll overdue cases: {base}/staff/surveys/cases/?status=overdue\n")
        send_mail(subject=f"{program.name}: {len(cases)} survey follow-up case{plural} overdue", message=message,
                  from_email=None, recipient_list=recipients)
    return escalated

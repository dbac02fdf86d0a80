"""Reads of the outbox for the people who watch over it."""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Max, Min

from .models import Outbox


@dataclass(frozen=True)
class OutboxStuck:
    """A program's messages still unsent after the given time."""

    count: int
    oldest: datetime | None  # when the longest-waiting one was queued
    last_error: str  # the latest attempt's error among them, "" when none was tried yet


def outbox_stuck(*, program, queued_before: datetime) -> OutboxStuck:
    """The program's messages queued before ``queued_before`` and still waiting to be sent (pending, whether
    tried and failing or never picked up by a worker). Read through the workers' queue index
    (``outbox_due_idx``), which holds pending rows only: as small as the backlog, however big the outbox."""
    stuck = Outbox.objects.filter(status=Outbox.Status.PENDING, program=program, created_at__lt=queued_before)
    totals = stuck.aggregate(count=Count("pk"), oldest=Min("created_at"), tried=Max("attempts"))
    last_error = ""
    if totals["tried"]:
        last_error = (stuck.exclude(last_error="").order_by("-next_attempt_at", "-pk")
                      .values_list("last_error", flat=True).first() or "")
    return OutboxStuck(count=totals["count"], oldest=totals["oldest"], last_error=last_error)


def member_emails_export(*, member):
    """Every email queued for the member, oldest first, with what it said once sent, as dicts (a lazy
    queryset; ``outbox_member_kind_idx`` finds them)."""
    return (Outbox.objects.filter(member=member).order_by("created_at", "id")
            .values("created_at", "kind", "category", "status", "to", "rendered_subject", "rendered_text",
                    "sent_at"))

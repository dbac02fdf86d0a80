"""Reads of the adjustments area: the approval queue and what the member page's side column shows."""

from __future__ import annotations

from django.db.models import Count, Min, QuerySet

from rewards.models import Redemption

from ..models import Adjustment


def adjustments_waiting(*, program_ids) -> QuerySet[Adjustment]:
    """Adjustments waiting for a second person in these programs, oldest first (first asked, first decided)."""
    return (Adjustment.objects.filter(program_id__in=list(program_ids), status=Adjustment.Status.PENDING)
            .select_related("member", "program", "requested_by").order_by("requested_at", "id"))


def adjustments_waiting_summary(*, program) -> dict:
    """``{"count", "oldest"}`` of the program's adjustments waiting for approval (``adjustment_queue_idx``)."""
    return Adjustment.objects.filter(program=program, status=Adjustment.Status.PENDING).aggregate(
        count=Count("pk"), oldest=Min("requested_at"))


def adjustments_decided_recently(*, program_ids, limit: int = 10) -> list[Adjustment]:
    return list(Adjustment.objects.filter(program_id__in=list(program_ids))
                .exclude(status=Adjustment.Status.PENDING).exclude(decided_by=None)
                .select_related("member", "requested_by", "decided_by").order_by("-decided_at", "-id")[:limit])


def member_adjustments_waiting(*, member) -> list[Adjustment]:
    return list(Adjustment.objects.filter(member=member, status=Adjustment.Status.PENDING)
                .select_related("requested_by").order_by("requested_at", "id"))


def member_vouchers_open(*, member, limit: int = 20) -> list[Redemption]:
    """The member's vouchers that can still be used (and so cancelled or sent again), newest first."""
    return list(Redemption.objects.filter(member=member, status=Redemption.Status.ISSUED)
                .select_related("reward").order_by("-issued_at")[:limit])


def batch_adjustments(*, program, file_sha256: str) -> list[Adjustment]:
    return list(Adjustment.objects.filter(program=program, batch=file_sha256)
                .select_related("member", "requested_by", "decided_by").order_by("id"))

"""Reads of the surveys app: the scores of a survey over a span of time, as every report shows them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import (
    Count,
    Exists,
    OuterRef,
    Q,
)
from django.utils import timezone

from earning.models import Purchase
from loyalty.batches import member_batch
from members.models import Member
from programs.models import Program

from .models import FollowUpCase, Invitation, Kind, Response, Survey, Topic
from .scoring import NpsCounts, nps, nps_margin_of_error
from .text import frequent_terms

OPEN_CASE_STATUSES = (FollowUpCase.Status.OPEN, FollowUpCase.Status.IN_PROGRESS)


def survey_find(*, program: Program, code: str) -> Survey | None:
    """The program's survey ``code``, open or not (reports cover surveys that have ended)."""
    return Survey.objects.filter(program=program, code=code).first()


@dataclass(frozen=True)
class NpsSummary:
    survey: Survey
    counts: NpsCounts

    @property
    def responses(self) -> int:
        return self.counts.responses

    @property
    def nps(self) -> Decimal | None:
        return nps(self.counts)

    @property
    def margin_of_error(self) -> Decimal | None:
        return nps_margin_of_error(self.counts)


def nps_summary(*, survey: Survey, start_at: datetime, end_at: datetime) -> NpsSummary:
    """The answers to an NPS survey given in ``[start_at, end_at)`` (by ``answered_at``), counted by category
    in one query; every answer counts, anonymous and incentivised ones included."""
    if survey.kind != Kind.NPS:
        raise ValueError(f"{survey.code} is not an NPS survey")
    totals = Response.objects.filter(survey=survey, answered_at__gte=start_at, answered_at__lt=end_at).aggregate(
        promoters=Count("pk", filter=Q(category="promoter")), passives=Count("pk", filter=Q(category="passive")),
        detractors=Count("pk", filter=Q(category="detractor")))
    return NpsSummary(survey=survey, counts=NpsCounts(**totals))


def case_list(*, program: Program, statuses=None):
    """The program's follow-up cases, soonest due first, with what a list shows of each."""
    cases = FollowUpCase.objects.filter(program=program).select_related("member", "assignee", "response__survey")
    if statuses:
        cases = cases.filter(status__in=list(statuses))
    return cases.order_by("due_at", "pk")


def cases_overdue(*, program: Program, now: datetime | None = None):
    """Cases still open or in progress past their due date: what escalates to the program's managers."""
    return case_list(program=program, statuses=OPEN_CASE_STATUSES).filter(due_at__lt=now or timezone.now())


def campaign_members(*, program: Program, tier_code: str = "", store_code: str = "", enrolled_from=None,
                     enrolled_to=None, purchased_since=None, not_purchased_since=None):
    """The program's members in a segment, for a survey campaign: their tier, the store they joined at, their
    enrolment cohort (``enrolled_from``–``enrolled_to``, moments), and when they last bought (some purchase since
    ``purchased_since``; none since ``not_purchased_since``). Empty criteria do not narrow."""
    members = Member.objects.filter(program=program)
    if tier_code:
        members = members.filter(tier_status__tier__code=tier_code)
    if store_code:
        members = members.filter(enrolled_store__code=store_code)
    if enrolled_from is not None:
        members = members.filter(enrolled_at__gte=enrolled_from)
    if enrolled_to is not None:
        members = members.filter(enrolled_at__lt=enrolled_to)
    if purchased_since is not None:
        members = members.filter(Exists(Purchase.objects.filter(member=OuterRef("pk"),
                                                                occurred_at__gte=purchased_since)))
    if not_purchased_since is not None:
        members = members.filter(~Exists(Purchase.objects.filter(member=OuterRef("pk"),
                                                                 occurred_at__gte=not_purchased_since)))
    return members


def comment_terms(*, survey: Survey, start_at: datetime, end_at: datetime, low: int = 0, high: int = 10,
                  limit: int = 10, max_answers: int = 5000):
    """The most frequent words and phrases (``text.frequent_terms``) of the comments given to ``survey`` in
    ``[start_at, end_at)`` with a score from ``low`` to ``high`` (an NPS group: 0–6, 7–8, 9–10); the newest
    ``max_answers`` comments at most."""
    comments = (Response.objects.filter(survey=survey, answered_at__gte=start_at, answered_at__lt=end_at,
                                        score__gte=low, score__lte=high).exclude(comment="")
                .order_by("-answered_at").values_list("comment", flat=True)[:max_answers])
    return frequent_terms(comments.iterator(chunk_size=1000), limit=limit)


def topic_suggestions(*, survey: Survey, start_at: datetime, end_at: datetime, limit: int = 8) -> list[str]:
    """Topics to suggest: the most frequent two-word phrases of the survey's comments in the span (any score)
    that are not topics of the program yet. A person confirms them by tagging answers."""
    _, phrases = comment_terms(survey=survey, start_at=start_at, end_at=end_at, limit=limit * 2)
    taken = {name.lower() for name in Topic.objects.filter(program_id=survey.program_id).values_list("name", flat=True)}
    return [term.text for term in phrases if term.text not in taken][:limit]


def member_invitations_open(*, member, now: datetime | None = None, limit: int = 10) -> list[Invitation]:
    """The member's invitations still to be answered, newest first: sent, not answered, not expired, and their
    survey still taking answers."""
    now = now or timezone.now()
    rows = (Invitation.objects.filter(member=member, sent_at__isnull=False, answered_at__isnull=True)
            .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now)).select_related("survey")
            .order_by("-sent_at")[:limit])
    return [invitation for invitation in rows if invitation.survey.is_open(now)]


# --- read by analytics: at risk ---

def answer_members_between(*, program_id, start_at, end_at) -> set:
    """The ids of the members who answered a survey from ``start_at`` up to ``end_at``."""
    return set(Response.objects.filter(program_id=program_id, answered_at__gte=start_at, answered_at__lt=end_at,
                                       member__isnull=False)
               .order_by().values_list("member_id", flat=True).distinct())


def member_answer_stats(*, program_id, member_ids=None, id_range: tuple | None = None) -> list[tuple]:
    """``[(member id, answers, score of the latest NPS answer or None)]`` of the members who answered any survey
    of the program, among ``member_ids`` or with ids in ``id_range`` (``(after, up to)``, ``after`` None for the
    first)."""
    answers = Response.objects.filter(member_batch(member_ids, id_range), program_id=program_id)
    latest_nps = dict(answers.filter(survey__kind=Kind.NPS).order_by("member_id", "-answered_at", "-id")
                      .distinct("member_id").values_list("member_id", "score"))
    counts = (answers.order_by().values("member_id").annotate(answers=Count("id"))
              .values_list("member_id", "answers"))
    return [(member_id, answers, latest_nps.get(member_id)) for member_id, answers in counts]

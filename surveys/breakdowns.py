"""What the staff survey page reads: a survey's scores over a span, month by month, broken down by store, tier,
enrolment cohort and time since the last purchase, the bonus-incentivised answers apart; and the follow-up cases
as a work queue.

Every read groups answers by (group, score) in one query and scores each group with ``surveys.scoring``, so the
page, the trend and the export (``nps_summary``) count the same answers the same way, for every kind of survey.
Whether a change between two periods is more than chance is ``scoring.nps_change``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db.models import BooleanField, Case, CharField, Count, F, IntegerField, OuterRef, Q, Subquery, Value, When
from django.db.models.functions import Coalesce, TruncMonth, TruncQuarter
from django.utils import timezone

from earning.models import Purchase

from .models import FollowUpCase, Kind, Response, Survey
from .scoring import NpsCounts, ces_easy_share, ces_mean, csat, nps, nps_category, nps_margin_of_error

TOO_FEW = 30  # a group with fewer answers is shown greyed out, "too few answers", never as a number


# --- scores of a group of answers ------------------------------------------------------------------------


@dataclass
class Scores:
    """The answers of one group, by score, and the kind's figures for them."""

    kind: str
    label: str = ""
    by_score: dict[int, int] = field(default_factory=dict)
    key: object = None

    def add(self, score: int, count: int) -> None:
        self.by_score[score] = self.by_score.get(score, 0) + count

    @property
    def responses(self) -> int:
        return sum(self.by_score.values())

    @property
    def too_few(self) -> bool:
        return self.responses < TOO_FEW

    @property
    def counts(self) -> NpsCounts:
        categories = {"promoter": 0, "passive": 0, "detractor": 0}
        for score, count in self.by_score.items():
            categories[nps_category(score)] += count
        return NpsCounts(categories["promoter"], categories["passive"], categories["detractor"])

    @property
    def nps(self) -> Decimal | None:
        return nps(self.counts)

    @property
    def margin_of_error(self) -> Decimal | None:
        return nps_margin_of_error(self.counts)

    @property
    def csat(self) -> Decimal | None:
        return csat(self.by_score)

    @property
    def ces_mean(self) -> Decimal | None:
        return ces_mean(self.by_score)

    @property
    def ces_easy(self) -> Decimal | None:
        return ces_easy_share(self.by_score)

    @property
    def headline(self) -> Decimal | None:
        """The kind's one figure: NPS, CSAT % satisfied, or the CES mean."""
        return {Kind.NPS: self.nps, Kind.CSAT: self.csat, Kind.CES: self.ces_mean}[self.kind]


def _answers(survey: Survey, start_at: datetime, end_at: datetime, incentivised: bool | None = None):
    answers = Response.objects.filter(survey=survey, answered_at__gte=start_at, answered_at__lt=end_at)
    if incentivised is not None:
        answers = answers.filter(incentivised=incentivised)
    return answers


def survey_scores(*, survey: Survey, start_at: datetime, end_at: datetime,
                  incentivised: bool | None = None) -> Scores:
    """All answers in ``[start_at, end_at)`` (or only those given for a bonus, or only those without)."""
    scores = Scores(kind=survey.kind)
    rows = (_answers(survey, start_at, end_at, incentivised).values("score").annotate(n=Count("pk"))
            .order_by())
    for row in rows:
        scores.add(row["score"], row["n"])
    return scores


def _grouped(answers, key, kind: str) -> dict:
    groups: dict = {}
    for row in answers.annotate(group=key).values("group", "score").annotate(n=Count("pk")).order_by():
        groups.setdefault(row["group"], Scores(kind=kind, key=row["group"])).add(row["score"], row["n"])
    return groups


def monthly_scores(*, survey: Survey, start_at: datetime, end_at: datetime, zone: ZoneInfo) -> list[Scores]:
    """Each month (in the program's time zone) from ``start_at`` to ``end_at``, oldest first, months without
    answers included."""
    found = _grouped(_answers(survey, start_at, end_at), TruncMonth("answered_at", tzinfo=zone), survey.kind)
    months, month = [], start_at.astimezone(zone).date().replace(day=1)
    last = (end_at - timedelta(microseconds=1)).astimezone(zone).date()
    by_date = {key.date() if isinstance(key, datetime) else key: scores for key, scores in found.items()}
    while month <= last:
        scores = by_date.get(month) or Scores(kind=survey.kind)
        scores.key, scores.label = month, month.strftime("%b %Y")
        months.append(scores)
        month = (month.replace(day=28) + timedelta(days=4)).replace(day=1)
    return months


# --- breakdowns ------------------------------------------------------------------------------------------

RECENCY = [  # (key, label, at most this many days since the last purchase before the answer)
    ("0-30", "Bought within 30 days", 30),
    ("31-90", "31 to 90 days", 90),
    ("91-180", "91 to 180 days", 180),
    ("181+", "More than 180 days", None),
]
NO_PURCHASE = ("none", "No purchase before answering")


@dataclass
class Breakdown:
    key: str
    title: str
    note: str
    groups: list[Scores]


def _ordered(groups: dict, labels, empty_label: str, kind: str) -> list[Scores]:
    named = sorted((k for k in groups if k is not None), key=labels["sort"])
    result = []
    for key in named:
        scores = groups[key]
        scores.label = labels["label"](key)
        result.append(scores)
    if None in groups:
        groups[None].label = empty_label
        result.append(groups[None])
    return result


def _quarter(moment) -> str:
    return f"Q{(moment.month - 1) // 3 + 1} {moment.year}"


def survey_breakdowns(*, survey: Survey, start_at: datetime, end_at: datetime, zone: ZoneInfo,
                      cohort: str = "quarter") -> list[Breakdown]:
    """The answers of ``[start_at, end_at)`` by store, the member's tier, their enrolment cohort (month or
    quarter), the time from their last purchase to the answer, and the topics staff tagged them with; five
    grouped queries."""
    answers = _answers(survey, start_at, end_at)
    kind = survey.kind
    stores = _grouped(answers, F("store__name"), kind)
    tiers = _grouped(answers, Case(When(member__isnull=True, then=Value(None, output_field=CharField())),
                                   default=Coalesce("member__tier_status__tier__name", Value(""))), kind)
    trunc = TruncMonth if cohort == "month" else TruncQuarter
    cohorts = _grouped(answers, trunc("member__enrolled_at", tzinfo=zone), kind)
    last_purchase = Subquery(
        Purchase.objects.filter(member=OuterRef("member"), occurred_at__lte=OuterRef("answered_at"))
        .order_by("-occurred_at").values("occurred_at")[:1])
    whens = [When(Q(member__isnull=True), then=Value(None, output_field=CharField()))]
    whens.append(When(Q(last_purchase__isnull=True), then=Value(NO_PURCHASE[0])))
    for key, _label, days in RECENCY:
        if days is not None:
            whens.append(When(Q(last_purchase__gte=F("answered_at") - timedelta(days=days)), then=Value(key)))
    recency = _grouped(answers.annotate(last_purchase=last_purchase),
                       Case(*whens, default=Value(RECENCY[-1][0]), output_field=CharField()), kind)
    topics = _grouped(answers, Coalesce("topics__name", Value("")), kind)  # two topics: counted in both
    recency_labels = {key: label for key, label, _ in RECENCY} | {NO_PURCHASE[0]: NO_PURCHASE[1]}
    recency_order = [key for key, _, _ in RECENCY] + [NO_PURCHASE[0]]

    def month_or_quarter(moment) -> str:
        return moment.strftime("%b %Y") if cohort == "month" else _quarter(moment)

    return [
        Breakdown("store", "By store", "The store whose till took the answer; email and portal answers have none.",
                  _ordered(stores, {"sort": str.lower, "label": str}, "No store (email or portal)", kind)),
        Breakdown("tier", "By tier", "The member's tier today.",
                  _ordered(tiers, {"sort": lambda name: (name == "", name.lower()),
                                   "label": lambda name: name or "No tier"}, "Anonymous answers", kind)),
        Breakdown("cohort", f"By enrolment {'month' if cohort == 'month' else 'quarter'}",
                  "When the member joined the program.",
                  _ordered(cohorts, {"sort": lambda k: k, "label": month_or_quarter}, "Anonymous answers", kind)),
        Breakdown("recency", "By time since the last purchase", "From the member's last purchase to the answer.",
                  _ordered(recency, {"sort": recency_order.index, "label": recency_labels.__getitem__},
                           "Anonymous answers", kind)),
        Breakdown("topic", "By topic", "What staff tagged the answer with; an answer with two topics counts in both.",
                  _ordered(topics, {"sort": lambda name: (name == "", name.lower()),
                                    "label": lambda name: name or "No topic"}, "No topic", kind)),
    ]


# --- the follow-up cases' queue ----------------------------------------------------------------------------


def case_queue(*, program, statuses=None, assignee=None, unassigned: bool = False, now: datetime | None = None):
    """The program's follow-up cases for a work queue: overdue ones first, then the other open and in-progress
    ones, then the rest; soonest due first within each. ``overdue`` is annotated on each."""
    now = now or timezone.now()
    open_now = Q(status__in=[FollowUpCase.Status.OPEN, FollowUpCase.Status.IN_PROGRESS])
    cases = FollowUpCase.objects.filter(program=program).select_related("member", "assignee", "response__survey")
    if statuses:
        cases = cases.filter(status__in=list(statuses))
    if unassigned:
        cases = cases.filter(assignee__isnull=True)
    elif assignee is not None:
        cases = cases.filter(assignee=assignee)
    return cases.annotate(
        overdue=Case(When(open_now & Q(due_at__lt=now), then=Value(True)), default=Value(False),
                     output_field=BooleanField()),
        rank=Case(When(open_now & Q(due_at__lt=now), then=Value(0)), When(open_now, then=Value(1)),
                  default=Value(2), output_field=IntegerField()),
    ).order_by("rank", "due_at", "pk")

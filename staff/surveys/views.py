"""Surveys in the staff dashboard: the scores of each survey over a range of dates (``/staff/surveys/``), and the
follow-up cases of unhappy answers (``/staff/cases/``), worked through ``surveys.services.case_update``."""

from __future__ import annotations

from datetime import date, timedelta

from django.contrib import messages
from django.db import transaction
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_safe

from loyalty.errors import DomainError
from surveys.models import FollowUpCase, Kind, Survey
from surveys.scoring import ces_easy_share, ces_mean, csat, nps, nps_change, nps_margin_of_error
from surveys.selectors import (
    BREAKDOWNS,
    OPEN_CASE_STATUSES,
    case_list,
    cases_overdue,
    comment_terms,
    incentivised_count,
    nps_breakdown,
    nps_summary,
    score_counts,
    topic_suggestions,
)
from surveys.services import case_update, response_topics_set

from ..access import staff_object, staff_view
from ..data.reports import RangeForm, day_bounds, local_today
from ..services import audit_record
from .forms import CaseFilterForm, CaseForm, TopicsForm

FEW_ANSWERS = 30  # a score from fewer answers is shown greyed: its margin is too wide to read much into
TREND_MONTHS = 6
CASE_PAGE = 200


def _months_back(last: date, months: int) -> list[tuple[date, date]]:
    """The ``months`` calendar months up to the one of ``last`` (the last one up to ``last``), oldest first."""
    spans, first = [], last.replace(day=1)
    for _ in range(months):
        end = min(last, (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1))
        spans.append((first, end))
        first = (first - timedelta(days=1)).replace(day=1)
    return list(reversed(spans))


def _survey_row(program, survey: Survey, start: date, end: date) -> dict:
    start_at, end_at = day_bounds(program, start, end)
    row = {"survey": survey, "incentivised": incentivised_count(survey=survey, start_at=start_at, end_at=end_at)}
    if survey.kind == Kind.NPS:
        summary = nps_summary(survey=survey, start_at=start_at, end_at=end_at)
        row.update(nps=summary, responses=summary.responses)
        trend = []
        for month_start, month_end in _months_back(end, TREND_MONTHS):
            bounds = day_bounds(program, month_start, month_end)
            trend.append((month_start, nps_summary(survey=survey, start_at=bounds[0], end_at=bounds[1])))
        row["trend"] = trend
        row["chart_id"] = f"trend-{survey.code}"
        row["chart"] = {
            "labels": [month.strftime("%b %Y") for month, _ in trend],
            "nps": [float(m.nps) if m.nps is not None else None for _, m in trend],
            "low": [float(m.nps - m.margin_of_error) if m.nps is not None else None for _, m in trend],
            "high": [float(m.nps + m.margin_of_error) if m.nps is not None else None for _, m in trend],
        }
        # the same number of days just before: did the score move, beyond what chance explains?
        days = (end - start).days + 1
        before = day_bounds(program, start - timedelta(days=days), start - timedelta(days=1))
        earlier = nps_summary(survey=survey, start_at=before[0], end_at=before[1])
        row["previous"] = {"start": start - timedelta(days=days), "end": start - timedelta(days=1),
                           "summary": earlier, "change": nps_change(earlier.counts, summary.counts)}
        row["breakdowns"] = [
            (label, [{"group": group, "responses": counts.responses, "nps": nps(counts),
                      "margin": nps_margin_of_error(counts), "few": counts.responses < FEW_ANSWERS}
                     for group, counts in nps_breakdown(survey=survey, start_at=start_at, end_at=end_at, by=by)])
            for by, label in BREAKDOWNS.items()]
        row["detractor_terms"], row["detractor_phrases"] = comment_terms(
            survey=survey, start_at=start_at, end_at=end_at, low=0, high=6, limit=5)
        row["promoter_terms"], row["promoter_phrases"] = comment_terms(
            survey=survey, start_at=start_at, end_at=end_at, low=9, high=10, limit=5)
    else:
        counts = score_counts(survey=survey, start_at=start_at, end_at=end_at)
        row["responses"] = sum(counts.values())
        if survey.kind == Kind.CSAT:
            row["csat"] = csat(counts)
        else:
            row.update(ces_mean=ces_mean(counts), ces_easy=ces_easy_share(counts))
    row["few"] = row["responses"] < FEW_ANSWERS
    return row


@require_safe
@staff_view("report.view")
def survey_scores(request):
    program = request.staff.program
    asked = "start" in request.GET or "end" in request.GET
    today = local_today(program)
    form = RangeForm(request.GET if asked else {"start": today.replace(day=1).isoformat(), "end": today.isoformat()})
    context = {"form": form, "zone": program.time_zone or "UTC", "few": FEW_ANSWERS,
               "may_export": request.staff.may("export.download")}
    if form.is_valid():
        start, end = form.cleaned_data["start"], form.cleaned_data["end"]
        context.update(start=start, end=end, rows=[_survey_row(program, survey, start, end) for survey in
                                                   Survey.objects.filter(program=program).order_by("code")],
                       query=f"program={program.slug}&start={start}&end={end}")
    return render(request, "staff/surveys/scores.html", context, status=200 if form.is_valid() else 400)


@require_safe
@staff_view("case.view")
def cases(request):
    program = request.staff.program
    form = CaseFilterForm(request.GET or None)
    shown = form.cleaned_data["status"] if form.is_valid() and form.cleaned_data["status"] else "active"
    if shown == "overdue":
        found = cases_overdue(program=program)
    elif shown == "active":
        found = case_list(program=program, statuses=OPEN_CASE_STATUSES)
    elif shown == "all":
        found = case_list(program=program)
    else:
        found = case_list(program=program, statuses=[shown])
    now = timezone.now()
    listed = list(found[:CASE_PAGE + 1])
    for case in listed:
        case.overdue = case.status in OPEN_CASE_STATUSES and case.due_at < now
    return render(request, "staff/surveys/cases.html", {
        "form": form, "cases": listed[:CASE_PAGE], "shown": shown, "more": len(listed) > CASE_PAGE,
        "overdue_count": cases_overdue(program=program).count()})


TOPIC_SUGGESTION_DAYS = 90


def _case_render(request, case, form, *, topics_form=None, status: int = 200):
    now = timezone.now()
    response = case.response
    topics_form = topics_form or TopicsForm(initial={"topics": ", ".join(t.name for t in response.topics.all())})
    return render(request, "staff/surveys/case.html", {
        "case": case, "form": form, "response": response, "changes": case.changes.select_related("actor"),
        "overdue": case.status in OPEN_CASE_STATUSES and case.due_at < now, "topics_form": topics_form,
        "suggestions": topic_suggestions(survey=response.survey, start_at=now - timedelta(days=TOPIC_SUGGESTION_DAYS),
                                         end_at=now),
        "may_work": request.staff.may("case.work")}, status=status)


@require_http_methods(["GET", "HEAD", "POST"])
@staff_view("case.view", record=True)
def case_detail(request, pk):
    case = staff_object(request, FollowUpCase.objects.select_related(
        "member", "assignee", "response__survey", "response__store"), "case.view", pk=pk)
    if request.method != "POST":
        return _case_render(request, case, CaseForm(case=case))
    request.staff.require("case.work")
    form = CaseForm(request.POST, case=case)
    if not form.is_valid():
        return _case_render(request, case, form, status=400)
    data = form.cleaned_data
    before = {"status": case.status, "assignee": case.assignee.get_username() if case.assignee else "",
              "root_cause": case.root_cause}
    try:
        with transaction.atomic():
            updated = case_update(case=case, actor=request.user, status=data["status"], assignee=data["assignee"],
                                  note=data["note"], root_cause=data["root_cause"], ask_member=data["ask_member"],
                                  seen_changes=data["seen_changes"])
            after = {"status": updated.status, "assignee": updated.assignee.get_username() if updated.assignee
                     else "", "root_cause": updated.root_cause}
            audit_record(actor=request.user, action="case.update", program=request.staff.program, target=updated,
                         target_label=f"Case of {updated.member.first_name} {updated.member.last_name}".strip(),
                         before=before, after=after, reason=data["note"])
    except DomainError as error:
        if error.code == "invalid" and error.errors:
            form.add_error(error.errors[0]["field"] if error.errors[0]["field"] in form.fields else None,
                           error.errors[0]["message"])
        else:
            form.add_error(None, error.detail)
        return _case_render(request, case, form, status=409 if error.code == "case_changed" else 400)
    messages.success(request, f"Case saved: {updated.get_status_display().lower()}.")
    return HttpResponseRedirect(reverse("staff:case", kwargs={"pk": updated.pk}))


@require_http_methods(["POST"])
@staff_view("case.work", record=True)
def case_topics(request, pk):
    """Tag the case's answer with topics (a person confirms what the phrases suggest)."""
    case = staff_object(request, FollowUpCase.objects.select_related("member", "assignee", "response__survey",
                                                                     "response__store"), "case.work", pk=pk)
    form = TopicsForm(request.POST)
    if form.is_valid():
        before = sorted(t.name for t in case.response.topics.all())
        try:
            with transaction.atomic():
                topics = response_topics_set(response=case.response, names=form.names())
                audit_record(actor=request.user, action="survey.topics", program=request.staff.program,
                             target=case.response, target_label=f"Answer {case.response.survey.code} "
                             f"{case.response.score}", before={"topics": before},
                             after={"topics": sorted(t.name for t in topics)})
        except DomainError as error:
            form.add_error("topics", error.errors[0]["message"] if error.errors else error.detail)
        else:
            messages.success(request, "Topics saved.")
            return HttpResponseRedirect(reverse("staff:case", kwargs={"pk": case.pk}))
    return _case_render(request, case, CaseForm(case=case), topics_form=form, status=400)

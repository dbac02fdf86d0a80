"""The survey pages: the list, one survey's scores (trend, breakdowns, the change from the period before, the
bonus-incentivised answers apart), and the definition form managers create and change surveys with."""

from __future__ import annotations

from datetime import date, timedelta

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count, Max
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_safe

from loyalty.errors import DomainError
from surveys.breakdowns import (
    TOO_FEW,
    monthly_scores,
    survey_breakdowns,
    survey_scores,
)
from surveys.definitions import survey_update
from surveys.models import Kind, Survey
from surveys.scoring import nps_change
from surveys.selectors import comment_terms
from surveys.services import survey_create

from ..access import staff_object, staff_view
from ..data.reports import day_bounds, local_today, program_zone
from .forms import SurveyForm, SurveyRangeForm

DEFAULT_DAYS = 90
TREND_MONTHS = 12


def survey_url(survey: Survey) -> str:
    return f"/staff/surveys/{survey.pk}/"


@require_safe
@staff_view("survey.view")
def survey_list(request):
    program = request.staff.program
    surveys = (Survey.objects.filter(program=program).annotate(answers=Count("responses"),
                                                               last_answer=Max("responses__answered_at"))
               .order_by("-active", "code"))
    return render(request, "staff/surveys/list.html", {
        "surveys": surveys, "may_change": request.staff.may("survey.change"), "now": timezone.now()})


def _default_range(program) -> dict:
    today = local_today(program)
    return {"start": (today - timedelta(days=DEFAULT_DAYS - 1)).isoformat(), "end": today.isoformat(),
            "cohort": "quarter"}


def _months_back(end: date, months: int) -> date:
    index = end.year * 12 + end.month - 1 - (months - 1)
    return date(index // 12, index % 12 + 1, 1)


def _chart(survey, months) -> dict:
    """What the trend chart draws: each month's headline figure and, for NPS, its margin (blank: no answers)."""
    return {"kind": survey.kind, "labels": [m.label for m in months],
            "values": [None if m.headline is None else float(m.headline) for m in months],
            "margins": [None if survey.kind != Kind.NPS or m.margin_of_error is None else float(m.margin_of_error)
                        for m in months],
            "responses": [m.responses for m in months]}


@require_safe
@staff_view("survey.view", record=True)
def survey_page(request, survey_id):
    survey = staff_object(request, Survey.objects.select_related("program"), "survey.view", pk=survey_id)
    program = survey.program
    asked = any(name in request.GET for name in ("start", "end", "cohort"))
    form = SurveyRangeForm(request.GET if asked else _default_range(program))
    context = {"survey": survey, "form": form, "zone": program.time_zone or "UTC", "too_few": TOO_FEW,
               "may_change": request.staff.may("survey.change"), "may_export": request.staff.may("export.download"),
               "is_nps": survey.kind == Kind.NPS,
               "range_note": f"Answers count on the date they were given, in the program's time zone "
                             f"({program.zone}); both dates are included."}
    if not form.is_valid():
        return render(request, "staff/surveys/survey.html", context, status=400)
    start, end = form.cleaned_data["start"], form.cleaned_data["end"]
    cohort = form.cleaned_data.get("cohort") or "quarter"
    zone = program_zone(program)
    start_at, end_at = day_bounds(program, start, end)
    days = (end - start).days + 1
    previous_start, previous_end = start - timedelta(days=days), start - timedelta(days=1)
    previous_at = day_bounds(program, previous_start, previous_end)
    current = survey_scores(survey=survey, start_at=start_at, end_at=end_at)
    previous = survey_scores(survey=survey, start_at=previous_at[0], end_at=previous_at[1])
    trend_from = day_bounds(program, _months_back(end, TREND_MONTHS), end)
    months = monthly_scores(survey=survey, start_at=trend_from[0], end_at=trend_from[1], zone=zone)
    context.update(
        start=start, end=end, current=current, previous=previous, previous_start=previous_start,
        previous_end=previous_end, months=months, chart=_chart(survey, months),
        breakdowns=survey_breakdowns(survey=survey, start_at=start_at, end_at=end_at, zone=zone, cohort=cohort),
        with_bonus=survey_scores(survey=survey, start_at=start_at, end_at=end_at, incentivised=True),
        without_bonus=survey_scores(survey=survey, start_at=start_at, end_at=end_at, incentivised=False),
        query=f"program={program.slug}&survey={survey.code}&start={start}&end={end}",
    )
    if survey.kind == Kind.NPS:
        context["comparison"] = nps_change(previous.counts, current.counts)
        # what the detractors and the promoters talk about: their comments' most frequent words and phrases
        context["talk"] = [
            (label, *comment_terms(survey=survey, start_at=start_at, end_at=end_at, low=low, high=high, limit=8))
            for label, low, high in (("Detractors (0–6)", 0, 6), ("Promoters (9–10)", 9, 10))]
    return render(request, "staff/surveys/survey.html", context)


def _place_errors(form, error) -> None:
    """A service's refusal (``DomainError``) or the model's (``ValidationError``) beside its field."""
    if isinstance(error, DomainError):
        items = [(item["field"], item["message"]) for item in error.errors or []] or [(None, error.detail)]
    else:
        items = [(name, " ".join(messages_)) for name, messages_ in error.message_dict.items()]
    for name, message in items:
        if name == "sampling_rate":
            name = "sampling_percent"
        form.add_error(name if name in form.fields else None, message)


def _definition_page(request, form, survey, status=200):
    return render(request, "staff/surveys/form.html", {"form": form, "survey": survey,
                                                      "zone": request.staff.program.time_zone or "UTC"},
                  status=status)


@require_http_methods(["GET", "HEAD", "POST"])
@staff_view("survey.change")
def survey_new(request):
    program = request.staff.program
    with timezone.override(program_zone(program)):
        if request.method != "POST":
            return _definition_page(request, SurveyForm(initial=SurveyForm.initial_for(None)), None)
        form = SurveyForm(request.POST)
        if form.is_valid():
            try:
                survey = survey_create(program=program, code=form.cleaned_data["code"],
                                       kind=form.cleaned_data["kind"], **form.definition())
            except (DomainError, ValidationError) as error:
                _place_errors(form, error)
            else:
                messages.success(request, f"Survey {survey.code} created.")
                return HttpResponseRedirect(survey_url(survey))
        return _definition_page(request, form, None, status=400)


@require_http_methods(["GET", "HEAD", "POST"])
@staff_view("survey.change", record=True)
def survey_edit(request, survey_id):
    survey = staff_object(request, Survey.objects.select_related("program"), "survey.change", pk=survey_id)
    with timezone.override(program_zone(survey.program)):
        if request.method != "POST":
            return _definition_page(request, SurveyForm(initial=SurveyForm.initial_for(survey), survey=survey),
                                    survey)
        form = SurveyForm(request.POST, survey=survey)
        if form.is_valid():
            try:
                survey = survey_update(survey=survey, **form.definition())
            except (DomainError, ValidationError) as error:
                _place_errors(form, error)
            else:
                messages.success(request, f"Survey {survey.code} saved.")
                return HttpResponseRedirect(survey_url(survey))
        return _definition_page(request, form, survey, status=400)

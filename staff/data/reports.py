"""Reports at /staff/reports/: what the program owes in points, and how it moved, for a range of local dates.

Every figure comes from the ledger's entries, counted on the local date (in the program's time zone) they
were booked: whatever date a purchase behind an entry carries, the points were owed from its booking on.
So the report for a range always adds up, ``opening + earned − reversed − redeemed + refunded − expired +
adjusted = closing``, and a closing date of today equals what the members hold (available, negative while a
return's debt is open, plus pending): the cached balances the POS API answers are sums of the same entries.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from django import forms
from django.http import HttpResponseBadRequest, HttpResponseNotFound
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_safe

from analytics.months import month_add
from ledger.models import Kind
from ledger.selectors import liability_by_day, liability_totals, points_expiring_by_month
from loyalty.replica import reads_from_replica
from programs.models import Program
from surveys.models import Kind as SurveyKind
from surveys.selectors import NpsSummary, nps_summary, survey_find

from ..access import staff_view
from .csvfiles import csv_response

EARLIEST = date(1970, 1, 1)
LATEST = date(2999, 12, 31)
MAX_DAYS = 3_660  # ten years of days: what one report (and its daily CSV) covers
DAILY_UP_TO = 92  # longer ranges are shown on screen by month
EXPIRY_MONTHS = 12
CENT = Decimal("0.01")
LIABILITY_COLUMNS = [
    "program", "currency", "start", "end", "opening_points", "earned_points", "reversed_points", "redeemed_points",
    "refunded_points", "expired_points", "adjusted_points", "closing_points", "value_per_point", "closing_value",
]
NPS_COLUMNS = ["survey", "responses", "promoters", "passives", "detractors", "nps", "margin_of_error"]
MOVEMENT_COLUMNS = ["earned", "reversed", "redeemed", "refunded", "expired", "adjusted"]


def program_zone(program: Program) -> ZoneInfo:
    return program.zone


def local_today(program: Program) -> date:
    return timezone.now().astimezone(program_zone(program)).date()


def day_bounds(program: Program, start: date, end: date) -> tuple[datetime, datetime]:
    """The moments a range of the program's local dates begins and ends (the end is the next day's midnight)."""
    zone = program_zone(program)
    return datetime.combine(start, time(0), zone), datetime.combine(end + timedelta(days=1), time(0), zone)


def money(points: int, value_per_point: Decimal) -> Decimal:
    return (Decimal(points) * value_per_point).quantize(CENT, rounding=ROUND_HALF_UP)


def plain_decimal(value: Decimal) -> str:
    """0.010000 → "0.01", 1.000000 → "1": the rate as a person writes it."""
    return format(value.normalize(), "f")


@dataclass(frozen=True)
class Movements:
    """Points booked in a span, as the contract counts them: non-negative counts, ``adjusted`` signed."""

    earned: int = 0
    reversed: int = 0
    redeemed: int = 0
    refunded: int = 0
    expired: int = 0
    adjusted: int = 0

    @classmethod
    def of_kinds(cls, signed: dict) -> Movements:
        """From signed sums per ledger kind."""
        return cls(earned=signed.get(Kind.EARN, 0) + signed.get(Kind.BONUS, 0), reversed=-signed.get(Kind.RETURN, 0),
                   redeemed=-signed.get(Kind.REDEEM, 0), refunded=signed.get(Kind.REFUND, 0),
                   expired=-signed.get(Kind.EXPIRE, 0), adjusted=signed.get(Kind.ADJUST, 0))

    @property
    def net(self) -> int:
        return self.earned - self.reversed - self.redeemed + self.refunded - self.expired + self.adjusted

    def __add__(self, other: Movements) -> Movements:
        return Movements(*(getattr(self, name) + getattr(other, name) for name in MOVEMENT_COLUMNS))


@dataclass(frozen=True)
class Liability:
    program: Program
    start: date
    end: date
    opening: int
    movements: Movements
    closing: int

    @property
    def value_per_point(self) -> Decimal:
        return self.program.value_per_point

    @property
    def opening_value(self) -> Decimal:
        return money(self.opening, self.value_per_point)

    @property
    def closing_value(self) -> Decimal:
        return money(self.closing, self.value_per_point)

    @property
    def change(self) -> int:
        return self.closing - self.opening

    def csv_row(self) -> list:
        m = self.movements
        return [self.program.slug, self.program.currency, self.start, self.end, self.opening, m.earned, m.reversed,
                m.redeemed, m.refunded, m.expired, m.adjusted, self.closing, plain_decimal(self.value_per_point),
                self.closing_value]


def liability_report(*, program: Program, start: date, end: date) -> Liability:
    start_at, end_at = day_bounds(program, start, end)
    totals = liability_totals(program_id=program.pk, start_at=start_at, end_at=end_at)
    movements = Movements.of_kinds({Kind.EARN: totals["earned"], Kind.RETURN: totals["returned"],
                                    Kind.REDEEM: totals["redeemed"], Kind.REFUND: totals["refunded"],
                                    Kind.EXPIRE: totals["expired"], Kind.ADJUST: totals["adjusted"]})
    return Liability(program=program, start=start, end=end, opening=totals["opening"], movements=movements,
                     closing=totals["closing"])


@dataclass(frozen=True)
class Span:
    """One day (or month) of the report: its balance before, what moved, its balance after."""

    start: date
    end: date
    opening: int
    movements: Movements

    @property
    def closing(self) -> int:
        return self.opening + self.movements.net


def liability_days(report: Liability) -> list[Span]:
    """Every local date of the report, oldest first, each opening with the one before's closing."""
    start_at, end_at = day_bounds(report.program, report.start, report.end)
    booked = liability_by_day(program_id=report.program.pk, start_at=start_at, end_at=end_at,
                              zone=program_zone(report.program))
    spans, balance, day = [], report.opening, report.start
    while day <= report.end:
        span = Span(start=day, end=day, opening=balance, movements=Movements.of_kinds(booked.get(day, {})))
        spans.append(span)
        balance, day = span.closing, day + timedelta(days=1)
    return spans


def by_month(days: list[Span]) -> list[Span]:
    months: list[Span] = []
    for span in days:
        if months and (months[-1].start.year, months[-1].start.month) == (span.start.year, span.start.month):
            last = months[-1]
            months[-1] = Span(start=last.start, end=span.end, opening=last.opening,
                              movements=last.movements + span.movements)
        else:
            months.append(span)
    return months


def expiry_outlook(*, program: Program) -> list[dict]:
    """The points that expire in each of the next months, if nobody spends them first."""
    zone = program_zone(program)
    now = timezone.now()
    today = now.astimezone(zone).date()
    first = today.replace(day=1)
    until_month = month_add(first, EXPIRY_MONTHS)
    until = datetime.combine(until_month, time(0), zone)
    rows = points_expiring_by_month(program_id=program.pk, after=now, until=until, zone=zone)
    found = {month.date() if isinstance(month, datetime) else month: (points, accounts)
             for month, points, accounts in rows}
    outlook, month = [], first
    while month < until_month:
        points, accounts = found.get(month, (0, 0))
        outlook.append({"month": month, "points": points, "members": accounts,
                        "value": money(points, program.value_per_point)})
        month = month_add(month, 1)
    return outlook


# --- the date range, from a form or a query string -------------------------------------------------


class IsoDateField(forms.DateField):
    """A date written exactly YYYY-MM-DD (as the date picker and the contract's query strings write it)."""

    widget = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    input_formats = ["%Y-%m-%d"]
    default_error_messages = {"invalid": "Give a date as YYYY-MM-DD."}

    def to_python(self, value):
        if isinstance(value, str) and value.strip() and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return super().to_python(value)


class RangeForm(forms.Form):
    start = IsoDateField(label="From", error_messages={"required": "Give the first date."})
    end = IsoDateField(label="To", error_messages={"required": "Give the last date."})

    def _in_range(self, name: str) -> date:
        value = self.cleaned_data[name]
        if not EARLIEST <= value <= LATEST:
            raise forms.ValidationError(f"Give a date from {EARLIEST:%Y} to {LATEST:%Y}.")
        return value

    def clean_start(self):
        return self._in_range("start")

    def clean_end(self):
        return self._in_range("end")

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end:
            if end < start:
                self.add_error("end", "The last date comes before the first.")
            elif (end - start).days >= MAX_DAYS:
                self.add_error("end", f"A report covers at most {MAX_DAYS:,} days; choose a shorter range.")
        return data


def query_refusal(form: RangeForm) -> HttpResponseBadRequest:
    """A query string's bad values, in words (an export is fetched by scripts as often as by people)."""
    lines = [f"{name}: {' '.join(errors)}" for name, errors in form.errors.items()]
    return HttpResponseBadRequest("\n".join(lines) + "\n", content_type="text/plain; charset=utf-8")


def range_from_query(request) -> tuple[date, date] | HttpResponseBadRequest:
    """``start`` and ``end`` of an export's query string, or the 400 that says what is wrong with them."""
    if "program" not in request.GET:
        return HttpResponseBadRequest("program: Name the program by its slug, e.g. ?program=coffee.\n",
                                      content_type="text/plain; charset=utf-8")
    form = RangeForm(request.GET)
    if not form.is_valid():
        return query_refusal(form)
    return form.cleaned_data["start"], form.cleaned_data["end"]


def _default_range(program: Program) -> dict:
    today = local_today(program)
    return {"start": today.replace(day=1).isoformat(), "end": today.isoformat()}


# --- pages and files -----------------------------------------------------------------------------


@require_safe
@staff_view("report.view")
@reads_from_replica
def report_page(request):
    program = request.staff.program
    asked = "start" in request.GET or "end" in request.GET
    form = RangeForm(request.GET if asked else _default_range(program))
    context = {"form": form, "zone": program.time_zone or "UTC", "today": local_today(program),
               "expiry": expiry_outlook(program=program), "may_export": request.staff.may("export.download")}
    if form.is_valid():
        report = liability_report(program=program, start=form.cleaned_data["start"], end=form.cleaned_data["end"])
        days = liability_days(report)
        spans = days if len(days) <= DAILY_UP_TO else by_month(days)
        context.update(report=report, spans=list(reversed(spans)), monthly=len(days) > DAILY_UP_TO,
                       query=f"program={program.slug}&start={report.start}&end={report.end}",
                       chart={"labels": [d.start.isoformat() for d in days], "closing": [d.closing for d in days]})
    context["expiry_total"] = sum(row["points"] for row in context["expiry"])
    return render(request, "staff/data/reports.html", context, status=200 if form.is_valid() else 400)


def _report_asked(request) -> Liability | HttpResponseBadRequest:
    """The liability report a query string asks for, or the 400 that says what is wrong with it."""
    asked = range_from_query(request)
    if isinstance(asked, HttpResponseBadRequest):
        return asked
    return liability_report(program=request.staff.program, start=asked[0], end=asked[1])


@require_safe
@staff_view("export.download")
@reads_from_replica
def liability_csv(request):
    report = _report_asked(request)
    if not isinstance(report, Liability):
        return report
    return csv_response(f"liability-{report.program.slug}-{report.start}-{report.end}.csv", LIABILITY_COLUMNS,
                        [report.csv_row()])


@require_safe
@staff_view("export.download")
@reads_from_replica
def liability_daily_csv(request):
    report = _report_asked(request)
    if not isinstance(report, Liability):
        return report
    columns = ["date", "opening_points", *(f"{name}_points" for name in MOVEMENT_COLUMNS), "closing_points",
               "closing_value"]
    rows = ([span.start, span.opening, *(getattr(span.movements, name) for name in MOVEMENT_COLUMNS), span.closing,
             money(span.closing, report.value_per_point)] for span in liability_days(report))
    return csv_response(f"liability-daily-{report.program.slug}-{report.start}-{report.end}.csv", columns, rows)


@require_safe
@staff_view("export.download")
@reads_from_replica
def expiry_csv(request):
    program = request.staff.program
    rows = ([row["month"].strftime("%Y-%m"), row["points"], row["members"], row["value"]]
            for row in expiry_outlook(program=program))
    return csv_response(f"expiry-{program.slug}.csv", ["month", "expiring_points", "members", "value"], rows)


def _plain_text(response_class, text: str):
    return response_class(text + "\n", content_type="text/plain; charset=utf-8")


def nps_report(*, program: Program, survey, start: date, end: date) -> NpsSummary:
    """The NPS of ``survey`` over a range of the program's local dates, both ends included (an answer counts on
    the local date of ``answered_at``)."""
    start_at, end_at = day_bounds(program, start, end)
    return nps_summary(survey=survey, start_at=start_at, end_at=end_at)


@require_safe
@staff_view("export.download")
def nps_csv(request):
    """``/staff/reports/nps.csv?program=&survey=&start=&end=``: one row, as ``web.md`` has it; ``nps`` and
    ``margin_of_error`` (adjusted-Wald, see the staff guide) empty when there are no answers."""
    asked = range_from_query(request)
    if isinstance(asked, HttpResponseBadRequest):
        return asked
    program, code = request.staff.program, request.GET.get("survey", "").strip()
    if not code:
        return _plain_text(HttpResponseBadRequest, "survey: Name the survey by its code, e.g. &survey=nps.")
    # A code is a slug: anything else names no survey (and text with NUL could not even be asked for).
    survey = survey_find(program=program, code=code) if re.fullmatch(r"[-a-zA-Z0-9_]{1,32}", code) else None
    if survey is None:
        return _plain_text(HttpResponseNotFound, f"survey: {program.name} has no survey {code[:32]!r}.")
    if survey.kind != SurveyKind.NPS:
        return _plain_text(HttpResponseBadRequest, f"survey: {survey.code} is a {survey.kind.upper()} survey, "
                                                   "not an NPS survey.")
    report = nps_report(program=program, survey=survey, start=asked[0], end=asked[1])
    counts = report.counts
    row = [survey.code, counts.responses, counts.promoters, counts.passives, counts.detractors, report.nps,
           report.margin_of_error]  # None (no answers) is written empty
    return csv_response(f"nps-{program.slug}-{survey.code}-{asked[0]}-{asked[1]}.csv", NPS_COLUMNS, [row])

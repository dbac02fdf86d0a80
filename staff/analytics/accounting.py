"""/staff/analytics/points/: the points the program owes, how they moved, what they are worth, the part expected
never to be redeemed (breakage), and the revenue they defer.

Every figure reads the rollups (``analytics.selectors``, ``analytics.breakage``), never the ledger itself; the
check line asks the ledger for two small figures only (the sum of the accounts' balances and its latest booking).
The roll-forward CSV has the columns and the figures of ``/staff/reports/liability.csv`` for the same range.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from fractions import Fraction

from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_safe

from analytics.breakage import (
    Book,
    breakage_book,
    deferred_revenue,
    estimate_history,
    ledger_check,
    money,
)
from analytics.months import month_end
from analytics.selectors import RollForward, points_roll_forward, points_roll_forward_days, rollup_latest
from loyalty.replica import reads_from_replica

from ..access import staff_view
from ..data.reports import (
    DAILY_UP_TO,
    LIABILITY_COLUMNS,
    MOVEMENT_COLUMNS,
    Liability,
    Movements,
    RangeForm,
    Span,
    by_month,
    local_today,
    plain_decimal,
    query_refusal,
)
from .common import CsvTables, chart

TRIANGLE_MONTHS = 24  # issue months on screen (the CSV has them all)
CURVES = 6  # issue months drawn as redemption curves


def _default_range(program) -> dict:
    today = local_today(program)
    return {"start": today.replace(day=1).isoformat(), "end": today.isoformat()}


def range_form(request, program) -> RangeForm:
    asked = "start" in request.GET or "end" in request.GET
    return RangeForm(request.GET if asked else _default_range(program))


def movements_of(rolled: RollForward) -> Movements:
    """The rollups' roll-forward movements as the liability report counts them."""
    return Movements(**{name: getattr(rolled, name) for name in MOVEMENT_COLUMNS})


def liability_of(program, rolled: RollForward) -> Liability:
    """The roll-forward as the liability report writes it (the same CSV row)."""
    movements = movements_of(rolled)
    return Liability(program=program, start=rolled.first, end=rolled.last, opening=rolled.opening,
                     movements=movements, closing=rolled.closing)


def percent(value: Fraction | Decimal | None, places: int = 1) -> str:
    """A share as a person reads it, "42.5 %"; nothing when there is no share."""
    if value is None:
        return ""
    number = Decimal(value.numerator) / Decimal(value.denominator) if isinstance(value, Fraction) else value
    return f"{(number * 100).quantize(Decimal(1).scaleb(-places)):,} %"


def amount(value: Decimal, *, down: bool = False) -> str:
    """Money as the tables show it, "1,234.56"; ``down``: a movement that lowers the balance, "−1,234.56" (a
    negative one then reads "+")."""
    shown = -value if down else value
    text = f"{abs(shown):,.2f}"
    return f"−{text}" if shown < 0 else (f"+{text}" if down and shown > 0 else text)


def deferred_row(span, label: str, *, partial: bool) -> dict:
    return {"label": label, "partial": partial, "span": span, "cells": [
        amount(span.opening), amount(span.deferred), amount(span.reversed, down=True),
        amount(span.on_redemption, down=True), amount(span.breakage, down=True), amount(span.closing)]}


def percent_figure(value) -> float | None:
    """A share as a chart plots it, in percent."""
    if value is None:
        return None
    return round(float(value) * 100, 2)


def by_day(days: list[RollForward]) -> list[Span]:
    """The rollups' days as the liability report's spans: one table and one monthly grouping for both pages."""
    return [Span(start=d.first, end=d.last, opening=d.opening,
                 movements=movements_of(d)) for d in days]


def triangle_rows(book: Book) -> list[dict]:
    """Each issue month with its cumulative shares by months since issue, newest first."""
    rows = []
    for month, estimate in zip(book.months, book.estimates, strict=True):
        shares = [month.shares(age) for age in range(len(month.cumulative))]
        rows.append({"month": month.month, "estimate": estimate, "shares": shares,
                     "redeemed": [percent(s[0], 0) if s else "" for s in shares],
                     "ultimate": percent(estimate.rate), "breakage": percent(estimate.breakage_rate)})
    return list(reversed(rows))


def spread_out(rows: list, most: int) -> list:
    """At most ``most`` of ``rows``, evenly spread from the first to the last (a chart of a few curves that still
    shows the oldest beside the newest)."""
    if len(rows) <= most:
        return rows
    step = (len(rows) - 1) / (most - 1)
    return [rows[round(index * step)] for index in range(most)]


def history_row(recorded) -> dict:
    rate = recorded.ultimate_rate
    return {"as_of": recorded.as_of, "base": recorded.issued - recorded.reversed, "redeemed": recorded.redeemed,
            "ultimate_redeemed": recorded.ultimate_redeemed, "ultimate": percent(rate),
            "breakage": percent(None if rate is None else 1 - rate)}


def accounting(program, first: date, last: date) -> dict:
    """Everything the page shows for a range of local dates."""
    value = program.value_per_point
    rolled = points_roll_forward(program=program, first=first, last=last)
    days = points_roll_forward_days(program=program, first=first, last=last)
    spans = by_day(days) if len(days) <= DAILY_UP_TO else by_month(by_day(days))
    book = breakage_book(program=program, through=last)
    overall = book.overall
    breakage_points = sum(e.breakage_open for e in book.estimates)
    total, months = deferred_revenue(program=program, first=first, last=last)
    history = estimate_history(program=program)
    today = local_today(program)
    rollup = rollup_latest(program=program)
    check = ledger_check(program=program, rolled_up=points_roll_forward(program=program, first=today,
                                                                        last=today).closing,
                         rolled_up_at=rollup.finished_at if rollup else None)
    every_month = triangle_rows(book)
    triangle = every_month[:TRIANGLE_MONTHS]
    ages = max((len(row["shares"]) for row in triangle), default=0)
    for row in triangle:  # every row as wide as the oldest shown, so that the table reads as a triangle
        row["redeemed"] += [""] * (ages - len(row["redeemed"]))
    curves = spread_out([row for row in reversed(triangle) if len(row["shares"]) > 1], CURVES)
    bridge = [("Opening balance", rolled.opening), ("Earned", rolled.earned), ("Reversed", -rolled.reversed),
              ("Redeemed", -rolled.redeemed), ("Refunded", rolled.refunded), ("Expired", -rolled.expired),
              ("Adjusted", rolled.adjusted), ("Closing balance", rolled.closing)]
    return {
        "rolled": rolled, "liability": liability_of(program, rolled), "spans": list(reversed(spans)),
        "monthly": len(days) > DAILY_UP_TO, "check": check, "rollup": rollup, "today": today,
        "money": {"before": money(rolled.closing, value), "breakage_points": breakage_points,
                  "breakage": money(breakage_points, value),
                  "net": money(rolled.closing, value) - money(breakage_points, value),
                  "net_points": rolled.closing - breakage_points},
        "overall_breakage": percent(overall.breakage_rate),
        "book": book, "overall": overall, "triangle": triangle, "ages": range(ages),
        "triangle_more": len(every_month) - len(triangle),
        "history": [history_row(h) for h in reversed(history) if h.as_of == month_end(h.as_of) or h is history[-1]],
        "deferred": total, "deferred_rows": [deferred_row(m, m.first.strftime("%b %Y"),
                                       partial=m.first.day != 1 or m.last != month_end(m.last)) for m in months],
        "deferred_total": deferred_row(total, "", partial=False),
        "charts": {
            "bridge": chart("bar", [label for label, _ in bridge], [("Points", [p for _, p in bridge])],
                            y_title="Points"),
            "balance": chart("line", [d.first.isoformat() for d in days], [("Points owed", [d.closing for d in days])],
                             y_title="Points"),
            "curves": chart("line", [f"{age}" for age in range(ages)],
                            [(row["month"].strftime("%b %Y"), [percent_figure(s[0]) if s else None
                                                              for s in row["shares"]]) for row in curves],
                            percent=True, y_title="Redeemed, cumulative"),
            "history": chart("line", [h.as_of.isoformat() for h in history],
                             [("Expected breakage", [percent_figure(1 - h.ultimate_rate) if h.ultimate_rate is not None
                                                     else None for h in history])],
                             percent=True, y_title="Breakage"),
            "deferred": chart("bar", [m.first.strftime("%b %Y") for m in months],
                              [("Deferred on issue", [m.deferred for m in months]),
                               ("Recognised on redemption", [-m.on_redemption for m in months]),
                               ("Recognised breakage", [-m.breakage for m in months]),
                               ("Reversed with the sale", [-m.reversed for m in months])],
                              stacked=True, y_title=program.currency),
        },
    }


# --- CSV tables -------------------------------------------------------------------------------------


def asked_range(request, program) -> tuple[date, date]:
    """The range of a CSV's query string (``accounting_csv`` refused a bad one already); this month without one."""
    form = range_form(request, program)
    form.full_clean()
    return form.cleaned_data["start"], form.cleaned_data["end"]


def _roll_forward_rows(request, program):
    first, last = asked_range(request, program)
    return [liability_of(program, points_roll_forward(program=program, first=first, last=last)).csv_row()]


def _daily_rows(request, program):
    first, last = asked_range(request, program)
    for day in points_roll_forward_days(program=program, first=first, last=last):
        yield [day.first, day.opening, *(getattr(day, name) for name in MOVEMENT_COLUMNS), day.closing,
               money(day.closing, program.value_per_point)]


def _share(value) -> str:
    return "" if value is None else f"{Decimal(value.numerator) / Decimal(value.denominator):.6f}"


def _triangle_rows(request, program):
    _, last = asked_range(request, program)
    book = breakage_book(program=program, through=last)
    for month in book.months:
        for age, flow in enumerate(month.cumulative):
            shares = month.shares(age) or (None, None, None)
            yield [month.month.strftime("%Y-%m"), age, flow.issued, flow.reversed, flow.redeemed, flow.expired,
                   flow.issued - flow.reversed - flow.redeemed - flow.expired, *(_share(s) for s in shares)]


def _estimate_rows(request, program):
    for row in estimate_history(program=program, every_month=True):
        rate = row.ultimate_rate
        yield [row.as_of, row.issue_month.strftime("%Y-%m") if row.issue_month else "all", row.issued, row.reversed,
               row.redeemed, row.expired, row.ultimate_redeemed, "" if rate is None else rate,
               "" if rate is None else 1 - rate]


def _deferred_rows(request, program):
    first, last = asked_range(request, program)
    total, months = deferred_revenue(program=program, first=first, last=last)
    for span, kind in [*((m, "month") for m in months), (total, "range")]:
        yield [kind, span.first, span.last, span.opening, span.deferred, span.reversed, span.on_redemption,
               span.breakage, span.closing]


TABLES = CsvTables("points", {
    "roll-forward": (LIABILITY_COLUMNS, _roll_forward_rows),
    "daily": (["date", "opening_points", *(f"{name}_points" for name in MOVEMENT_COLUMNS), "closing_points",
               "closing_value"], _daily_rows),
    "triangle": (["issue_month", "months_since_issue", "issued_points", "taken_back_points", "redeemed_points",
                  "expired_points", "open_points", "redeemed_share", "expired_share", "open_share"],
                 _triangle_rows),
    "estimates": (["as_of", "issue_month", "issued_points", "taken_back_points", "redeemed_points",
                   "expired_points", "ultimate_redeemed_points", "ultimate_redemption_rate", "breakage_rate"],
                  _estimate_rows),
    "deferred-revenue": (["span", "start", "end", "opening", "deferred_on_issue", "reversed_with_sale",
                          "recognised_on_redemption", "recognised_breakage", "closing"], _deferred_rows),
})


# --- pages and files --------------------------------------------------------------------------------


@require_safe
@staff_view("report.view")
@reads_from_replica
def accounting_page(request):
    program = request.staff.program
    form = range_form(request, program)
    context = {"page": "points", "form": form, "zone": program.time_zone or "UTC",
               "value_per_point": plain_decimal(program.value_per_point),
               "may_export": request.staff.may("export.download"), "rollup": rollup_latest(program=program)}
    if form.is_valid():
        first, last = form.cleaned_data["start"], form.cleaned_data["end"]
        context.update(accounting(program, first, last), first=first, last=last,
                       query=f"program={program.slug}&start={first}&end={last}")
    return render(request, "staff/analytics/accounting.html", context, status=200 if form.is_valid() else 400)


@require_safe
@staff_view("export.download")
@reads_from_replica
def accounting_csv(request, table):
    if table not in TABLES.tables:
        raise Http404("No such table.")
    form = range_form(request, request.staff.program)
    if not form.is_valid():
        return query_refusal(form)
    return TABLES.response(request, table)

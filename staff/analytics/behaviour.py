"""/staff/analytics/behaviour/: whom the program keeps, how often they come back and what they spend.

Every block reads the behaviour rollups (``analytics.behaviour``) for a range of whole local months, From and To
(``?start=YYYY-MM&end=YYYY-MM``, the last 12 months unless asked), and each table is also a CSV file with the same
range.
"""

from __future__ import annotations

import re
from datetime import date

from django import forms
from django.http import HttpResponseBadRequest
from django.shortcuts import render
from django.views.decorators.http import require_safe

from analytics.behaviour import GAPS, LONGEST_LIFETIME_MONTHS, behaviour_report
from analytics.months import month_add, month_of
from analytics.selectors import rollup_latest
from analytics.services import local_today
from loyalty.replica import reads_from_replica

from ..access import staff_view
from .common import CsvTables, chart

LONGEST_MONTHS = 120
EARLIEST, LATEST = date(2000, 1, 1), date(2999, 12, 1)


class MonthField(forms.Field):
    """A month written YYYY-MM, as the browser's month picker writes it; the first day of that month."""

    widget = forms.DateInput(attrs={"type": "month", "pattern": r"\d{4}-\d{2}", "placeholder": "YYYY-MM"})
    default_error_messages = {"invalid": "Give a month as YYYY-MM, e.g. 2026-01."}

    def to_python(self, value):
        if value in (None, ""):
            return None
        if isinstance(value, date):
            return value.replace(day=1)
        matched = re.fullmatch(r"(\d{4})-(\d{2})", str(value).strip())
        if not matched or not 1 <= int(matched[2]) <= 12:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        month = date(int(matched[1]), int(matched[2]), 1)
        if not EARLIEST <= month <= LATEST:
            raise forms.ValidationError(f"Give a month from {EARLIEST:%Y} to {LATEST:%Y}.", code="invalid")
        return month

    def prepare_value(self, value):
        return value.strftime("%Y-%m") if isinstance(value, date) else value


class MonthRangeForm(forms.Form):
    start = MonthField(label="From", error_messages={"required": "Give the first month."})
    end = MonthField(label="To", error_messages={"required": "Give the last month."})

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end:
            if end < start:
                self.add_error("end", "The last month comes before the first.")
            elif month_add(start, LONGEST_MONTHS) <= end:
                self.add_error("end", f"Show at most {LONGEST_MONTHS} months; choose a shorter range.")
        return data


def asked_range(request, program) -> MonthRangeForm:
    """The range the query string asks for, or the last 12 months (this one included) when it asks none."""
    if "start" in request.GET or "end" in request.GET:
        return MonthRangeForm(request.GET)
    this_month = month_of(local_today(program))
    return MonthRangeForm({"start": month_add(this_month, -11).strftime("%Y-%m"),
                           "end": this_month.strftime("%Y-%m")})


def _report(request, program):
    form = asked_range(request, program)
    form.is_valid()
    return behaviour_report(program=program, first=form.cleaned_data["start"], last=form.cleaned_data["end"])


def _blank(value):
    return "" if value is None else value


# --- the CSV files: each a table of the page, for the same range ---------------------------------------------------

def _activity_rows(request, program):
    for m in _report(request, program).months:
        yield [m.month.strftime("%Y-%m"), m.as_of or "", m.active_30, m.active_90, m.enrolments, m.purchasers,
               m.repeat_purchasers, _blank(m.repeat_rate), m.member_purchases, _blank(m.frequency), m.member_sales,
               m.active_90_before, m.active_90_before - m.retained_90, _blank(m.churn)]


def _members_guests_rows(request, program):
    for m in _report(request, program).months:
        yield [m.month.strftime("%Y-%m"), m.member_purchases, m.guest_purchases, m.member_sales, m.guest_sales,
               _blank(m.member_order_value), _blank(m.guest_order_value), _blank(m.member_share)]


def _order_value_rows(request, program):
    for row in _report(request, program).order_value:
        yield [row.label, row.purchases, row.sales, _blank(row.order_value)]


def _gap_rows(request, program):
    report = _report(request, program)
    yield [GAPS[0], report.first_purchases, ""]
    for row in report.gaps:
        yield [row.label, row.purchases, _blank(row.share)]


def _lifetime_rows(request, program):
    for cohort in _report(request, program).cohorts:
        yield [cohort.month.strftime("%Y-%m"), cohort.members, cohort.sales, _blank(cohort.value_per_member)]


def _retention_rows(request, program):
    report = _report(request, program)
    for cohort in report.cohorts:
        for since, purchasers, share in zip(report.cohort_columns, cohort.purchasers, cohort.cells, strict=True):
            if share is not None:
                yield [cohort.month.strftime("%Y-%m"), since, cohort.members, purchasers, share]


def _tier_rows(request, program):
    report = _report(request, program)
    for month in report.tier_months:
        for name, members in zip(report.tier_names, month.members, strict=True):
            yield [month.month.strftime("%Y-%m"), name, members, month.upgrades, month.downgrades]


def _reward_rows(request, program):
    for row in _report(request, program).rewards:
        yield [row.label, row.redemptions, row.cancelled, row.redemptions - row.cancelled, row.points,
               _blank(row.share)]


def _store_rows(request, program):
    for row in _report(request, program).stores:
        yield [row.label, row.purchases, row.member_purchases, _blank(row.member_share), row.sales,
               row.member_sales, _blank(row.order_value), _blank(row.share), row.enrolments]


TABLES = CsvTables("behaviour", {
    "activity": (["month", "as_of", "active_30_days", "active_90_days", "enrolments", "purchasing_members",
                  "repeat_purchasers", "repeat_rate_percent", "member_purchases", "purchases_per_member",
                  "member_sales", "active_90_days_month_before", "lapsed", "churn_percent"], _activity_rows),
    "members-guests": (["month", "member_purchases", "guest_purchases", "member_sales", "guest_sales",
                        "member_order_value", "guest_order_value", "member_share_percent"], _members_guests_rows),
    "order-value": (["tier", "purchases", "sales", "order_value"], _order_value_rows),
    "gaps": (["days_since_previous_purchase", "purchases", "share_percent"], _gap_rows),
    "lifetime-value": (["cohort", "members", "sales_to_date", "sales_per_member"], _lifetime_rows),
    "retention": (["cohort", "months_since_enrolment", "cohort_members", "purchasing_members", "share_percent"],
                  _retention_rows),
    "tiers": (["month", "tier", "members_at_month_end", "upgrades", "downgrades"], _tier_rows),
    "rewards": (["reward", "redemptions", "cancelled", "kept", "points", "share_percent"], _reward_rows),
    "stores": (["store", "purchases", "member_purchases", "member_share_percent", "sales", "member_sales",
                "order_value", "share_of_sales_percent", "enrolments"], _store_rows),
})


# --- the page ----------------------------------------------------------------------------------------------------

def _charts(report) -> dict:
    months = [m.month.strftime("%b %Y") for m in report.months]
    return {
        "active": chart("line", months, [("Active within 30 days", [m.active_30 for m in report.months]),
                                         ("Active within 90 days", [m.active_90 for m in report.months])],
                        y_title="Members"),
        "enrolments": chart("bar", months, [("Enrolments", [m.enrolments for m in report.months])],
                            y_title="Members"),
        "repeat": chart("line", months, [("Repeat purchase rate", [m.repeat_rate for m in report.months])],
                        percent=True),
        "order_value": chart("bar", [r.label for r in report.order_value],
                             [("Average order value", [r.order_value for r in report.order_value])],
                             y_title=report.currency),
        "gaps": chart("bar", [r.label for r in report.gaps], [("Purchases", [r.purchases for r in report.gaps])],
                      y_title="Purchases"),
        "lifetime": chart("bar", [c.month.strftime("%b %Y") for c in report.cohorts],
                          [("Sales per member", [c.value_per_member for c in report.cohorts])],
                          y_title=report.currency),
        "tiers": chart("bar", months, [(name, [t.members[i] for t in report.tier_months])
                                       for i, name in enumerate(report.tier_names)], stacked=True,
                       y_title="Members"),
        "rewards": chart("bar", [r.label for r in report.rewards[:12]],
                         [("Redemptions kept", [r.redemptions - r.cancelled for r in report.rewards[:12]])],
                         y_title="Redemptions"),
        "stores": chart("bar", [r.label for r in report.stores],
                        [("Members", [r.member_sales for r in report.stores]),
                         ("Guests", [r.sales - r.member_sales for r in report.stores])], stacked=True,
                        y_title=report.currency),
        "guests": chart("line", months, [("Members", [m.member_order_value for m in report.months]),
                                         ("Guests", [m.guest_order_value for m in report.months])],
                        y_title=report.currency),
    }


@require_safe
@staff_view("report.view")
@reads_from_replica
def behaviour_page(request):
    program = request.staff.program
    form = asked_range(request, program)
    context = {"page": "behaviour", "rollup": rollup_latest(program=program), "form": form,
               "may_export": request.staff.may("export.download"), "currency": program.currency,
               "longest_lifetime": LONGEST_LIFETIME_MONTHS,
               "range_note": f"Calendar months in the program's time zone ({program.zone}). Sales are "
                             "purchase totals before returns."}
    if not form.is_valid():
        return render(request, "staff/analytics/behaviour.html", context, status=400)
    report = behaviour_report(program=program, first=form.cleaned_data["start"], last=form.cleaned_data["end"])
    context.update(report=report, charts=_charts(report),
                   query=f"program={program.slug}&start={report.first:%Y-%m}&end={report.last:%Y-%m}")
    return render(request, "staff/analytics/behaviour.html", context)


@require_safe
@staff_view("export.download")
@reads_from_replica
def behaviour_csv(request, table):
    form = asked_range(request, request.staff.program)
    if not form.is_valid():
        lines = [f"{name}: {' '.join(errors)}" for name, errors in form.errors.items()]
        return HttpResponseBadRequest("\n".join(lines) + "\n", content_type="text/plain; charset=utf-8")
    return TABLES.response(request, table)

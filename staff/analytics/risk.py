"""/staff/analytics/at-risk/: the members the program is losing, and why.

Everything here is read from ``analytics.health`` (the health rollup): the bands and their counts, the score
distribution, the lagging members and those who never came back, each with the parts of their score and a
sentence saying why. A manager can take a list to Bulk adjustments as a bonus file; the points then move only
through that page's preview, its limits and its approvals.
"""

from __future__ import annotations

from itertools import islice

from django import forms
from django.shortcuts import render
from django.views.decorators.http import require_safe

from analytics.health import (
    BAND_NAMES,
    BANDS,
    NEVER_RETURNED_DAYS,
    PART_NAMES,
    WEIGHTS,
    band_counts,
    health_list_count,
    health_list_rows,
    health_norms_get,
    health_today,
    lagging_members,
    never_returned_members,
    score_distribution,
)
from analytics.selectors import rollup_latest
from loyalty.replica import reads_from_replica

from ..access import staff_view
from ..adjustments.bulk import MAX_LINES
from ..adjustments.services import MAX_POINTS
from ..data.csvfiles import csv_response
from .common import CsvTables, chart

PAGE_SIZE = 25
LISTS = {"lagging": "Lagging", "never-returned": "Never came back", "watch": "Watch", "at-risk": "At risk",
         "lost": "Lost"}
BONUS_CATEGORY = "promotion"
MEMBER_COLUMNS = ["member_id", "card_number", "first_name", "last_name", "email", "score", *WEIGHTS, "days_since",
                  "usual_gap", "usual_gap_is_their_own", "band", "why"]
BINS = [f"{low}–{low + 9}" if low < 90 else "90–100" for low in range(0, 100, 10)]
# The bands' colours on the chart, as the page's dots and cards show them (staff-analytics.css): colour-blind-safe
BAND_COLOURS = {"healthy": "#009e73", "watch": "#e69f00", "at-risk": "#d55e00", "lost": "#98a2b3"}


class ListPagesForm(forms.Form):
    lagging_page = forms.IntegerField(label="Page of the lagging members", required=False, min_value=1,
                                      max_value=1_000_000, error_messages={"invalid": "Give a page number, e.g. 2."})
    never_page = forms.IntegerField(label="Page of the members who never came back", required=False, min_value=1,
                                    max_value=1_000_000, error_messages={"invalid": "Give a page number, e.g. 2."})


class BonusForm(forms.Form):
    """A list of members as a bulk adjustment file: who, how many points, the reason their statement shows."""

    list = forms.ChoiceField(label="Members", choices=list(LISTS.items()),
                             error_messages={"invalid_choice": "Choose one of the lists."})
    points = forms.IntegerField(label="Bonus points each", min_value=1, max_value=MAX_POINTS,
                                widget=forms.NumberInput(attrs={"step": 1, "inputmode": "numeric"}),
                                error_messages={"required": "Give the points each member gets.",
                                                "invalid": "Give a whole number of points, e.g. 200."})
    reason = forms.CharField(label="Reason on the member's statement", max_length=500,
                             error_messages={"required": "Give the reason; the member sees it on their statement."})
    part = forms.IntegerField(label="Part", min_value=1, max_value=10_000, initial=1, required=False,
                              widget=forms.NumberInput(attrs={"step": 1, "inputmode": "numeric"}),
                              error_messages={"invalid": "Give a part number, e.g. 2."})


def _query(**values) -> str:
    return "&".join(f"{name}={value}" for name, value in values.items() if value)


def _risk_page(request, *, bonus_form: BonusForm | None = None, status: int = 200):
    program = request.staff.program
    day = health_today(program)
    pages = ListPagesForm(request.GET)
    valid = pages.is_valid()
    context = {
        "page": "at-risk", "rollup": rollup_latest(program=program), "day": day, "pages_form": pages,
        "may_export": request.staff.may("export.download"), "may_view_members": request.staff.may("member.view"),
        "may_bonus": request.staff.may("adjustment.bulk"),
        "weights": [{"name": PART_NAMES[name], "of": of} for name, of in WEIGHTS.items()],
        "bands_rules": BANDS, "slug": program.slug, "max_lines": MAX_LINES,
        "never_intro": f"One purchase or none, and joined more than {NEVER_RETURNED_DAYS} days ago. The most "
                       "recently joined come first.",
    }
    if not valid:
        status = 400
    norms = health_norms_get(program=program)
    context["norms"] = norms
    if norms is not None:
        counts = band_counts(program=program, day=day)
        distribution_on, distribution = score_distribution(program=program)
        chosen = pages.cleaned_data if valid else {}
        lagging = lagging_members(program=program, day=day, page=chosen.get("lagging_page") or 1, size=PAGE_SIZE)
        never = never_returned_members(program=program, day=day, page=chosen.get("never_page") or 1,
                                       size=PAGE_SIZE)
        context.update(
            counts=counts, scored=sum(c.members for c in counts), lagging=lagging, never=never,
            distribution_on=distribution_on,
            distribution=list(zip(BINS, distribution, strict=True)),
            bands_chart=chart("bar", [c.name for c in counts], [("Members", [c.members for c in counts])],
                              y_title="Members", bar_colours=[BAND_COLOURS[c.slug] for c in counts]),
            distribution_chart=chart("bar", BINS, [("Members", distribution)], y_title="Members"),
            gaps=[{"purchases": n, "days": norms.gap_for(n), "measured": getattr(norms, f"measured_{n}")}
                  for n in range(4)],
            lagging_query=_query(program=program.slug, never_page=chosen.get("never_page")),
            never_query=_query(program=program.slug, lagging_page=chosen.get("lagging_page")),
            list_sizes={name: health_list_count(program=program, day=day, which=name) for name in LISTS}
            if context["may_bonus"] else {},
        )
    if context["may_bonus"]:
        form = bonus_form or BonusForm(initial={"list": "lagging", "part": 1})
        sizes = context.get("list_sizes", {})
        form.fields["list"].choices = [(name, f"{label} ({sizes.get(name, 0):,} members)")
                                       for name, label in LISTS.items()]
        context["bonus_form"] = form
    return render(request, "staff/analytics/risk.html", context, status=status)


@require_safe
@staff_view("report.view")
@reads_from_replica
def risk_page(request):
    return _risk_page(request)


def _member_rows(which: str):
    def rows(request, program):
        day = health_today(program)
        for h in health_list_rows(program=program, day=day, which=which):
            c = h.contact
            yield [h.member_id, c.get("card_number", ""), c.get("first_name", ""), c.get("last_name", ""),
                   c.get("email", ""), h.score, *h.parts.values(), h.days_since, h.row.usual_gap, h.own_gap,
                   BAND_NAMES[h.band], h.explanation]
    return MEMBER_COLUMNS, rows


def _band_rows(request, program):
    for count in band_counts(program=program, day=health_today(program)):
        yield [count.name, count.rule, count.members, count.share]


def _distribution_rows(request, program):
    yield from zip(BINS, score_distribution(program=program)[1], strict=True)


TABLES = CsvTables("at-risk", {
    "bands": (["band", "rule", "members", "percent"], _band_rows),
    "distribution": (["score", "members"], _distribution_rows),
    **{name: _member_rows(name) for name in LISTS},
})


@require_safe
@staff_view("export.download")
@reads_from_replica
def risk_csv(request, table):
    return TABLES.response(request, table)


@require_safe
@staff_view("adjustment.bulk")
@reads_from_replica
def risk_bonus(request):
    """A list as a Bulk adjustments file (``member_id, name, points, reason, category``), one part of at most
    ``MAX_LINES`` members in member-id order; nothing moves until a manager uploads it there and posts it."""
    form = BonusForm(request.GET)
    if not form.is_valid():
        return _risk_page(request, bonus_form=form, status=400)
    program, data = request.staff.program, form.cleaned_data
    part = data.get("part") or 1
    day = health_today(program)
    members = islice(health_list_rows(program=program, day=day, which=data["list"]),
                     (part - 1) * MAX_LINES, part * MAX_LINES)
    rows = ([h.member_id, h.name, data["points"], data["reason"], BONUS_CATEGORY] for h in members)
    return csv_response(f"bonus-{data['list']}-{program.slug}-{day}-part{part}.csv",
                        ["member_id", "name", "points", "reason", "category"], rows)

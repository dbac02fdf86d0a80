"""What every analytics page shares: the chart a page draws (and the table behind it), its CSV files, and the
refresh of today's rollup on demand."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from analytics.services import rollup_recent

from ..access import staff_view
from ..data.csvfiles import csv_response

PAGES = {"behaviour": "staff:analytics-behaviour", "at-risk": "staff:analytics-risk",
         "points": "staff:analytics-points", "simulator": "staff:analytics-simulator"}


def chart(kind: str, labels: Sequence, datasets: Iterable[tuple[str, Sequence]], *, percent: bool = False,
          stacked: bool = False, y_title: str = "", bar_colours: Sequence[str] = ()) -> dict:
    """A chart as ``static/js/staff-analytics.js`` draws it (``kind``: ``line`` or ``bar``): the page carries it
    with ``json_script`` and shows the same figures in a table, so it reads without JavaScript. ``bar_colours``:
    one colour per label, where the page already gives each label a colour of its own (the health bands)."""
    return {"kind": kind, "labels": [str(label) for label in labels],
            "datasets": [{"label": label, "data": [None if v is None else float(v) for v in values]}
                         for label, values in datasets],
            "percent": percent, "stacked": stacked, "y_title": y_title, "bar_colours": list(bar_colours)}


class CsvTables:
    """The CSV files of one page, by the name in their address: ``{name: (columns, rows(request, program))}``."""

    def __init__(self, page: str, tables: dict):
        self.page, self.tables = page, tables

    def response(self, request, name: str):
        if name not in self.tables:
            raise Http404("No such table.")
        columns, rows = self.tables[name]
        program = request.staff.program
        return csv_response(f"{self.page}-{name}-{program.slug}.csv", columns, rows(request, program))


@staff_view("report.view")
def analytics_home(request):
    return redirect(f"{reverse('staff:analytics-behaviour')}?program={request.staff.program.slug}")


@require_POST
@staff_view("report.view")
def refresh_today(request):
    """Roll up yesterday and today now, so that the pages show today's figures without waiting for the night."""
    run = rollup_recent(program=request.staff.program, trigger="today")
    messages.success(request, f"Today's figures are up to date ({run.rows:,} rows in {run.seconds:.1f} s).")
    back = PAGES.get(request.POST.get("page", ""), "staff:analytics-behaviour")
    return redirect(f"{reverse(back)}?program={request.staff.program.slug}")

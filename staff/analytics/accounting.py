"""/staff/analytics/points/: the points the program owes, how they moved, and what they are worth."""

from django.shortcuts import render
from django.views.decorators.http import require_safe

from analytics.selectors import rollup_latest
from loyalty.replica import reads_from_replica

from ..access import staff_view
from .common import CsvTables

TABLES = CsvTables("points", {})


@require_safe
@staff_view("report.view")
@reads_from_replica
def accounting_page(request):
    program = request.staff.program
    return render(request, "staff/analytics/accounting.html",
                  {"page": "points", "rollup": rollup_latest(program=program)})


@require_safe
@staff_view("export.download")
@reads_from_replica
def accounting_csv(request, table):
    return TABLES.response(request, table)

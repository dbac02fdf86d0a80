"""/staff/analytics/at-risk/: the members the program is losing, and why."""

from django.shortcuts import render
from django.views.decorators.http import require_safe

from analytics.selectors import rollup_latest
from loyalty.replica import reads_from_replica

from ..access import staff_view
from .common import CsvTables

TABLES = CsvTables("at-risk", {})


@require_safe
@staff_view("report.view")
@reads_from_replica
def risk_page(request):
    program = request.staff.program
    return render(request, "staff/analytics/risk.html",
                  {"page": "at-risk", "rollup": rollup_latest(program=program)})


@require_safe
@staff_view("export.download")
@reads_from_replica
def risk_csv(request, table):
    return TABLES.response(request, table)

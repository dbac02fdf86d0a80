"""/staff/analytics/behaviour/: whom the program keeps, how often they come back and what they spend."""

from django.shortcuts import render
from django.views.decorators.http import require_safe

from analytics.selectors import rollup_latest
from loyalty.replica import reads_from_replica

from ..access import staff_view
from .common import CsvTables

TABLES = CsvTables("behaviour", {})


@require_safe
@staff_view("report.view")
@reads_from_replica
def behaviour_page(request):
    program = request.staff.program
    return render(request, "staff/analytics/behaviour.html",
                  {"page": "behaviour", "rollup": rollup_latest(program=program)})


@require_safe
@staff_view("export.download")
@reads_from_replica
def behaviour_csv(request, table):
    return TABLES.response(request, table)

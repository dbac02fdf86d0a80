"""/staff/analytics/simulator/: what if the earn rate, a rule, the tiers or the rewards had been different."""

from django.shortcuts import render
from django.views.decorators.http import require_safe

from analytics.selectors import rollup_latest
from loyalty.replica import reads_from_replica

from ..access import staff_view
from .common import CsvTables

TABLES = CsvTables("simulator", {})


@require_safe
@staff_view("report.view")
@reads_from_replica
def simulator_page(request):
    program = request.staff.program
    return render(request, "staff/analytics/simulator.html",
                  {"page": "simulator", "rollup": rollup_latest(program=program)})


@require_safe
@staff_view("export.download")
@reads_from_replica
def simulator_csv(request, table):
    return TABLES.response(request, table)

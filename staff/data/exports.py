"""Members and ledger exports as CSV, streamed: a million rows cost the server no more memory than a thousand.

Rows are read through a server-side cursor (``.iterator(chunk_size=…)``) inside a transaction that lives
as long as the download (``csvfiles.csv_response``), and written out as they come; what a row needs from
other apps (balances, tiers) is read a chunk at a time. Times are the program's local times, with offset.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice

from django.views.decorators.http import require_safe

from ledger.selectors import account_balances, entry_export_rows
from loyalty.replica import reads_from_replica
from members.selectors import MEMBER_EXPORT_FIELDS, member_export_rows
from programs.models import Program
from tiers.selectors import member_tier_names

from ..access import staff_view
from .csvfiles import csv_response
from .reports import RangeForm, day_bounds, program_zone, query_refusal

CHUNK = 2_000
MEMBER_COLUMNS = [*(name if name != "id" else "member_id" for name in MEMBER_EXPORT_FIELDS),
                  "available_points", "pending_points", "tier"]
LEDGER_COLUMNS = [
    "booked_at", "date", "entry_id", "member_id", "card_number", "kind", "points", "available_delta",
    "pending_delta", "debt_delta", "expires_at", "description", "source_type", "source_id", "reference", "actor",
    "reason",
]


def _chunks(rows: Iterable, size: int) -> Iterator[list]:
    rows = iter(rows)
    while chunk := list(islice(rows, size)):
        yield chunk


def member_rows(program: Program) -> Iterator[list]:
    zone = program_zone(program)
    enrolled = MEMBER_EXPORT_FIELDS.index("enrolled_at")
    for chunk in _chunks(member_export_rows(program=program).iterator(chunk_size=CHUNK), CHUNK):
        ids = [row[0] for row in chunk]
        balances = account_balances(member_ids=ids)
        tiers = member_tier_names(program_id=program.pk, member_ids=ids)
        for row in chunk:
            row = list(row)
            row[enrolled] = row[enrolled].astimezone(zone)
            yield [*row, *balances.get(row[0], (0, 0)), tiers.get(row[0])]


def ledger_rows(program: Program, start_at=None, end_at=None) -> Iterator[list]:
    zone = program_zone(program)
    for booked_at, *rest in entry_export_rows(program_id=program.pk, start_at=start_at,
                                              end_at=end_at).iterator(chunk_size=CHUNK):
        local = booked_at.astimezone(zone)
        expires_at = rest[8]
        rest[8] = expires_at.astimezone(zone) if expires_at else None
        yield [local, local.date(), *rest]


@require_safe
@staff_view("export.download")
@reads_from_replica
def members_csv(request):
    program = request.staff.program
    return csv_response(f"members-{program.slug}.csv", MEMBER_COLUMNS, member_rows(program))


@require_safe
@staff_view("export.download")
@reads_from_replica
def ledger_csv(request):
    """Every entry of the program, or with ``start`` and ``end`` those booked on those local dates."""
    program = request.staff.program
    start_at = end_at = None
    name = f"ledger-{program.slug}.csv"
    if "start" in request.GET or "end" in request.GET:
        form = RangeForm(request.GET)
        if not form.is_valid():
            return query_refusal(form)
        start, end = form.cleaned_data["start"], form.cleaned_data["end"]
        start_at, end_at = day_bounds(program, start, end)
        name = f"ledger-{program.slug}-{start}-{end}.csv"
    return csv_response(name, LEDGER_COLUMNS, ledger_rows(program, start_at, end_at))


"""Rollups: the owning apps' daily totals (read through their selectors) written into analytics' tables.

A run replaces a whole range of local days for one program in one transaction, so running it again, or
over days already rolled up, writes the same rows; late entries of a past day (a return, a claim) are
picked up by rolling that day up again. Each run checks the rollups against the ledger.
"""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone

from earning.selectors import first_purchase_at, purchases_daily
from ledger.selectors import first_entry_at, ledger_daily_totals, ledger_kind_totals
from loyalty.errors import DomainError
from loyalty.transactions import plan_each_statement
from members.selectors import enrolments_daily, first_enrolled_at

from .behaviour import rollup_behaviour
from .breakage import breakage_rollup
from .health import health_rollup
from .models import DailyLedger, DailyTrade, RollupRun

BATCH = 5000
LONGEST_RANGE_DAYS = 366 * 30

# The rollups that build on the daily facts, run in this order in the same transaction after them, each
# ``fn(*, program, first, last, zone) -> int`` (the rows it wrote). Each replaces what it owns for the days (or the
# months, or the members) those days touch, so that running it again writes the same rows.
FURTHER_ROLLUPS: tuple = (rollup_behaviour, health_rollup, breakage_rollup)


def program_zone(program) -> ZoneInfo:
    return program.zone


def local_today(program, now: datetime | None = None) -> date:
    return (now or timezone.now()).astimezone(program_zone(program)).date()


def day_start(program, day: date) -> datetime:
    """The local midnight that starts ``day`` (a DST change moves it, never the date)."""
    return datetime.combine(day, datetime.min.time(), tzinfo=program_zone(program))


def rollup_drift(*, program, through: date) -> dict:
    """``{kind: {"rollup": points, "ledger": points}}`` for each kind whose rolled-up days up to ``through``
    do not add up to the ledger's entries booked before the end of that day; ``{}`` when they agree."""
    rolled: dict[str, int] = {}
    for kind, points in DailyLedger.objects.filter(program=program, day__lte=through).values_list("kind", "points"):
        rolled[kind] = rolled.get(kind, 0) + points
    booked = ledger_kind_totals(program_id=program.pk, end_at=day_start(program, through + timedelta(days=1)))
    return {kind: {"rollup": rolled.get(kind, 0), "ledger": booked.get(kind, 0)}
            for kind in sorted(set(rolled) | set(booked)) if rolled.get(kind, 0) != booked.get(kind, 0)}


@transaction.atomic
def rollup_days(*, program, first: date, last: date, trigger: str = "manual", check: bool = True) -> RollupRun:
    """Roll up the program's local days ``first`` to ``last`` (both included) and, with ``check``, compare
    every rolled-up day so far with the ledger."""
    if last < first or (last - first).days > LONGEST_RANGE_DAYS:
        raise DomainError.invalid("last", "Give a range of days that ends on or after its first day.")
    started = time.monotonic()
    plan_each_statement()  # the further rollups read the owning apps by lists of thousands of member ids
    zone = program_zone(program)
    start_at, end_at = day_start(program, first), day_start(program, last + timedelta(days=1))

    ledger_rows = [DailyLedger(program=program, day=day, kind=kind, points=points, entries=entries)
                   for day, kind, points, entries in
                   ledger_daily_totals(program_id=program.pk, start_at=start_at, end_at=end_at, zone=zone)]
    trade: dict[tuple, DailyTrade] = {}
    for day, store_id, purchases, member_purchases, sales, member_sales, returned in purchases_daily(
            program_id=program.pk, start_at=start_at, end_at=end_at, zone=zone):
        trade[(day, store_id)] = DailyTrade(
            program=program, day=day, store_id=store_id, purchases=purchases, member_purchases=member_purchases,
            sales=sales or 0, member_sales=member_sales or 0, returned=returned or 0)
    for day, store_id, enrolments in enrolments_daily(program_id=program.pk, start_at=start_at, end_at=end_at,
                                                      zone=zone):
        row = trade.setdefault((day, store_id), DailyTrade(program=program, day=day, store_id=store_id))
        row.enrolments = enrolments

    DailyLedger.objects.filter(program=program, day__range=(first, last)).delete()
    DailyTrade.objects.filter(program=program, day__range=(first, last)).delete()
    DailyLedger.objects.bulk_create(ledger_rows, batch_size=BATCH)
    DailyTrade.objects.bulk_create(list(trade.values()), batch_size=BATCH)
    rows = len(ledger_rows) + len(trade)
    for further in FURTHER_ROLLUPS:
        rows += further(program=program, first=first, last=last, zone=zone)
    return RollupRun.objects.create(
        program=program, first_day=first, last_day=last, trigger=trigger, rows=rows,
        seconds=round(time.monotonic() - started, 3), finished_at=timezone.now(),
        drift=rollup_drift(program=program, through=last) if check else {})


def rollup_recent(*, program, now: datetime | None = None, trigger: str = "nightly") -> RollupRun:
    """Yesterday and today: the nightly run (yesterday is complete now; late entries are caught the night
    after) and the on-demand refresh of today."""
    today = local_today(program, now)
    return rollup_days(program=program, first=today - timedelta(days=1), last=today, trigger=trigger)


def rollup_rebuild(*, program, now: datetime | None = None) -> RollupRun:
    """Every day from the program's first enrolment, purchase or ledger entry to today, replacing what is there."""
    today = local_today(program, now)
    # the earliest of the ledger, the purchases (an import may bring older ones) and the enrolments
    firsts = [moment for moment in (first_entry_at(program_id=program.pk), first_purchase_at(program_id=program.pk),
                                    first_enrolled_at(program_id=program.pk)) if moment is not None]
    first = min(firsts).astimezone(program_zone(program)).date() if firsts else today
    DailyLedger.objects.filter(program=program, day__lt=first).delete()
    DailyTrade.objects.filter(program=program, day__lt=first).delete()
    return rollup_days(program=program, first=min(first, today), last=today, trigger="rebuild")

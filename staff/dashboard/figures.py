"""Today's figures of a program, each with its last 30 days, by the days of the program's time zone."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.core.cache import cache
from django.utils import timezone

from ledger.selectors import LedgerDay, ledger_days, points_outstanding
from members.selectors import enrolments_by_day

DAYS = 30
NO_ENTRIES = LedgerDay()


@dataclass
class Figure:
    key: str
    label: str
    short: str  # the label as a table column
    explained: str  # what the figure counts, in one plain sentence
    series: list[int]  # one value per day, the oldest first and today last
    chart: str = "bar"  # "bar" for counts per day, "line" for a level
    change: int | None = None  # a level's change over the days shown
    today: int = field(init=False)
    yesterday: int = field(init=False)

    def __post_init__(self):
        self.today, self.yesterday = self.series[-1], self.series[-2]

    @property
    def total(self) -> int:
        return sum(self.series)

    @property
    def average(self) -> int:
        return round(self.total / len(self.series))

    @property
    def low(self) -> int:
        return min(self.series)

    @property
    def high(self) -> int:
        return max(self.series)


@dataclass
class HomeFigures:
    today: date
    time_zone: str
    days: list[date]  # the oldest first
    figures: list[Figure]
    outstanding_value: Decimal  # the outstanding points at the program's value per point
    currency: str

    @property
    def labels(self) -> list[str]:
        return [f"{day:%a} {day.day} {day:%b}" for day in self.days]

    def rows(self) -> list[tuple[date, list[int]]]:
        """The table behind the charts: one row per day, the newest first."""
        return [(day, [figure.series[n] for figure in self.figures]) for n, day in reversed(list(enumerate(self.days)))]


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=zone)


def _past_days(program, first: date, today: date, zone: ZoneInfo) -> dict[date, LedgerDay]:
    """The ledger's days before today, kept until the day is over: entries are only ever added and are booked
    at the moment they are written, so a day that has ended does not change (short of a batch job run by hand
    with an earlier ``--now``, which shows here the next day). Today is always read afresh."""
    key = f"staff:home:ledger-days:{program.pk}:{program.time_zone}:{first.isoformat()}:{today.isoformat()}"
    days = cache.get(key)
    if days is None:
        days = ledger_days(program=program, start=local_midnight(first, zone), end=local_midnight(today, zone))
        cache.set(key, days, timeout=26 * 3600)
    return days


def home_figures(*, program, now: datetime | None = None) -> HomeFigures:
    """Enrolments, points issued, redeemed and expired, active members and outstanding points: today's and
    each of the last 30 days', by the program's local days. Three statements and, once a day, a fourth."""
    zone = program.zone
    today = (now or timezone.now()).astimezone(zone).date()
    days = [today - timedelta(days=back) for back in range(DAYS - 1, -1, -1)]
    start, end = local_midnight(days[0], zone), local_midnight(today + timedelta(days=1), zone)

    enrolled = enrolments_by_day(program=program, start=start, end=end)
    ledger = {**_past_days(program, days[0], today, zone),
              **ledger_days(program=program, start=local_midnight(today, zone), end=end)}
    held_now = points_outstanding(program=program)
    per_day = [ledger.get(day, NO_ENTRIES) for day in days]

    # What members held at the end of each day, from today's balance back through each day's net change.
    held = [held_now]
    for day in reversed(per_day[1:]):
        held.append(held[-1] - day.net)
    held.reverse()

    figures = [
        Figure("enrolments", "Enrolments", "Enrolled", "Members who joined the program.",
               [enrolled.get(day, 0) for day in days]),
        Figure("issued", "Points issued", "Issued", "Points earned on purchases and events, and bonuses.",
               [day.issued for day in per_day]),
        Figure("redeemed", "Points redeemed", "Redeemed", "Points spent on rewards.",
               [day.redeemed for day in per_day]),
        Figure("expired", "Points expired", "Expired", "Points that reached their expiry date unspent.",
               [day.expired for day in per_day]),
        Figure("active", "Active members", "Active", "Members who bought, returned, redeemed or sent points.",
               [day.active for day in per_day]),
        Figure("outstanding", "Outstanding points", "Outstanding",
               "Points members hold, available and pending, less what returns left owing, at the end of each day.",
               held, chart="line", change=sum(day.net for day in per_day)),
    ]
    return HomeFigures(today=today, time_zone=program.time_zone, days=days, figures=figures,
                       outstanding_value=(Decimal(held_now) * program.value_per_point).quantize(Decimal("0.01")),
                       currency=program.currency)

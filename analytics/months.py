"""Calendar months, each named by its first day: the arithmetic the rollups, the projections and the pages share."""

from __future__ import annotations

import calendar
from datetime import date


def month_of(day: date) -> date:
    """The first day of ``day``'s month."""
    return day.replace(day=1)


def month_add(day: date, months: int) -> date:
    """The first day of the month ``months`` after ``day``'s (before it, when negative)."""
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def month_end(day: date) -> date:
    """The last day of ``day``'s month."""
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def months_between(first: date, last: date) -> list[date]:
    """Every month from ``first``'s to ``last``'s, both included, oldest first."""
    months, month = [], month_of(first)
    while month <= last:
        months.append(month)
        month = month_add(month, 1)
    return months


def months_apart(earlier: date, later: date) -> int:
    """How many months ``later``'s month comes after ``earlier``'s (negative when before)."""
    return (later.year - earlier.year) * 12 + later.month - earlier.month

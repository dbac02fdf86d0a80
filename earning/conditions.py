"""Conditions of an earning rule: when it applies (as django-oscar splits offers into conditions and benefits).

A rule's ``conditions`` is a list of objects, each with a ``kind``; the rule applies when all of
them match. Within one condition a list means "any of" (``{"kind": "sku", "skus": ["LATTE", "MOCHA"]}``).

Line conditions (``sku``, ``category``) also choose the purchase lines the effect works on:
a line counts when it meets every line condition of the rule.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, time
from decimal import Decimal
from typing import TYPE_CHECKING, ClassVar

from .definitions import CODE_PATTERN, Reader

if TYPE_CHECKING:
    from .rules import EarningContext, Line

PURCHASE, EVENT, SIGNUP, REFERRAL, BIRTHDAY = "purchase", "event", "signup", "referral", "birthday"
ALL_KINDS = frozenset({PURCHASE, EVENT, SIGNUP, REFERRAL, BIRTHDAY})
SPEND_KINDS = frozenset({PURCHASE, REFERRAL})  # evaluated against a purchase
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WITHIN = ("day", "month")


def same_day_of_year(day: date, on: date) -> bool:
    """Whether ``on`` is the anniversary of ``day``; 29 February falls on 28 February in other years."""
    if (day.month, day.day) == (on.month, on.day):
        return True
    return (day.month, day.day) == (2, 29) and (on.month, on.day) == (2, 28) and not calendar.isleap(on.year)


class Condition:
    kind: ClassVar[str]
    rule_kinds: ClassVar[frozenset[str]] = ALL_KINDS
    line_level: ClassVar[bool] = False
    help: ClassVar[str] = ""

    @classmethod
    def read(cls, reader: Reader) -> Condition:
        reader.done()
        return cls()

    def matches(self, context: EarningContext) -> bool:
        raise NotImplementedError

    def line_matches(self, line: Line) -> bool:  # line conditions only
        raise NotImplementedError


@dataclass(frozen=True)
class SkuCondition(Condition):
    kind = "sku"
    rule_kinds = SPEND_KINDS
    line_level = True
    help = '{"kind": "sku", "skus": ["LATTE", "MOCHA"]}: lines with one of these SKUs'
    skus: frozenset[str] = frozenset()

    @classmethod
    def read(cls, reader):
        skus = reader.strings("skus")
        reader.done()
        return cls(frozenset(skus))

    def line_matches(self, line):
        return line.sku in self.skus

    def matches(self, context):
        return any(self.line_matches(line) for line in context.lines)


@dataclass(frozen=True)
class CategoryCondition(Condition):
    kind = "category"
    rule_kinds = SPEND_KINDS
    line_level = True
    help = '{"kind": "category", "categories": ["coffee"]}: lines in one of these categories (case-insensitive)'
    categories: frozenset[str] = frozenset()

    @classmethod
    def read(cls, reader):
        categories = reader.strings("categories")
        reader.done()
        return cls(frozenset(c.casefold() for c in categories))

    def line_matches(self, line):
        return line.category.casefold() in self.categories

    def matches(self, context):
        return any(self.line_matches(line) for line in context.lines)


@dataclass(frozen=True)
class StoreCondition(Condition):
    kind = "store"
    rule_kinds = frozenset({PURCHASE, EVENT, SIGNUP, REFERRAL})
    help = '{"kind": "store", "stores": ["DEMO-001"]}: at one of these stores (by code)'
    stores: frozenset[str] = frozenset()

    @classmethod
    def read(cls, reader):
        stores = reader.strings("stores", max_length=32)
        reader.done()
        return cls(frozenset(stores))

    def matches(self, context):
        return context.store is not None and context.store.code in self.stores


@dataclass(frozen=True)
class DateWindowCondition(Condition):
    kind = "date_window"
    help = '{"kind": "date_window", "from": "2026-12-01", "until": "2026-12-24"}: local dates, both inclusive'
    start: date | None = None
    end: date | None = None

    @classmethod
    def read(cls, reader):
        start = reader.date("from", required=False)
        end = reader.date("until", required=False)
        if reader.data.get("from") is None and reader.data.get("until") is None:
            reader.fail("", 'Give "from", "until" or both.')
        if start and end and end < start:
            reader.fail("until", 'Must not be before "from".')
        reader.done()
        return cls(start, end)

    def matches(self, context):
        day = context.local_time.date()
        return (self.start is None or day >= self.start) and (self.end is None or day <= self.end)


@dataclass(frozen=True)
class TimeOfDayCondition(Condition):
    kind = "time_of_day"
    help = ('{"kind": "time_of_day", "from": "07:00", "until": "10:00"}: local time, "until" excluded; '
            'a window may run past midnight ("22:00"–"02:00")')
    start: time = time(0)
    end: time = time(0)

    @classmethod
    def read(cls, reader):
        start, end = reader.time("from"), reader.time("until")
        if start is not None and start == end:
            reader.fail("until", 'Must differ from "from".')
        reader.done()
        return cls(start or time(0), end or time(0))

    def matches(self, context):
        now = context.local_time.time().replace(tzinfo=None)
        if self.start < self.end:
            return self.start <= now < self.end
        return now >= self.start or now < self.end


@dataclass(frozen=True)
class DayOfWeekCondition(Condition):
    kind = "day_of_week"
    help = '{"kind": "day_of_week", "days": ["sat", "sun"]}: on one of these local weekdays'
    days: frozenset[int] = frozenset()

    @classmethod
    def read(cls, reader):
        days = reader.strings("days", choices=WEEKDAYS)
        reader.done()
        return cls(frozenset(WEEKDAYS.index(day) for day in days))

    def matches(self, context):
        return context.local_time.weekday() in self.days


@dataclass(frozen=True)
class MinimumSpendCondition(Condition):
    kind = "min_spend"
    rule_kinds = SPEND_KINDS
    help = '{"kind": "min_spend", "amount": "20.00"}: the purchase total is at least this'
    amount: Decimal = Decimal(0)

    @classmethod
    def read(cls, reader):
        amount = reader.decimal("amount", minimum=Decimal("0.01"), maximum=Decimal("1000000"))
        reader.done()
        return cls(amount or Decimal(0))

    def matches(self, context):
        return context.total is not None and context.total >= self.amount


@dataclass(frozen=True)
class TierCondition(Condition):
    kind = "tier"
    help = '{"kind": "tier", "tiers": ["silver", "gold"]}: the member is in one of these tiers (by code)'
    tiers: frozenset[str] = frozenset()

    @classmethod
    def read(cls, reader):
        tiers = reader.strings("tiers", pattern=CODE_PATTERN)
        reader.done()
        return cls(frozenset(tiers))

    def matches(self, context):
        return context.tier_code in self.tiers


@dataclass(frozen=True)
class FirstPurchaseCondition(Condition):
    kind = "first_purchase"
    rule_kinds = SPEND_KINDS
    help = '{"kind": "first_purchase"}: the member has no earlier purchase'

    def matches(self, context):
        return context.is_first_purchase


@dataclass(frozen=True)
class BirthdayCondition(Condition):
    kind = "birthday"
    rule_kinds = frozenset({PURCHASE, EVENT, REFERRAL})
    help = ('{"kind": "birthday", "within": "day" | "month"}: on the member\'s birthday '
            '(29 February counts on 28 February in other years), or in its month')
    within: str = "day"

    @classmethod
    def read(cls, reader):
        within = reader.choice("within", WITHIN, "day")
        reader.done()
        return cls(within)

    def matches(self, context):
        born = getattr(context.member, "birth_date", None)
        if born is None:
            return False
        today = context.local_time.date()
        return born.month == today.month if self.within == "month" else same_day_of_year(born, today)


@dataclass(frozen=True)
class EnrolmentAnniversaryCondition(Condition):
    kind = "enrolment_anniversary"
    rule_kinds = frozenset({PURCHASE, EVENT, REFERRAL, BIRTHDAY})
    help = ('{"kind": "enrolment_anniversary", "within": "day" | "month"}: on a yearly anniversary of the '
            "member's enrolment (not the enrolment year itself), or in its month")
    within: str = "day"

    @classmethod
    def read(cls, reader):
        within = reader.choice("within", WITHIN, "day")
        reader.done()
        return cls(within)

    def matches(self, context):
        enrolled_at = getattr(context.member, "enrolled_at", None)
        if enrolled_at is None:
            return False
        enrolled = enrolled_at.astimezone(context.local_time.tzinfo).date()
        today = context.local_time.date()
        if today.year <= enrolled.year:
            return False
        return enrolled.month == today.month if self.within == "month" else same_day_of_year(enrolled, today)


@dataclass(frozen=True)
class EventTypeCondition(Condition):
    kind = "event_type"
    rule_kinds = frozenset({EVENT})
    help = '{"kind": "event_type", "types": ["stay_night"]}: events of one of these types'
    types: frozenset[str] = frozenset()

    @classmethod
    def read(cls, reader):
        types = reader.strings("types", pattern=CODE_PATTERN)
        reader.done()
        return cls(frozenset(types))

    def matches(self, context):
        return context.event_type in self.types


@dataclass(frozen=True)
class EventAttributeCondition(Condition):
    kind = "attribute"
    rule_kinds = frozenset({EVENT})
    help = ('{"kind": "attribute", "name": "room", "values": ["suite"]}: the event\'s attribute has one of '
            "these values (compared as text)")
    name: str = ""
    values: frozenset[str] = frozenset()

    @classmethod
    def read(cls, reader):
        name = reader.string("name")
        values = reader.strings("values", max_length=200)
        reader.done()
        return cls(name or "", frozenset(values))

    def matches(self, context):
        value = (context.event_attributes or {}).get(self.name)
        if value is None or isinstance(value, (dict, list)):
            return False
        text = ("true" if value else "false") if isinstance(value, bool) else str(value)
        return text in self.values


CONDITIONS: dict[str, type[Condition]] = {
    cls.kind: cls for cls in (
        SkuCondition, CategoryCondition, StoreCondition, DateWindowCondition, TimeOfDayCondition,
        DayOfWeekCondition, MinimumSpendCondition, TierCondition, FirstPurchaseCondition, BirthdayCondition,
        EnrolmentAnniversaryCondition, EventTypeCondition, EventAttributeCondition,
    )
}

"""Each condition kind decides whether a rule adds its line to a purchase's breakdown."""

from datetime import UTC, date, datetime, timedelta

import pytest

from earning.models import Purchase
from members.models import Member

from .support import LATTE, MUFFIN, NOW, available, breakdown_of, buy

pytestmark = pytest.mark.usefixtures("clock")

BONUS = {"kind": "fixed_bonus", "points": 7}
BONUS_LINE = {"rule": "bonus", "points": 7}
BASE_20 = {"rule": "base", "points": 20}


def at(text: str) -> str:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).isoformat()


def test_sku_condition_matches_a_purchase_with_one_of_its_skus(pos, member, make_rule):
    make_rule("bonus", BONUS, [{"kind": "sku", "skus": ["MOCHA", "LATTE"]}])

    assert breakdown_of(pos, member, external_id="R-1") == [BASE_20, BONUS_LINE]
    assert breakdown_of(pos, member, external_id="R-2", total="11.00", lines=[MUFFIN]) == [
        {"rule": "base", "points": 11}]
    assert Purchase.objects.get(external_id="R-1").breakdown == [BASE_20, BONUS_LINE]
    assert available(member) == 20 + 7 + 11


def test_category_condition_matches_any_case(pos, member, make_rule):
    make_rule("bonus", BONUS, [{"kind": "category", "categories": ["Coffee"]}])

    assert breakdown_of(pos, member, external_id="R-1") == [BASE_20, BONUS_LINE]
    assert breakdown_of(pos, member, external_id="R-2", lines=[MUFFIN]) == [BASE_20]


def test_a_purchase_without_lines_never_matches_a_line_condition(pos, member, make_rule):
    make_rule("bonus", BONUS, [{"kind": "category", "categories": ["coffee"]}])

    assert breakdown_of(pos, member, lines=[]) == [BASE_20]


def test_store_condition_matches_only_at_the_named_stores(pos, second_pos, member, make_rule):
    make_rule("bonus", BONUS, [{"kind": "store", "stores": ["AIRPORT-2"]}])

    assert breakdown_of(second_pos, member, external_id="R-1") == [BASE_20, BONUS_LINE]
    assert breakdown_of(pos, member, external_id="R-2") == [BASE_20]


@pytest.mark.parametrize(("occurred_at", "matches"), [
    ("2026-02-28T23:59:59", False),
    ("2026-03-01T00:00:00", True),
    ("2026-03-03T23:59:59", True),
    ("2026-03-04T00:00:00", False),
])
def test_date_window_condition_includes_both_end_days(pos, member, make_rule, occurred_at, matches):
    make_rule("bonus", BONUS, [{"kind": "date_window", "from": "2026-03-01", "until": "2026-03-03"}])

    expected = [BASE_20, BONUS_LINE] if matches else [BASE_20]
    assert breakdown_of(pos, member, occurred_at=at(occurred_at)) == expected


def test_date_window_may_be_open_at_one_end(pos, member, make_rule):
    make_rule("bonus", BONUS, [{"kind": "date_window", "from": "2026-03-02"}])

    assert breakdown_of(pos, member, external_id="R-1", occurred_at=at("2026-03-01T12:00:00")) == [BASE_20]
    assert breakdown_of(pos, member, external_id="R-2") == [BASE_20, BONUS_LINE]


@pytest.mark.parametrize(("window", "occurred_at", "matches"), [
    (("07:00", "10:00"), "2026-03-04T06:59:00", False),
    (("07:00", "10:00"), "2026-03-04T07:00:00", True),
    (("07:00", "10:00"), "2026-03-04T09:59:59", True),
    (("07:00", "10:00"), "2026-03-04T10:00:00", False),
    (("22:00", "02:00"), "2026-03-03T23:30:00", True),
    (("22:00", "02:00"), "2026-03-04T01:59:00", True),
    (("22:00", "02:00"), "2026-03-04T02:00:00", False),
])
def test_time_of_day_condition_excludes_its_end_and_may_run_past_midnight(pos, member, make_rule, window,
                                                                          occurred_at, matches):
    make_rule("bonus", BONUS, [{"kind": "time_of_day", "from": window[0], "until": window[1]}])

    expected = [BASE_20, BONUS_LINE] if matches else [BASE_20]
    assert breakdown_of(pos, member, occurred_at=at(occurred_at)) == expected


def test_day_of_week_condition_matches_the_named_days(pos, member, make_rule):
    make_rule("bonus", BONUS, [{"kind": "day_of_week", "days": ["sat", "sun"]}])

    assert breakdown_of(pos, member, external_id="SAT", occurred_at=at("2026-02-28T10:00:00")) == [
        BASE_20, BONUS_LINE]
    assert breakdown_of(pos, member, external_id="WED") == [BASE_20]  # now, a Wednesday


def test_minimum_spend_condition_compares_the_total(pos, member, make_rule):
    make_rule("bonus", BONUS, [{"kind": "min_spend", "amount": "20.00"}])

    assert breakdown_of(pos, member, external_id="R-1", total="20.00") == [BASE_20, BONUS_LINE]
    assert breakdown_of(pos, member, external_id="R-2", total="19.99") == [{"rule": "base", "points": 19}]


def test_tier_condition_matches_the_members_tier(pos, member, friend, make_rule, monkeypatch):
    make_rule("bonus", BONUS, [{"kind": "tier", "tiers": ["gold", "silver"]}])
    monkeypatch.setattr("earning.rules.member_tier_code",
                        lambda *, member: "gold" if member.email == "ada@example.com" else "bronze")

    assert breakdown_of(pos, member, external_id="R-1") == [BASE_20, BONUS_LINE]
    assert breakdown_of(pos, friend, external_id="R-2") == [BASE_20]


def test_a_member_without_a_tier_matches_no_tier_condition(pos, member, make_rule):
    make_rule("bonus", BONUS, [{"kind": "tier", "tiers": ["bronze"]}])

    assert breakdown_of(pos, member) == [BASE_20]


def test_first_purchase_condition_matches_only_the_members_first_purchase(pos, member, make_rule):
    make_rule("welcome", {"kind": "fixed_bonus", "points": 50}, [{"kind": "first_purchase"}])
    buy(pos, None, external_id="GUEST-1")  # a guest purchase belongs to nobody

    assert breakdown_of(pos, member, external_id="R-1") == [BASE_20, {"rule": "welcome", "points": 50}]
    assert breakdown_of(pos, member, external_id="R-2") == [BASE_20]
    assert available(member) == 20 + 50 + 20


def test_first_purchase_preview_shows_the_bonus_without_using_it_up(pos, member, make_rule):
    make_rule("welcome", {"kind": "fixed_bonus", "points": 50}, [{"kind": "first_purchase"}])

    preview = buy(pos, member, url="/api/v1/pos/purchases/preview/").json()
    purchase = buy(pos, member).json()

    assert preview["breakdown"] == purchase["breakdown"] == [BASE_20, {"rule": "welcome", "points": 50}]


def set_birth_date(member, born: date):
    Member.objects.filter(pk=member.pk).update(birth_date=born)


def test_birthday_condition_matches_on_the_day(pos, member, make_rule):
    make_rule("bonus", BONUS, [{"kind": "birthday", "within": "day"}])
    set_birth_date(member, date(1990, 3, 4))

    assert breakdown_of(pos, member, external_id="R-1") == [BASE_20, BONUS_LINE]
    assert breakdown_of(pos, member, external_id="R-2", occurred_at=at("2026-03-03T23:00:00")) == [BASE_20]


def test_birthday_condition_may_cover_the_whole_month(pos, member, friend, make_rule):
    make_rule("bonus", BONUS, [{"kind": "birthday", "within": "month"}])
    set_birth_date(member, date(1990, 3, 30))
    set_birth_date(friend, date(1990, 4, 1))

    assert breakdown_of(pos, member, external_id="R-1") == [BASE_20, BONUS_LINE]
    assert breakdown_of(pos, friend, external_id="R-2") == [BASE_20]


def test_a_member_without_a_birth_date_has_no_birthday(pos, member, make_rule):
    make_rule("bonus", BONUS, [{"kind": "birthday", "within": "month"}])

    assert breakdown_of(pos, member) == [BASE_20]


def test_a_29_february_birthday_counts_on_28_february_in_other_years(pos, member, make_rule, clock):
    make_rule("bonus", BONUS, [{"kind": "birthday"}])
    set_birth_date(member, date(2000, 2, 29))
    clock.move_to(datetime(2027, 2, 28, 12, 0, tzinfo=UTC))

    assert breakdown_of(pos, member, external_id="R-2027") == [BASE_20, BONUS_LINE]

    clock.move_to(datetime(2028, 2, 28, 12, 0, tzinfo=UTC))  # a leap year: not yet
    assert breakdown_of(pos, member, external_id="R-2028-28") == [BASE_20]
    clock.move_to(datetime(2028, 2, 29, 12, 0, tzinfo=UTC))
    assert breakdown_of(pos, member, external_id="R-2028-29") == [BASE_20, BONUS_LINE]


def test_enrolment_anniversary_condition_matches_from_the_first_anniversary(pos, member, make_rule, clock):
    make_rule("bonus", BONUS, [{"kind": "enrolment_anniversary", "within": "day"}])
    assert member.enrolled_at.date() == date(2026, 3, 4)

    assert breakdown_of(pos, member, external_id="ENROL-DAY") == [BASE_20]
    clock.move_to(datetime(2027, 3, 4, 9, 0, tzinfo=UTC))
    assert breakdown_of(pos, member, external_id="FIRST") == [BASE_20, BONUS_LINE]
    clock.move_to(datetime(2027, 3, 5, 9, 0, tzinfo=UTC))
    assert breakdown_of(pos, member, external_id="DAY-AFTER") == [BASE_20]


def test_enrolment_anniversary_month(pos, member, make_rule, clock):
    make_rule("bonus", BONUS, [{"kind": "enrolment_anniversary", "within": "month"}])
    clock.move_to(datetime(2028, 3, 31, 9, 0, tzinfo=UTC))

    assert breakdown_of(pos, member) == [BASE_20, BONUS_LINE]


def test_every_condition_of_a_rule_must_match(pos, member, make_rule):
    make_rule("bonus", BONUS, [{"kind": "category", "categories": ["coffee"]},
                               {"kind": "min_spend", "amount": "15"}])

    assert breakdown_of(pos, member, external_id="R-1") == [BASE_20, BONUS_LINE]
    assert breakdown_of(pos, member, external_id="R-2", total="10.00", lines=[LATTE]) == [
        {"rule": "base", "points": 10}]
    assert breakdown_of(pos, member, external_id="R-3", lines=[MUFFIN]) == [BASE_20]


def test_a_rule_applies_only_while_active_and_within_its_validity(pos, member, make_rule):
    make_rule("inactive", BONUS, active=False)
    make_rule("expired", BONUS, valid_until=NOW)
    make_rule("future", BONUS, valid_from=NOW + timedelta(seconds=1))
    make_rule("current", BONUS, valid_from=NOW)

    assert breakdown_of(pos, member) == [BASE_20, {"rule": "current", "points": 7}]


def test_a_guest_purchase_earns_no_rule(pos, make_rule):
    make_rule("bonus", BONUS)

    body = buy(pos, None).json()

    assert body["points_awarded"] == 0
    assert body["breakdown"] == []


def test_times_of_day_are_read_in_the_programs_time_zone(pos, member, make_rule, program):
    program.time_zone = "Europe/Berlin"  # UTC+1 in March
    program.save()
    make_rule("bonus", BONUS, [{"kind": "time_of_day", "from": "07:00", "until": "10:00"}])

    # 06:30 UTC is 07:30 in Berlin: breakfast there
    assert breakdown_of(pos, member, external_id="A", occurred_at=at("2026-03-04T06:30:00")) == [
        BASE_20, BONUS_LINE]
    # 09:30 UTC is 10:30 in Berlin: too late
    assert breakdown_of(pos, member, external_id="B", occurred_at=at("2026-03-04T09:30:00")) == [BASE_20]


def test_an_unknown_time_zone_cannot_be_saved(program):
    from django.core.exceptions import ValidationError

    program.time_zone = "Mars/Olympus"
    with pytest.raises(ValidationError):
        program.full_clean()

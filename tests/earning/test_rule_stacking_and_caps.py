"""Priority order, stacking versus best-of within a group, and caps per purchase and per member per period."""

from datetime import UTC, datetime

import pytest

from earning.models import RuleAward

from .support import available, breakdown_of, buy, event

pytestmark = pytest.mark.usefixtures("clock")

BASE_20 = {"rule": "base", "points": 20}


def fixed(points):
    return {"kind": "fixed_bonus", "points": points}


def test_stacking_rules_each_add_a_line_in_priority_order(pos, member, make_rule):
    make_rule("late", fixed(1), priority=300)
    make_rule("early", fixed(2), priority=10)
    make_rule("b-middle", fixed(3), priority=100)
    make_rule("a-middle", fixed(4), priority=100)  # same priority: by code

    assert breakdown_of(pos, member) == [BASE_20, {"rule": "early", "points": 2}, {"rule": "a-middle", "points": 4},
                                         {"rule": "b-middle", "points": 3}, {"rule": "late", "points": 1}]
    assert available(member) == 30


def test_best_of_keeps_only_the_highest_earning_rule_of_its_group(pos, member, make_rule):
    make_rule("coffee-x2", {"kind": "multiplier", "factor": "2"},  # earns 9 on the coffee
              [{"kind": "category", "categories": ["coffee"]}], group="promo", stacking="best_of", priority=1)
    make_rule("flat-15", fixed(15), group="promo", stacking="best_of", priority=2)
    make_rule("flat-5", fixed(5), group="promo", stacking="best_of", priority=3)
    make_rule("other-group", fixed(1), group="app", stacking="best_of")
    make_rule("always", fixed(2))

    assert breakdown_of(pos, member) == [BASE_20, {"rule": "flat-15", "points": 15},
                                         {"rule": "always", "points": 2}, {"rule": "other-group", "points": 1}]
    assert available(member) == 38
    assert set(RuleAward.objects.values_list("rule__code", flat=True)) == {"flat-15", "always", "other-group"}


def test_a_best_of_tie_goes_to_the_rule_that_runs_first(pos, member, make_rule):
    make_rule("second", fixed(10), group="promo", stacking="best_of", priority=20)
    make_rule("first", fixed(10), group="promo", stacking="best_of", priority=10)

    assert breakdown_of(pos, member) == [BASE_20, {"rule": "first", "points": 10}]


def test_a_stacking_rule_in_a_group_still_stacks(pos, member, make_rule):
    make_rule("best-a", fixed(10), group="promo", stacking="best_of")
    make_rule("best-b", fixed(12), group="promo", stacking="best_of")
    make_rule("stacker", fixed(3), group="promo", stacking="stack")

    assert breakdown_of(pos, member) == [BASE_20, {"rule": "best-b", "points": 12},
                                         {"rule": "stacker", "points": 3}]


def test_best_of_compares_points_after_caps(pos, member, make_rule):
    make_rule("big-but-capped", fixed(100), group="promo", stacking="best_of", cap_per_purchase=8)
    make_rule("modest", fixed(10), group="promo", stacking="best_of")

    assert breakdown_of(pos, member) == [BASE_20, {"rule": "modest", "points": 10}]


def test_a_cap_per_purchase_limits_what_one_rule_gives_one_purchase(pos, member, make_rule):
    make_rule("per-item", {"kind": "per_unit", "points": 10}, cap_per_purchase=25)

    assert breakdown_of(pos, member) == [BASE_20, {"rule": "per-item", "points": 25}]  # 3 items: 30, capped
    assert available(member) == 45


def test_a_cap_per_member_per_day_resets_the_next_day(pos, member, make_rule, clock):
    make_rule("daily", fixed(30), cap_per_member=50, cap_period="day")

    assert breakdown_of(pos, member, external_id="R-1") == [BASE_20, {"rule": "daily", "points": 30}]
    assert breakdown_of(pos, member, external_id="R-2") == [BASE_20, {"rule": "daily", "points": 20}]
    assert breakdown_of(pos, member, external_id="R-3") == [BASE_20]
    clock.move_to(datetime(2026, 3, 5, 0, 0, tzinfo=UTC))
    assert breakdown_of(pos, member, external_id="R-4") == [BASE_20, {"rule": "daily", "points": 30}]
    assert available(member) == 4 * 20 + 30 + 20 + 30
    assert list(RuleAward.objects.order_by("occurred_at").values_list("points", flat=True)) == [30, 20, 30]


def test_a_cap_per_member_counts_each_member_separately(pos, member, friend, make_rule):
    make_rule("daily", fixed(30), cap_per_member=30, cap_period="day")

    assert breakdown_of(pos, member, external_id="R-1") == [BASE_20, {"rule": "daily", "points": 30}]
    assert breakdown_of(pos, friend, external_id="R-2") == [BASE_20, {"rule": "daily", "points": 30}]


def test_a_cap_per_member_per_month_follows_the_calendar_month(pos, member, make_rule, clock):
    make_rule("monthly", fixed(40), cap_per_member=100, cap_period="month")

    for index in range(3):
        buy(pos, member, external_id=f"MAR-{index}")
    clock.move_to(datetime(2026, 3, 31, 23, 59, tzinfo=UTC))
    assert breakdown_of(pos, member, external_id="MAR-END") == [BASE_20]
    clock.move_to(datetime(2026, 4, 1, 0, 0, tzinfo=UTC))
    assert breakdown_of(pos, member, external_id="APR-1") == [BASE_20, {"rule": "monthly", "points": 40}]
    assert [award.points for award in RuleAward.objects.order_by("occurred_at")] == [40, 40, 20, 40]


def test_a_cap_per_member_per_year_counts_by_when_the_purchase_happened(pos, member, make_rule):
    make_rule("yearly", fixed(40), cap_per_member=60, cap_period="year")

    assert breakdown_of(pos, member, external_id="R-1") == [BASE_20, {"rule": "yearly", "points": 40}]
    assert breakdown_of(pos, member, external_id="R-2") == [BASE_20, {"rule": "yearly", "points": 20}]
    # a receipt from last year, posted late, counts against last year's cap
    assert breakdown_of(pos, member, external_id="OLD", occurred_at="2025-12-31T10:00:00Z") == [
        BASE_20, {"rule": "yearly", "points": 40}]


def test_caps_also_hold_for_event_rules(pos, member, make_rule):
    make_rule("nights", {"kind": "per_unit", "points": 100}, [{"kind": "event_type", "types": ["stay_night"]}],
              applies_to="event", cap_per_purchase=250, cap_per_member=400, cap_period="month")

    assert event(pos, member, external_id="E-1", quantity=3).json()["breakdown"] == [
        {"rule": "nights", "points": 250}]
    assert event(pos, member, external_id="E-2", quantity=3).json()["breakdown"] == [
        {"rule": "nights", "points": 150}]
    assert event(pos, member, external_id="E-3", quantity=1).json()["breakdown"] == []
    assert available(member) == 400


def test_a_replayed_purchase_does_not_count_twice_against_a_cap(pos, member, make_rule):
    make_rule("daily", fixed(30), cap_per_member=50, cap_period="day")

    buy(pos, member, external_id="R-1")
    replay = buy(pos, member, external_id="R-1")

    assert replay.status_code == 200
    assert RuleAward.objects.count() == 1
    assert breakdown_of(pos, member, external_id="R-2") == [BASE_20, {"rule": "daily", "points": 20}]


def test_a_caps_period_total_is_read_from_the_index_alone(program, member, make_rule):
    """Every purchase a capped rule could pay sums what it paid the member this period: from the index
    (the points ride in it), not from one table page per award."""
    from django.db import connection

    from earning.selectors import rule_points_awarded
    from tests.plans import covering_plan

    rule = make_rule("daily", fixed(30), cap_per_member=50, cap_period="day")
    statements = []

    def seen(execute, sql, params, many, context):
        statements.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(seen):
        assert rule_points_awarded(program=program, rule=rule, member=member, at=datetime.now(UTC)) == 0
    ((sql, params),) = statements
    plan = covering_plan(sql, params)

    assert "Index Only Scan using rule_award_cap_sum_idx" in plan, plan

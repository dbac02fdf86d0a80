"""Each effect kind: what a matching rule adds, rounded down once after every factor."""

from decimal import Decimal

import pytest

from earning.models import Purchase, RuleAward
from ledger.models import LedgerEntry

from .support import LATTE, MUFFIN, PREVIEW, available, breakdown_of, buy

pytestmark = pytest.mark.usefixtures("clock")

COFFEE = [{"kind": "category", "categories": ["coffee"]}]


def test_a_multiplier_on_matching_lines_doubles_that_part_of_the_purchase(pos, member, make_rule):
    make_rule("coffee-x2", {"kind": "multiplier", "factor": "2"}, COFFEE)

    body = buy(pos, member).json()  # 20.00, of which 2 × 4.50 coffee

    assert body["breakdown"] == [{"rule": "base", "points": 20}, {"rule": "coffee-x2", "points": 9}]
    assert body["points_awarded"] == 29
    purchase = Purchase.objects.get(external_id="R-1")
    assert purchase.points_awarded == 29
    assert LedgerEntry.objects.get(account__member=member).points == 29
    assert available(member) == 29
    award = RuleAward.objects.get()
    assert (award.rule.code, award.member, award.points, award.source_id) == ("coffee-x2", member, 9, str(purchase.pk))


def test_a_multiplier_rounds_down_once_after_every_factor(pos, member, program, make_rule):
    program.points_per_unit = Decimal("1.5")
    program.save()
    make_rule("coffee-x1-5", {"kind": "multiplier", "factor": "1.5"}, COFFEE)
    lines = [{"sku": "FLAT", "category": "coffee", "quantity": 1, "unit_price": "9.99"}]

    # base floor(9.99 × 1.5) = 14; extra floor(9.99 × 1.5 × 0.5) = floor(7.4925) = 7
    assert breakdown_of(pos, member, total="9.99", lines=lines) == [
        {"rule": "base", "points": 14}, {"rule": "coffee-x1-5", "points": 7}]


def test_a_multiplier_counts_the_tier_multiplier(pos, member, make_rule, monkeypatch):
    monkeypatch.setattr("earning.rules.tier_multiplier", lambda *, member: Decimal("1.5"))
    make_rule("double", {"kind": "multiplier", "factor": "2"})

    # the contract's Gold example: floor(101.99 × 1.5) = 152, and the double earns it once more
    assert breakdown_of(pos, member, total="101.99", lines=[]) == [
        {"rule": "base", "points": 152}, {"rule": "double", "points": 152}]


def test_a_multiplier_without_line_conditions_works_on_the_whole_total(pos, member, make_rule):
    make_rule("triple", {"kind": "multiplier", "factor": "3"})

    assert breakdown_of(pos, member, total="19.50") == [
        {"rule": "base", "points": 19}, {"rule": "triple", "points": 39}]


def test_a_multiplier_never_counts_more_than_the_total_paid(pos, member, make_rule):
    make_rule("coffee-x2", {"kind": "multiplier", "factor": "2"}, COFFEE)

    # lines list 9.00 of coffee, but a discount brought the receipt to 5.00
    assert breakdown_of(pos, member, total="5.00", lines=[LATTE]) == [
        {"rule": "base", "points": 5}, {"rule": "coffee-x2", "points": 5}]


def test_a_fixed_bonus_adds_its_points(pos, member, make_rule):
    make_rule("bonus", {"kind": "fixed_bonus", "points": 25})

    assert breakdown_of(pos, member) == [{"rule": "base", "points": 20}, {"rule": "bonus", "points": 25}]
    assert available(member) == 45


def test_points_per_unit_count_the_quantity_of_matching_lines(pos, member, make_rule):
    make_rule("per-coffee", {"kind": "per_unit", "points": 3}, COFFEE)
    lines = [LATTE, {"sku": "MOCHA", "category": "coffee", "quantity": 3, "unit_price": "1.00"}, MUFFIN]

    assert breakdown_of(pos, member, lines=lines) == [
        {"rule": "base", "points": 20}, {"rule": "per-coffee", "points": 3 * 5}]


def test_points_per_unit_without_line_conditions_count_every_line(pos, member, make_rule):
    make_rule("per-item", {"kind": "per_unit", "points": 2})

    assert breakdown_of(pos, member) == [{"rule": "base", "points": 20}, {"rule": "per-item", "points": 6}]


def test_a_rule_that_earns_nothing_is_left_out_of_the_breakdown(pos, member, make_rule):
    make_rule("coffee-x1-1", {"kind": "multiplier", "factor": "1.1"}, COFFEE)

    # floor(9.00 × 0.1) = 0: the rule matched but contributed nothing
    assert breakdown_of(pos, member, total="9.00", lines=[LATTE]) == [{"rule": "base", "points": 9}]
    assert not RuleAward.objects.exists()


def test_the_base_line_stays_even_when_it_is_zero(pos, member, make_rule):
    make_rule("bonus", {"kind": "fixed_bonus", "points": 5})

    assert breakdown_of(pos, member, total="0.99", lines=[]) == [
        {"rule": "base", "points": 0}, {"rule": "bonus", "points": 5}]


def test_preview_shows_the_same_breakdown_and_writes_nothing(pos, member, make_rule):
    make_rule("coffee-x2", {"kind": "multiplier", "factor": "2"}, COFFEE)
    make_rule("per-item", {"kind": "per_unit", "points": 1}, cap_per_member=100, cap_period="day")

    preview = buy(pos, member, url=PREVIEW).json()

    assert not Purchase.objects.exists()
    assert not RuleAward.objects.exists()
    assert available(member) == 0
    purchase = buy(pos, member).json()
    assert preview["breakdown"] == purchase["breakdown"] == [
        {"rule": "base", "points": 20}, {"rule": "coffee-x2", "points": 9}, {"rule": "per-item", "points": 3}]
    assert preview["points_awarded"] == purchase["points_awarded"] == 32


def test_a_return_takes_back_rule_points_in_proportion(pos, member, make_rule):
    make_rule("bonus", {"kind": "fixed_bonus", "points": 20})
    buy(pos, member)  # 20 base + 20 bonus

    response = pos.post("/api/v1/pos/returns/", {"external_id": "RET-1", "purchase_external_id": "R-1",
                                                 "amount": "10.00"}, format="json")

    assert response.json()["points_reversed"] == 20
    assert available(member) == 20

"""Explain these points: for a purchase, the rules that fired with the values their conditions saw, multipliers and
caps, giving the breakdown the till received; for the tier, the activity that counted in the qualifying window."""

import html as html_lib
import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from earning.explain import purchase_explain
from earning.models import EarningRule, Purchase
from earning.rules import RuleTrace, purchase_context, rules_evaluate
from earning.services import earning_rule_create, earning_rule_update
from tests.earning import conftest as earning_fixtures
from tests.earning.support import LATTE, MUFFIN, buy
from tests.factories import MemberFactory
from tiers.services import tier_define

pytestmark = pytest.mark.django_db

WEDNESDAY = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
make_rule = earning_fixtures.make_rule  # rules made as the rule tests make them, through the staff tools' service


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(WEDNESDAY, tick=False) as traveller:
        yield traveller


def text(html: str) -> str:
    return re.sub(r"\s+", " ", html_lib.unescape(re.sub(r"<[^>]+>", " ", html))).strip()


def purchase_of(pos, member, external_id="R-1", **kwargs) -> Purchase:
    buy(pos, member, external_id=external_id, **kwargs)
    return Purchase.objects.get(external_id=external_id)


def explain(client, purchase) -> str:
    response = client.get(f"/staff/members/{purchase.member_id}/purchases/{purchase.pk}/")
    assert response.status_code == 200
    return text(response.content.decode())


def rule_card(page: str, name: str) -> str:
    """The text of one rule's card, from its name to the next card."""
    start = page.index(f"{name} ")
    following = [page.find(marker, start + 1) for marker in (" Rules that did not fire", " Lines of the receipt",
                                                             " Returns ", " What the rules saw")]
    return page[start:min(i for i in following if i > 0)]


COFFEE = [{"kind": "category", "categories": ["coffee"]}]
DOUBLE = {"kind": "multiplier", "factor": "2"}


def test_the_breakdown_the_till_received_is_shown_rule_by_rule(manager_client, pos, member, make_rule):
    make_rule("coffee-x2", DOUBLE, COFFEE, name="Double on coffee")
    purchase = purchase_of(pos, member)
    assert purchase.breakdown == [{"rule": "base", "points": 20}, {"rule": "coffee-x2", "points": 9}]
    page = explain(manager_client, purchase)
    assert "Receipt R-1" in page
    assert "Base rate base 20.00 EUR × 1 per EUR × tier ×1, rounded down: 20 20" in page
    assert "Double on coffee coffee-x2 ×2 on 9.00 EUR of spend" in page
    assert "Total 29" in page and "Earned 29" in page


def test_a_rule_that_fired_shows_each_condition_with_the_value_it_saw(manager_client, pos, member, make_rule):
    make_rule("coffee-x2", DOUBLE, [*COFFEE, {"kind": "day_of_week", "days": ["wed"]},
                               {"kind": "min_spend", "amount": "15.00"}], name="Double on coffee")
    card = rule_card(explain(manager_client, purchase_of(pos, member)), "Double on coffee")
    assert "Met: Wants a line with category coffee; saw LATTE (coffee) ×2" in card
    assert "Met: Wants on Wednesday; saw on a Wednesday" in card
    assert "Met: Wants a total of at least 15.00 EUR; saw a total of 20.00 EUR" in card
    assert "Effect: ×2 on 9.00 EUR of spend: 9.00 × 1 per EUR × tier ×1 × (2 − 1), rounded down: 9" in card


def test_a_rule_that_did_not_fire_says_which_condition_failed_on_what(manager_client, pos, member, make_rule):
    make_rule("weekend", {"kind": "fixed_bonus", "points": 50}, [{"kind": "day_of_week", "days": ["sat", "sun"]}],
         name="Weekend treat")
    make_rule("tea-time", DOUBLE, [{"kind": "category", "categories": ["tea"]}], name="Tea time")
    page = explain(manager_client, purchase_of(pos, member))
    idle = page[page.index("Rules that did not fire"):]
    assert "Weekend treat weekend Conditions not met" in idle
    assert "Not met: Wants on Saturday, Sunday; saw on a Wednesday" in idle
    assert "Not met: Wants a line with category tea; saw no such line (LATTE (coffee) ×2, MUFFIN (bakery) ×1)" in idle


def test_a_cap_per_purchase_is_shown_with_what_the_effect_gave(manager_client, pos, member, make_rule):
    make_rule("coffee-x2", DOUBLE, COFFEE, name="Double on coffee", cap_per_purchase=5)
    page = explain(manager_client, purchase_of(pos, member))
    assert "Capped at 5 per purchase (the effect gave 9)." in rule_card(page, "Double on coffee")
    assert "Total 25" in page


def test_a_cap_per_member_shows_what_was_given_before_in_its_period(manager_client, pos, member, make_rule):
    make_rule("big-basket", {"kind": "fixed_bonus", "points": 25}, name="Big basket", cap_per_member=30,
         cap_period="month")
    purchase_of(pos, member, "R-1")
    second = purchase_of(pos, member, "R-2")
    assert {"rule": "big-basket", "points": 5} in second.breakdown
    card = rule_card(explain(manager_client, second), "Big basket")
    assert "Cap of 30 per member per month: 25 given before this purchase in that month, 5 left." in card
    assert "+5" in card


def test_a_best_of_rule_that_lost_names_the_rule_that_counted(manager_client, pos, member, make_rule):
    make_rule("coffee-x2", DOUBLE, COFFEE, name="Double on coffee", group="promo", stacking="best_of", priority=1)
    make_rule("flat-15", {"kind": "fixed_bonus", "points": 15}, name="Flat fifteen", group="promo", stacking="best_of",
         priority=2)
    page = explain(manager_client, purchase_of(pos, member))
    idle = page[page.index("Rules that did not fire"):]
    assert "Double on coffee coffee-x2 Outdone" in idle
    assert "Best of group “promo”: Flat fifteen (flat-15) earned more and counted instead." in idle


def test_the_tier_multiplier_is_the_one_the_member_had_when_buying(manager_client, pos, program, member, clock):
    tier_define(program=program, code="bronze", name="Bronze", rank=1, threshold=0, multiplier="1")
    tier_define(program=program, code="silver", name="Silver", rank=2, threshold=30, multiplier="1.5")
    first = purchase_of(pos, member, "R-1", total="40.00")  # earns 40 as Bronze, and reaches Silver
    clock.shift(timedelta(hours=1))
    second = purchase_of(pos, member, "R-2")
    assert first.points_awarded == 40 and second.points_awarded == 30
    assert "Tier then Bronze ×1 on the base rate" in explain(manager_client, first)
    page = explain(manager_client, second)
    assert "Tier then Silver ×1.5 on the base rate" in page
    assert "20.00 EUR × 1 per EUR × tier ×1.5, rounded down: 30" in page
    assert "Running today's rules" not in page


def test_the_first_purchase_is_judged_as_it_was_then(manager_client, pos, member, make_rule, clock):
    make_rule("welcome", {"kind": "fixed_bonus", "points": 100}, [{"kind": "first_purchase"}], name="Welcome")
    first = purchase_of(pos, member, "R-1")
    clock.shift(timedelta(minutes=5))
    second = purchase_of(pos, member, "R-2")
    assert "Met: Wants the member's first purchase; saw their first purchase" in explain(manager_client, first)
    assert "Not met: Wants the member's first purchase; saw they had bought before" in explain(manager_client, second)


def test_a_rule_changed_since_is_flagged_and_the_till_breakdown_stays_the_truth(manager_client, pos, member, make_rule,
                                                                                clock):
    coffee = make_rule("coffee-x2", DOUBLE, COFFEE, name="Double on coffee")
    purchase = purchase_of(pos, member)
    clock.shift(timedelta(days=2))
    earning_rule_update(rule=coffee, effect={"kind": "multiplier", "factor": "3"})
    page = explain(manager_client, purchase)
    assert "Running today's rules over this purchase gives 38, not the 29 it earned" in page
    assert "Changed on 6 Mar 2026 after this purchase: the conditions shown are today's." in page
    assert "Double on coffee coffee-x2 ×3 on 9.00 EUR of spend" in page and "Total 29" in page


def test_returns_of_the_purchase_are_listed_with_the_points_taken_back(manager_client, pos, member):
    purchase = purchase_of(pos, member)
    response = pos.post("/api/v1/pos/returns/", {"external_id": "RET-1", "purchase_external_id": "R-1",
                                                 "amount": "5.00"}, format="json")
    assert response.status_code in (200, 201), response.json()
    page = explain(manager_client, purchase)
    assert "RET-1" in page and "5.00 EUR −5" in page and "Taken back 5 By 1 return" in page


def test_the_statement_links_each_purchase_to_its_explanation(manager_client, pos, member):
    purchase = purchase_of(pos, member)
    html = manager_client.get(f"/staff/members/{member.pk}/").content.decode()
    assert f'href="/staff/members/{member.pk}/purchases/{purchase.pk}/">Explain these points</a>' in html


def test_another_members_purchase_is_a_404(manager_client, pos, program, store, member):
    other = MemberFactory(program=program, store=store, email="grace@example.com")
    theirs = purchase_of(pos, other)
    assert manager_client.get(f"/staff/members/{member.pk}/purchases/{theirs.pk}/").status_code == 404


def test_a_guest_purchase_has_no_member_page_to_explain_it(manager_client, pos, member):
    guest = purchase_of(pos, None, "GUEST-1")
    assert manager_client.get(f"/staff/members/{member.pk}/purchases/{guest.pk}/").status_code == 404


@pytest.mark.parametrize("purchase_id", [uuid.uuid4(), "not-a-uuid", "1", "%20"])
def test_odd_purchase_ids_are_a_404(manager_client, pos, member, purchase_id):
    purchase_of(pos, member)
    assert manager_client.get(f"/staff/members/{member.pk}/purchases/{purchase_id}/").status_code == 404


def test_roles_and_programs_decide_who_reads_an_explanation(agent_client, analyst_client, other_manager_client, pos,
                                                           member):
    url = f"/staff/members/{member.pk}/purchases/{purchase_of(pos, member).pk}/"
    assert agent_client.get(url).status_code == 200
    assert analyst_client.get(url).status_code == 403
    assert other_manager_client.get(url).status_code == 404


def test_an_explanation_costs_a_few_queries_however_many_rules(manager_client, pos, member, make_rule,
                                                               django_assert_max_num_queries):
    for n in range(12):
        make_rule(f"r-{n}", {"kind": "fixed_bonus", "points": n + 1}, [{"kind": "min_spend", "amount": "1.00"}])
    purchase = purchase_of(pos, member)
    with django_assert_max_num_queries(20):
        explain(manager_client, purchase)


def test_the_explanation_reruns_the_engine_and_agrees_with_the_till(pos, member, make_rule):
    make_rule("coffee-x2", DOUBLE, COFFEE, cap_per_purchase=5)
    make_rule("big", {"kind": "fixed_bonus", "points": 25}, cap_per_member=30, cap_period="month")
    make_rule("off-day", {"kind": "fixed_bonus", "points": 7}, [{"kind": "day_of_week", "days": ["mon"]}])
    purchase_of(pos, member, "R-1")
    explanation = purchase_explain(purchase=Purchase.objects.select_related("member__program", "program", "store")
                                   .get(external_id="R-1"))
    assert explanation.agrees and explanation.recorded_total == explanation.recomputed_total == 50
    assert [r.code for r in explanation.fired] == ["big", "coffee-x2"]
    assert [r.code for r in explanation.not_fired] == ["off-day"]


def test_tracing_the_engine_changes_nothing_it_answers(program, member, make_rule):
    rules = [make_rule("coffee-x2", DOUBLE, COFFEE, cap_per_purchase=5),
             make_rule("a", {"kind": "fixed_bonus", "points": 3}, group="g", stacking="best_of"),
             make_rule("b", {"kind": "fixed_bonus", "points": 4}, group="g", stacking="best_of"),
             make_rule("never", {"kind": "fixed_bonus", "points": 1}, [{"kind": "day_of_week", "days": ["sun"]}])]
    context = purchase_context(program=program, member=member, store=None, total=20, lines=[LATTE, MUFFIN],
                               occurred_at=WEDNESDAY)
    trace: list[RuleTrace] = []
    plain = rules_evaluate(rules=rules, context=context, awarded=lambda r: 0)
    traced = rules_evaluate(rules=rules, context=context, awarded=lambda r: 0, trace=trace)
    assert plain == traced
    assert [(t.rule.code, t.matched, t.computed, t.points) for t in trace] == [
        ("coffee-x2", True, 9, 5), ("a", True, 3, 3), ("b", True, 4, 4), ("never", False, 0, 0)]
    assert trace[0].capped_per_purchase and trace[1].beaten_by.code == "b" and trace[2].beaten_by is None


# --- the tier ------------------------------------------------------------------------------------------------


@pytest.fixture
def ladder(program):
    tier_define(program=program, code="bronze", name="Bronze", rank=1, threshold=0, multiplier="1")
    tier_define(program=program, code="silver", name="Silver", rank=2, threshold=50, multiplier="1")
    tier_define(program=program, code="gold", name="Gold", rank=3, threshold=500, multiplier="1")


def tier_page(client, member) -> str:
    response = client.get(f"/staff/members/{member.pk}/tier/explain/")
    assert response.status_code == 200
    return response.content.decode()


def test_the_tier_explanation_lists_what_counted_in_the_window_and_what_no_longer_does(manager_client, pos, member,
                                                                                      ladder, clock):
    clock.move_to(WEDNESDAY - timedelta(days=400))
    purchase_of(pos, member, "OLD-1", total="40.00")
    clock.move_to(WEDNESDAY - timedelta(days=30))
    recent = purchase_of(pos, member, "NEW-1", total="35.00", lines=[])
    clock.move_to(WEDNESDAY - timedelta(days=29))
    second = purchase_of(pos, member, "NEW-2", total="30.00", lines=[])
    returned = pos.post("/api/v1/pos/returns/", {"external_id": "RET-1", "purchase_external_id": "NEW-2",
                                                 "amount": "10.00"}, format="json")
    assert returned.status_code in (200, 201), returned.json()
    clock.move_to(WEDNESDAY)
    html = tier_page(manager_client, member)
    page = text(html)
    assert "Silver: what counted" in page
    assert "In the window 55 points earned" in page
    counted = page[page.index("Activity in the window"):page.index("No longer counted")]
    assert "Return of receipt NEW-2 -10.00 EUR spent -10" in counted
    assert "Receipt NEW-2 30.00 EUR spent +30" in counted and "Receipt NEW-1 35.00 EUR spent +35" in counted
    assert "OLD-1" not in counted and "In the window 55" in counted
    assert f'href="/staff/members/{member.pk}/purchases/{recent.pk}/"' in html
    assert f'href="/staff/members/{member.pk}/purchases/{second.pk}/">Return of receipt NEW-2' in html
    earlier = page[page.index("No longer counted"):]
    assert "Purchase +40" in earlier
    assert "Bronze 0 ×1 Reached" in page and "Silver Current 50 ×1 Reached" in page and "Gold 500 ×1 445 to go" in page


def test_the_tier_explanation_has_its_own_address_beside_the_tier_action(manager_client, member, ladder):
    assert "Set the tier" in manager_client.get(f"/staff/members/{member.pk}/tier/").content.decode()
    assert "what counted" in tier_page(manager_client, member)


def test_who_may_read_the_tier_explanation(agent_client, analyst_client, other_manager_client, manager_client, member):
    url = f"/staff/members/{member.pk}/tier/explain/"
    assert agent_client.get(url).status_code == 200
    assert analyst_client.get(url).status_code == 403
    assert other_manager_client.get(url).status_code == 404
    assert manager_client.get(f"/staff/members/{uuid.uuid4()}/tier/explain/").status_code == 404
    assert manager_client.get("/staff/members/nope/tier/explain/").status_code == 404


def test_a_program_without_tiers_explains_that_there_are_none(manager_client, member):
    page = text(tier_page(manager_client, member))
    assert "No tier: what counted" in page and "The program has no tiers." in page


def test_rules_of_other_kinds_are_not_explained_for_a_purchase(manager_client, pos, program, member):
    earning_rule_create(program=program, code="signup", name="Welcome aboard", effect={"kind": "fixed_bonus",
                                                                                        "points": 5},
                        applies_to=EarningRule.AppliesTo.SIGNUP)
    assert "Welcome aboard" not in explain(manager_client, purchase_of(pos, member))

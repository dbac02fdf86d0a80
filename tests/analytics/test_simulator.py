"""The earn-rate simulator: a replay with nothing changed earns what the members actually earned; each change moves
the figures by what a person works out by hand; and nothing but the run's own record is written.

The world: Coffee Club earns 1 point per euro, with the demo ladder (bronze 0, silver 500 ×1.25, gold 2000 ×1.5,
by points over a rolling 12 months, never down), a rule doubling coffee and a welcome bonus of 50 on a first
purchase. It is 1 December 2026; the replay covers January to 1 December 2026.

* Ann: 10 Feb, 100 € (first: 100 + 50 = 150); 10 Mar, 200 € with 40 € of coffee (200 + 40 = 240). 390, bronze.
  She redeems a free coffee (100 points) on 1 Apr.
* Ben: 15 Jan, 450 € (450 + 50 = 500: silver from then on); 1 Jun, 100 € at silver (125), of which 40 € come back
  on 2 Jun (he keeps floor(125 × 60 / 100) = 75, 50 reversed). 575, silver.
* Cat: 5 Apr, 300 € (300 + 50 = 350). Bronze.
* Dan: enrolled, never bought. Bronze. A guest's purchase earns nobody anything.

Issued 1,365, reversed 50, redeemed 100: the members hold 1,215.
"""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine

from analytics.models import SimulationMover, SimulationRun
from analytics.simulator import Changes, kept_after_returns, ladder_problems, simulation_execute, simulation_request
from analytics.tasks import simulation_run
from earning.models import EarningRule, Purchase, RuleAward
from earning.services import earning_rule_create, purchase_claim, purchase_record, purchase_return
from ledger.models import LedgerEntry
from rewards.models import Redemption, Reward
from rewards.services import reward_redeem
from tests.factories import MemberFactory, ProgramFactory, StoreFactory
from tests.tiers.conftest import ladder_define
from tiers.models import MemberTier, QualifyingActivity, Tier, TierChange

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
COFFEE_LINES = [{"sku": "LATTE", "category": "coffee", "quantity": 10, "unit_price": "4.00"},
                {"sku": "BEANS", "category": "beans", "quantity": 1, "unit_price": "160.00"}]


def at(month, day):
    return datetime(2026, month, day, 10, 0, tzinfo=UTC)


def buy(store, external_id, total, when, member=None, lines=None):
    with time_machine.travel(when, tick=False):
        return purchase_record(store=store, actor="test", external_id=external_id, currency="EUR",
                               total=Decimal(total), lines=lines or [],
                               member_reference={"id": str(member.pk)} if member else None)


def build_world(program) -> dict:
    """The docstring's world, in ``program`` (which should not expire points within the year)."""
    with time_machine.travel(datetime(2025, 12, 15, 9, 0, tzinfo=UTC), tick=False):
        store = StoreFactory(program=program, code="MAIN")
        tiers = ladder_define(program)
        coffee = earning_rule_create(program=program, code="coffee-double", name="Double coffee",
                                     effect={"kind": "multiplier", "factor": "2"},
                                     conditions=[{"kind": "category", "categories": ["coffee"]}])
        welcome = earning_rule_create(program=program, code="welcome", name="Welcome bonus",
                                      effect={"kind": "fixed_bonus", "points": 50},
                                      conditions=[{"kind": "first_purchase"}])
        reward = Reward.objects.create(program=program, code="FREE-COFFEE", name="Free coffee", points_cost=100)
        ann, ben, cat, dan = (MemberFactory(program=program, first_name=name) for name in ("Ann", "Ben", "Cat", "Dan"))
    buy(store, "B1", "450", at(1, 15), ben)
    buy(store, "A1", "100", at(2, 10), ann)
    buy(store, "A2", "200", at(3, 10), ann, lines=COFFEE_LINES)
    with time_machine.travel(at(4, 1), tick=False):
        reward_redeem(member=ann, reward=reward, actor="test")
    buy(store, "C1", "300", at(4, 5), cat)
    buy(store, "B2", "100", at(6, 1), ben)
    with time_machine.travel(at(6, 2), tick=False):
        purchase_return(store=store, actor="test", external_id="R1", purchase_external_id="B2", amount=Decimal(40))
    buy(store, "G1", "80", at(7, 7))
    return {"program": program, "tiers": tiers, "coffee": coffee, "welcome": welcome, "reward": reward,
            "ann": ann, "ben": ben, "cat": cat, "dan": dan}


@pytest.fixture
def world(db):
    return build_world(ProgramFactory(slug="coffee-sim", name="Coffee Club", expiry_days=None,
                                      value_per_point=Decimal("0.01")))


def simulate(program, django_capture_on_commit_callbacks, **changes) -> SimulationRun:
    with time_machine.travel(NOW, tick=False), django_capture_on_commit_callbacks(execute=True):
        run = simulation_request(program=program, changes=Changes(**changes))
    run.refresh_from_db()
    assert run.status == SimulationRun.Status.DONE, run.error
    return run


def movers(run) -> set[tuple[str, str, str]]:
    return {(str(m.member_id), m.from_tier, m.to_tier) for m in SimulationMover.objects.filter(run=run)}


def test_the_world_is_as_the_docstring_tells(world):
    assert sum(Purchase.objects.filter(program=world["program"]).values_list("points_awarded", flat=True)) == 1365
    with time_machine.travel(NOW, tick=False):
        assert {m.first_name: MemberTier.objects.get(member=m).tier.code
                for m in (world["ann"], world["ben"], world["cat"])} == {"Ann": "bronze", "Ben": "silver",
                                                                         "Cat": "bronze"}


def test_a_replay_with_nothing_changed_earns_exactly_what_was_awarded(world, django_capture_on_commit_callbacks):
    figures = simulate(world["program"], django_capture_on_commit_callbacks).figures
    assert figures["issued"] == {"actual": 1365, "replayed": 1365, "simulated": 1365}
    assert figures["reversed"] == {"actual": 50, "replayed": 50, "simulated": 50}
    assert figures["purchases"] == 5 and figures["members_with_purchases"] == 3 and figures["members"] == 4
    assert [(m["month"], m["actual"], m["replayed"], m["simulated"]) for m in figures["months"] if m["actual"]] == [
        ("2026-01", 500, 500, 500), ("2026-02", 150, 150, 150), ("2026-03", 240, 240, 240),
        ("2026-04", 350, 350, 350), ("2026-06", 125, 125, 125)]
    assert [m["month"] for m in figures["months"]] == [f"2026-{n:02d}" for n in range(1, 13)]
    assert figures["liability"] == {"actual": 1215, "simulated": 1215, "value_per_point": "0.01",
                                    "actual_value": "12.15", "simulated_value": "12.15"}
    assert figures["moves"] == []
    assert {t["code"]: (t["actual"], t["simulated"]) for t in figures["tiers"]} == {
        "bronze": (3, 3), "silver": (1, 1), "gold": (0, 0)}


def test_a_claimed_guest_purchase_is_replayed_as_the_claim_earned_it(world, django_capture_on_commit_callbacks):
    program = world["program"]
    with time_machine.travel(at(7, 20), tick=False):
        purchase = purchase_claim(member=world["dan"], store=Purchase.objects.get(external_id="G1").store,
                                  external_id="G1", actor="test")
    assert purchase.points_awarded == 80 + 50
    figures = simulate(program, django_capture_on_commit_callbacks).figures
    assert figures["issued"] == {"actual": 1495, "replayed": 1495, "simulated": 1495}
    assert figures["months"][6] == {"month": "2026-07", "actual": 130, "replayed": 130, "simulated": 130}


def test_doubling_the_earn_rate_doubles_the_base_points_at_the_tier_each_purchase_was_made_at(
        world, django_capture_on_commit_callbacks):
    run = simulate(world["program"], django_capture_on_commit_callbacks, points_per_unit=Decimal(2))
    figures = run.figures
    # Ann 200 + 50, 400 + 80; Ben 900 + 50 (still bronze then), 250 at silver; Cat 600 + 50.
    assert figures["issued"] == {"actual": 1365, "replayed": 1365, "simulated": 2580}
    assert figures["reversed"]["simulated"] == 250 - 150
    assert figures["liability"]["simulated"] == 1215 + (2580 - 100) - (1365 - 50)
    assert figures["liability"]["simulated_value"] == "23.80"
    # Ann reaches 730 and Cat 650: both silver; Ben's 1,100 keeps him silver.
    assert movers(run) == {(str(world["ann"].pk), "bronze", "silver"), (str(world["cat"].pk), "bronze", "silver")}
    assert figures["moves"] == [{"from": "bronze", "from_name": "Bronze", "to": "silver", "to_name": "Silver",
                                 "members": 2}]


def test_without_rules_a_doubled_earn_rate_issues_exactly_twice_the_points(world, django_capture_on_commit_callbacks):
    EarningRule.objects.filter(program=world["program"]).update(active=False)
    run = simulate(world["program"], django_capture_on_commit_callbacks, points_per_unit=Decimal(2))
    assert run.figures["issued"]["simulated"] == 2 * run.figures["issued"]["replayed"] == 2 * (100 + 200 + 450 + 125
                                                                                               + 300)


def test_a_lower_silver_threshold_moves_exactly_the_members_it_reaches(world, django_capture_on_commit_callbacks):
    run = simulate(world["program"], django_capture_on_commit_callbacks, thresholds={"silver": Decimal(350)})
    assert movers(run) == {(str(world["ann"].pk), "bronze", "silver"), (str(world["cat"].pk), "bronze", "silver")}
    assert {t["code"]: (t["actual"], t["simulated"]) for t in run.figures["tiers"]} == {
        "bronze": (3, 1), "silver": (1, 3), "gold": (0, 0)}
    assert run.figures["issued"]["simulated"] == 1365  # earning at the tiers held then: unchanged


def test_a_higher_silver_threshold_moves_ben_down_as_he_would_not_have_reached_it(
        world, django_capture_on_commit_callbacks):
    run = simulate(world["program"], django_capture_on_commit_callbacks, thresholds={"silver": Decimal(600)})
    assert movers(run) == {(str(world["ben"].pk), "silver", "bronze")}
    # Nor would he have been silver in June: that purchase earns 100, not 125.
    assert run.figures["issued"]["simulated"] == 1365 - 25


def test_a_staff_lock_keeps_the_tier(world, django_capture_on_commit_callbacks):
    MemberTier.objects.filter(member=world["ben"]).update(locked_until=datetime(2027, 6, 1, tzinfo=UTC))
    run = simulate(world["program"], django_capture_on_commit_callbacks, thresholds={"silver": Decimal(600)})
    assert movers(run) == set()
    assert run.figures["issued"]["simulated"] == 1365  # his June purchase still at silver


def test_a_reward_at_a_new_cost_spends_its_redemptions_at_that_cost(world, django_capture_on_commit_callbacks):
    reward = world["reward"]
    figures = simulate(world["program"], django_capture_on_commit_callbacks,
                       reward_costs={str(reward.pk): 150}).figures
    assert figures["rewards"] == [{"id": str(reward.pk), "name": "Free coffee", "code": "FREE-COFFEE",
                                   "redemptions": 1, "points": 100, "cost": 100, "new_cost": 150,
                                   "simulated_points": 150}]
    assert figures["redeemed"] == {"actual": 100, "simulated": 150}
    assert figures["liability"]["simulated"] == 1215 - 50


def test_a_rule_with_a_new_multiplier_or_switched_off_earns_accordingly(world, django_capture_on_commit_callbacks):
    tripled = simulate(world["program"], django_capture_on_commit_callbacks, rule_id=str(world["coffee"].pk),
                       rule_value=Decimal(3)).figures
    assert tripled["issued"]["simulated"] == 1365 + 40  # Ann's 40 € of coffee earn ×3: 80 above the base
    off = simulate(world["program"], django_capture_on_commit_callbacks, rule_id=str(world["welcome"].pk),
                   rule_active=False).figures
    # Without the bonus Ben's 450 € no longer reach silver in January, so his June purchase earns at bronze: 100,
    # not 125 (of which he keeps 60, not 75, after the return).
    assert off["issued"]["simulated"] == 1365 - 3 * 50 - 25
    assert off["reversed"]["simulated"] == 50 - 10
    # By the end he has 450 + 100 − 40 = 510: silver all the same, and nobody moves.
    assert off["moves"] == []


def test_a_capped_rule_counts_what_it_gave_earlier_in_the_replay(world, django_capture_on_commit_callbacks):
    # The welcome bonus changed since: now on every purchase, at most 120 points a member a year.
    EarningRule.objects.filter(pk=world["welcome"].pk).update(conditions=[], cap_per_member=120, cap_period="year")
    run = simulate(world["program"], django_capture_on_commit_callbacks, rule_id=str(world["welcome"].pk),
                   rule_value=Decimal(80))
    # Today's rules: 50 on each of the five purchases, none capped. At 80: Ann 80 + 40, Ben 80 + 40, Cat 80.
    assert run.figures["issued"] == {"actual": 1365, "replayed": 1365 - 150 + 250, "simulated": 1365 - 150 + 320}


def test_the_replay_writes_nothing_to_the_ledger_members_tiers_rules_or_rewards(
        world, django_capture_on_commit_callbacks):
    program = world["program"]
    tables = (LedgerEntry, Purchase, RuleAward, MemberTier, TierChange, QualifyingActivity, Redemption)

    def state():
        return ({model.__name__: model.objects.count() for model in tables},
                list(MemberTier.objects.order_by("member_id").values_list("member_id", "tier_id", "qualifying_value")),
                list(Tier.objects.order_by("rank").values_list("threshold", flat=True)),
                list(EarningRule.objects.order_by("code").values_list("active", "effect")),
                list(Reward.objects.values_list("points_cost", flat=True)),
                type(program).objects.get(pk=program.pk).points_per_unit)

    before = state()
    simulate(program, django_capture_on_commit_callbacks, points_per_unit=Decimal(3), rule_id=str(world["coffee"].pk),
             rule_value=Decimal(5), thresholds={"silver": Decimal(100), "gold": Decimal(400)},
             reward_costs={str(world["reward"].pk): 10})
    assert state() == before


def test_a_run_delivered_twice_is_replayed_once(world, django_capture_on_commit_callbacks):
    run = simulate(world["program"], django_capture_on_commit_callbacks, thresholds={"silver": Decimal(350)})
    finished = run.finished_at
    assert simulation_run(run.pk) == {"status": "done", "seconds": run.figures["seconds"]}
    run.refresh_from_db()
    assert run.finished_at == finished and SimulationMover.objects.filter(run=run).count() == 2
    assert simulation_execute(run=run).status == SimulationRun.Status.DONE


def test_a_run_whose_worker_stopped_reporting_starts_again_and_one_at_work_is_left_alone(world):
    with time_machine.travel(NOW, tick=False):
        changes = Changes(thresholds={"silver": Decimal(350)}).as_json()
        busy, lost = (SimulationRun.objects.create(
            program=world["program"], created_at=NOW, first_day=date(2026, 1, 1), last_day=NOW.date(),
            changes=changes, status="running", progress=40, started_at=NOW - timedelta(minutes=minutes),
            heartbeat_at=NOW - timedelta(minutes=minutes)) for minutes in (2, 11))
        SimulationMover.objects.create(run=lost, member_id=world["dan"].pk, from_tier="bronze", to_tier="gold",
                                       units=0, simulated_units=0)
        assert simulation_execute(run=busy).status == "running"
        assert simulation_execute(run=lost).status == "done"
    busy.refresh_from_db()
    assert (busy.status, busy.progress) == ("running", 40)
    assert movers(lost) == {(str(world["ann"].pk), "bronze", "silver"), (str(world["cat"].pk), "bronze", "silver")}


def test_a_run_that_fails_says_so_and_keeps_no_movers(world, django_capture_on_commit_callbacks, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr("analytics.simulator.points_outstanding", broken)
    with time_machine.travel(NOW, tick=False):
        run = SimulationRun.objects.create(program=world["program"], created_at=NOW, first_day=NOW.date(),
                                           last_day=NOW.date(), changes=Changes(thresholds={"silver": 350})
                                           .as_json())
        with pytest.raises(RuntimeError):
            simulation_execute(run=run)
    run.refresh_from_db()
    assert (run.status, run.error, run.movers.count()) == ("failed", "the database went away", 0)


def test_the_ladder_must_stay_in_order():
    bronze = Tier(code="bronze", name="Bronze", rank=1, threshold=0)
    silver = Tier(code="silver", name="Silver", rank=2, threshold=500)
    gold = Tier(code="gold", name="Gold", rank=3, threshold=2000)
    assert ladder_problems([bronze, silver, gold], {"silver": Decimal(2000)}) == {
        "silver": "Gold must need more than Silver (2,000 vs 2,000)."}
    assert ladder_problems([bronze, silver, gold], {"silver": Decimal(100), "gold": Decimal(101)}) == {}


def test_a_return_keeps_points_in_proportion_rounded_down():
    assert kept_after_returns(125, Decimal(100), Decimal(40)) == 75
    assert kept_after_returns(7, Decimal(3), Decimal(1)) == 4
    assert kept_after_returns(9, Decimal(10), Decimal(0)) == 9


def test_a_tier_reached_sooner_earns_its_multiplier_from_then_on(world, django_capture_on_commit_callbacks):
    run = simulate(world["program"], django_capture_on_commit_callbacks, thresholds={"silver": Decimal(100)})
    figures = run.figures
    # Ann's 150 points of February reach a silver of 100: her March purchase earns at silver, 200 × 1.25 = 250,
    # and the coffee rule doubles its coffee's 40 × 1.25 = 50: 300, not 240. Cat's and Ben's first purchases came
    # before they had any points, and Ben's June one was at silver anyway.
    assert figures["issued"] == {"actual": 1365, "replayed": 1365, "simulated": 1365 - 240 + 300}
    assert {t["code"]: (t["actual"], t["simulated"]) for t in figures["tiers"]} == {
        "bronze": (3, 1), "silver": (1, 3), "gold": (0, 0)}


def test_a_threshold_set_to_what_it_is_moves_nobody_and_earns_what_was_awarded(
        world, django_capture_on_commit_callbacks):
    """The tiers' walk through the year runs, and finds the tier history itself."""
    run = simulate(world["program"], django_capture_on_commit_callbacks, thresholds={"silver": Decimal(500)})
    assert run.figures["issued"] == {"actual": 1365, "replayed": 1365, "simulated": 1365}
    assert run.figures["reversed"]["simulated"] == 50 and movers(run) == set()

"""The simulator page: managers and analysts run a "what if" and read it beside what happened, with every table as
CSV holding the figures the page shows; a bad value answers the form again with a message and starts nothing;
agents may not. The world is the one of ``tests/analytics/test_simulator.py``."""

import csv
import io
import re

import pytest
import time_machine

from analytics.models import SimulationRun
from tests.analytics.test_simulator import NOW, build_world
from tests.factories import ProgramFactory

pytestmark = pytest.mark.django_db

PAGE = "/staff/analytics/simulator/"
START = "/staff/analytics/simulator/run/"


@pytest.fixture
def world(program):
    return build_world(program)


def start(client, django_capture_on_commit_callbacks, **fields):
    with time_machine.travel(NOW, tick=False), django_capture_on_commit_callbacks(execute=True):
        return client.post(f"{START}?program=coffee", fields)


def rows(response) -> list[list[str]]:
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


@pytest.fixture
def doubled(world, manager_client, django_capture_on_commit_callbacks):
    """A finished simulation of the earn rate doubled."""
    response = start(manager_client, django_capture_on_commit_callbacks, points_per_unit="2")
    run = SimulationRun.objects.get()
    assert response.status_code == 302 and response["Location"].endswith(f"&run={run.pk}")
    return run


def test_the_page_offers_every_setting_and_says_there_is_no_simulation_yet(world, manager_client):
    page = manager_client.get(f"{PAGE}?program=coffee").content.decode()
    assert "No simulation yet" in page
    for label in ("Points per unit", "Earning rule", "New multiplier or points", "Bronze threshold",
                  "Silver threshold", "Gold threshold", "Free coffee cost", "Run simulation"):
        assert label in page
    assert "Double coffee (×2)" in page and "Now 500 points." in page


def test_a_manager_runs_a_simulation_and_reads_it_beside_what_happened(doubled, manager_client):
    page = manager_client.get(f"{PAGE}?program=coffee&run={doubled.pk}").content.decode()
    assert "Earn rate 1 → 2 points per EUR" in page
    assert "2,580" in page and "+1,215 on the 1,365 issued" in page
    assert "23.80 EUR, against 12.15 now" in page
    assert 'data-chart="sim-months-data"' in page and 'data-chart="sim-tiers-data"' in page
    january = r'Jan 2026</th><td class="num">500</td><td class="num[^"]*">500</td><td class="num">950</td>'
    assert re.search(january, page)
    assert "2 members would end the year in another tier." in page
    assert page.count("Download CSV") >= 5


def test_the_page_shows_the_latest_run_by_default(doubled, manager_client):
    assert f"Simulation {doubled.pk}" in manager_client.get(f"{PAGE}?program=coffee").content.decode()


def test_each_csv_holds_the_figures_the_page_shows(doubled, manager_client, world):
    def table(name):
        response = manager_client.get(f"{PAGE}{name}.csv?program=coffee&run={doubled.pk}")
        assert response.status_code == 200
        return rows(response)

    assert table("summary") == [["figure", "actual", "simulated", "difference"],
                                ["issued", "1365", "2580", "1215"], ["reversed", "50", "100", "50"],
                                ["redeemed", "100", "100", "0"], ["liability", "1215", "2380", "1165"],
                                ["liability_value", "12.15", "23.80", "11.65"]]
    months = table("months")
    assert months[0] == ["month", "actual_points", "replayed_points", "simulated_points", "difference"]
    assert months[1:7] == [["2026-01", "500", "500", "950", "450"], ["2026-02", "150", "150", "250", "100"],
                           ["2026-03", "240", "240", "480", "240"], ["2026-04", "350", "350", "650", "300"],
                           ["2026-05", "0", "0", "0", "0"], ["2026-06", "125", "125", "250", "125"]]
    assert len(months) == 13
    assert table("tiers") == [["tier", "name", "threshold", "simulated_threshold", "members", "simulated_members",
                               "difference"], ["bronze", "Bronze", "0", "0", "3", "1", "-2"],
                              ["silver", "Silver", "500", "500", "1", "3", "2"], ["gold", "Gold", "2000", "2000", "0",
                                                                                  "0", "0"]]
    assert table("moves") == [["from_tier", "to_tier", "members"], ["bronze", "silver", "2"]]
    members = table("members")
    assert members[0] == ["member_id", "card_number", "name", "from_tier", "to_tier", "qualifying_value",
                          "simulated_qualifying_value"]
    assert sorted((row[1], row[3], row[4], row[5], row[6]) for row in members[1:]) == sorted([
        (world["ann"].card_number, "bronze", "silver", "390", "730"),
        (world["cat"].card_number, "bronze", "silver", "350", "650")])
    assert table("rewards") == [["code", "reward", "redemptions", "cost", "simulated_cost", "points_spent",
                                 "simulated_points_spent"], ["FREE-COFFEE", "Free coffee", "1", "100", "100", "100",
                                                             "100"]]


def test_the_members_who_move_are_named_on_the_page(doubled, manager_client, world):
    page = manager_client.get(f"{PAGE}?program=coffee&run={doubled.pk}").content.decode()
    assert world["ann"].card_number in page and world["cat"].card_number in page
    assert world["ben"].card_number not in page


def test_a_reward_cost_change_shows_the_points_spent_at_the_new_cost(world, analyst_client,
                                                                       django_capture_on_commit_callbacks):
    reward = world["reward"]
    response = start(analyst_client, django_capture_on_commit_callbacks, **{f"reward_{reward.pk.hex}": "150"})
    assert response.status_code == 302
    page = analyst_client.get(response["Location"]).content.decode()
    assert "Free coffee costs 150 points (was 100)" in page
    assert "+50 on the 100 spent" in page


@pytest.mark.parametrize(("fields", "field", "message"), [
    ({"points_per_unit": "lots"}, "points_per_unit", "Enter a number."),
    ({"points_per_unit": "-1"}, "points_per_unit", "greater than or equal to 0"),
    ({"tier_silver": "2500"}, "tier_silver", "Gold must need more than Silver (2,500 vs 2,000)."),
    ({"rule_value": "3"}, "rule", "Choose the rule to change."),
    ({"rule": "not-a-rule"}, "rule", "Select a valid choice."),
    ({"reward_x": "10", "points_per_unit": "1e400"}, "points_per_unit", "Ensure"),
])
def test_a_bad_value_answers_the_form_with_a_message_beside_the_field_and_starts_nothing(
        world, manager_client, django_capture_on_commit_callbacks, fields, field, message):
    response = start(manager_client, django_capture_on_commit_callbacks, **fields)
    assert response.status_code == 400
    page = response.content.decode()
    assert f'id="field-{field}"' in page and message in page and "There is a problem" in page
    assert not SimulationRun.objects.exists()


def test_a_rule_value_the_engine_refuses_is_refused(world, manager_client, django_capture_on_commit_callbacks):
    response = start(manager_client, django_capture_on_commit_callbacks, rule=str(world["coffee"].pk),
                     rule_value="1")
    assert response.status_code == 400 and "id_rule_value_error" in response.content.decode()
    assert not SimulationRun.objects.exists()


def test_nothing_changed_is_refused(world, manager_client, django_capture_on_commit_callbacks):
    response = start(manager_client, django_capture_on_commit_callbacks, points_per_unit="1", tier_silver="500")
    assert response.status_code == 400 and "Change at least one setting" in response.content.decode()
    assert not SimulationRun.objects.exists()


def test_a_bad_run_number_answers_the_page_with_a_message_and_an_unknown_one_is_not_found(doubled, manager_client):
    response = manager_client.get(f"{PAGE}?program=coffee&run=abc")
    assert response.status_code == 400 and "Choose a simulation from the list of runs." in response.content.decode()
    assert manager_client.get(f"{PAGE}?program=coffee&run={doubled.pk + 1000}").status_code == 404
    bad_csv = manager_client.get(f"{PAGE}months.csv?program=coffee&run=1%00")
    assert bad_csv.status_code == 400 and b"run:" in bad_csv.content
    assert manager_client.get(f"{PAGE}nothing.csv?program=coffee").status_code == 404


def test_another_programs_simulation_is_not_found(doubled, manager_client):
    other = ProgramFactory(slug="tea")
    with time_machine.travel(NOW, tick=False):
        theirs = SimulationRun.objects.create(program=other, created_at=NOW, first_day=NOW.date(),
                                              last_day=NOW.date(), changes={})
    assert manager_client.get(f"{PAGE}?program=coffee&run={theirs.pk}").status_code == 404
    assert manager_client.get(f"{PAGE}months.csv?program=coffee&run={theirs.pk}").status_code == 404
    assert manager_client.get(f"{PAGE}runs/{theirs.pk}/status/?program=coffee").status_code == 404


def test_a_run_in_progress_shows_how_far_it_got_and_the_poll_reloads_the_page_when_it_is_done(
        world, manager_client, program):
    with time_machine.travel(NOW, tick=False):
        run = SimulationRun.objects.create(program=program, created_at=NOW, first_day=NOW.date(), last_day=NOW.date(),
                                           changes={"described": ["Silver threshold 500 → 350"]},
                                           status="running", progress=40)
    page = manager_client.get(f"{PAGE}?program=coffee").content.decode()
    assert "Replaying the year" in page and "40% of the members" in page and 'hx-trigger="every 2s"' in page
    status = f"{PAGE}runs/{run.pk}/status/?program=coffee"
    assert "40% of the members" in manager_client.get(status, HTTP_HX_REQUEST="true").content.decode()
    SimulationRun.objects.filter(pk=run.pk).update(status="done", progress=100)
    done = manager_client.get(status, HTTP_HX_REQUEST="true")
    assert done.status_code == 204 and done["HX-Refresh"] == "true"


def test_agents_may_not_read_run_or_download(doubled, agent_client, django_capture_on_commit_callbacks):
    assert agent_client.get(f"{PAGE}?program=coffee").status_code == 403
    assert start(agent_client, django_capture_on_commit_callbacks, points_per_unit="3").status_code == 403
    assert agent_client.get(f"{PAGE}months.csv?program=coffee").status_code == 403
    assert agent_client.get(f"{PAGE}runs/{doubled.pk}/status/?program=coffee").status_code == 403
    assert SimulationRun.objects.count() == 1


def test_the_page_refuses_other_methods(manager_client, world):
    assert manager_client.post(f"{PAGE}?program=coffee").status_code == 405
    assert manager_client.get(f"{START}?program=coffee").status_code == 405

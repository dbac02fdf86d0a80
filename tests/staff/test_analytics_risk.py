"""The At risk page on the hand-worked world of ``tests/analytics/test_health.py`` (day 20): the bands with their
thresholds, the chart data and the tables behind them, the lagging and never-returned lists with each member's
parts and the sentence saying why, every CSV equal to what the page shows, bad page numbers answered with a
message, and a manager's bonus file that Bulk adjustments reads as it is, with nothing moved from here."""

import csv
import io
import json
import re

import pytest
import time_machine

from staff.adjustments.bulk import bulk_preview
from staff.models import Adjustment
from tests.analytics.test_health import at, build_world

pytestmark = pytest.mark.django_db

URL = "/staff/analytics/at-risk/"


@pytest.fixture
def world(program):
    return build_world(program)


def get(client, url, day=20, **params):
    """The page or file on local day ``day`` of the world (a file is read then, too: it streams as it is read)."""
    with time_machine.travel(at(day), tick=False):
        response = client.get(url, params)
        if response.streaming:
            response.body = b"".join(response.streaming_content)
        return response


def csv_of(response) -> list[dict]:
    assert response["Content-Type"] == "text/csv"
    return list(csv.DictReader(io.StringIO(response.body.decode())))


def chart_data(page: str, chart_id: str) -> dict:
    found = re.search(rf'<script id="{chart_id}-data" type="application/json">(.*?)</script>', page, re.S)
    return json.loads(found.group(1))


def test_before_any_rollup_the_page_says_so(manager_client):
    response = manager_client.get(URL)
    assert response.status_code == 200 and "No health scores yet" in response.content.decode()


def test_the_bands_are_counted_with_their_thresholds_and_charted(world, manager_client):
    page = get(manager_client, URL).content.decode()
    assert chart_data(page, "health-bands")["datasets"][0]["data"] == [1.0, 1.0, 0.0, 3.0]
    assert chart_data(page, "health-bands")["labels"] == ["Healthy", "Watch", "At risk", "Lost"]
    assert chart_data(page, "health-distribution")["datasets"][0]["data"] == [1, 1, 1, 0, 0, 1, 0, 0, 0, 1]
    for threshold in ("a score of 70 or more", "50 to 69", "30 to 49",
                      "under 30, or no purchase for more than 3 times their usual gap"):
        assert threshold in page
    assert "5 members scored" in page and "20.0 %" in page and "60.0 %" in page


def test_the_lagging_list_shows_each_members_parts_and_why(world, manager_client):
    _, people = world
    page = get(manager_client, URL).content.decode()
    lagging = page.split('id="lagging-title"', 1)[1].split("</section>", 1)[0]
    assert lagging.index("Cleo CLEO") < lagging.index("Ben BEN") and "Ana ANA" not in lagging
    assert f'href="/staff/members/{people["Cleo"].pk}/' in lagging
    assert "Usually every 7 days (usual for members with 3 purchases); 14 days since their last purchase; " \
           "never redeemed; last NPS answer 7." in lagging
    assert '<span class="health-score">58</span>' in lagging and "Watch" in lagging
    assert 'value="20" aria-hidden="true"></meter><span class="num">20/40</span>' in lagging  # Cleo's recency
    assert 'value="15" aria-hidden="true"></meter><span class="num">15/20</span>' in lagging


def test_the_never_returned_list_counts_from_sixty_days(world, manager_client):
    page = get(manager_client, URL).content.decode()
    assert "Everyone came back" in page
    page = get(manager_client, URL, day=61).content.decode()
    never = page.split('id="never-title"', 1)[1].split("</section>", 1)[0]
    assert "Dan DAN" in never and "Eve EVE" in never and "No purchase yet; joined 61 days ago" in never


def test_analysts_read_the_lists_without_member_links_or_the_bonus_form(world, analyst_client):
    page = get(analyst_client, URL).content.decode()
    assert "Cleo CLEO" in page and "/staff/members/" not in page
    assert "Give these members a bonus" not in page and "Download CSV" in page


def test_each_list_as_csv_equals_the_page(world, manager_client):
    _, people = world
    rows = csv_of(get(manager_client, f"{URL}lagging.csv"))
    assert [row["first_name"] for row in rows] == sorted(["Cleo", "Ben"], key=lambda n: str(people[n].pk))
    cleo = next(row for row in rows if row["first_name"] == "Cleo")
    assert list(cleo) == ["member_id", "card_number", "first_name", "last_name", "email", "score", "recency",
                          "frequency", "money", "engagement", "nps", "days_since", "usual_gap",
                          "usual_gap_is_their_own", "band", "why"]
    assert {k: cleo[k] for k in ("member_id", "card_number", "score", "recency", "frequency", "money",
                                 "engagement", "nps", "days_since", "usual_gap", "usual_gap_is_their_own", "band")} \
        == {"member_id": str(people["Cleo"].pk), "card_number": people["Cleo"].card_number, "score": "58",
            "recency": "20", "frequency": "15", "money": "15", "engagement": "2", "nps": "6", "days_since": "14",
            "usual_gap": "7", "usual_gap_is_their_own": "no", "band": "Watch"}
    lost = csv_of(get(manager_client, f"{URL}lost.csv"))
    assert sorted(row["first_name"] for row in lost) == ["Ben", "Dan", "Eve"]
    assert csv_of(get(manager_client, f"{URL}never-returned.csv", day=61))[0]["band"] == "Lost"


def test_the_band_and_distribution_csvs_equal_the_page(world, manager_client):
    bands = csv_of(get(manager_client, f"{URL}bands.csv"))
    assert [(r["band"], r["members"], r["percent"]) for r in bands] == [
        ("Healthy", "1", "20.0"), ("Watch", "1", "20.0"), ("At risk", "0", "0.0"), ("Lost", "3", "60.0")]
    spread = csv_of(get(manager_client, f"{URL}distribution.csv"))
    assert [(r["score"], r["members"]) for r in spread][:3] == [("0–9", "1"), ("10–19", "1"), ("20–29", "1")]
    assert spread[-1] == {"score": "90–100", "members": "1"}


def test_a_bad_page_number_is_answered_with_a_message(world, manager_client, program):
    for value in ("two", "0", "-1"):
        response = get(manager_client, URL, lagging_page=value)
        assert response.status_code == 400
        assert "Page of the lagging members:" in response.content.decode()
    far = get(manager_client, URL, lagging_page="99")
    assert far.status_code == 200 and "Page 1 of 1" not in far.content.decode()  # one page: no pager at all


def test_a_list_longer_than_a_page_has_pages(world, manager_client, monkeypatch):
    monkeypatch.setattr("staff.analytics.risk.PAGE_SIZE", 1)
    page = get(manager_client, URL, lagging_page="2").content.decode()
    lagging = page.split('id="lagging-title"', 1)[1].split("</section>", 1)[0]
    assert "Ben BEN" in lagging and "Cleo CLEO" not in lagging and "Page 2 of 2" in lagging
    assert 'lagging_page=1#lagging" rel="prev"' in lagging


def test_csv_files_need_the_export_permission(world, agent_client):
    assert get(agent_client, f"{URL}lagging.csv").status_code == 403


def test_a_manager_downloads_a_bonus_file_that_bulk_adjustments_reads(world, manager_client, program):
    _, people = world
    response = get(manager_client, f"{URL}bonus/", list="lost", points="150", reason="We miss you", part="1")
    assert response.status_code == 200
    content = response.body
    rows = list(csv.DictReader(io.StringIO(content.decode())))
    assert {row["member_id"] for row in rows} == {str(people[n].pk) for n in ("Ben", "Dan", "Eve")}
    assert {(row["points"], row["reason"], row["category"]) for row in rows} == {("150", "We miss you", "promotion")}
    preview = bulk_preview(program=program, file_name="bonus.csv", content=content)
    assert not preview.error and not preview.bad and preview.total == 450
    assert not Adjustment.objects.exists()


def test_the_second_part_of_a_bonus_file_starts_after_the_first(world, manager_client, monkeypatch):
    monkeypatch.setattr("staff.analytics.risk.MAX_LINES", 2)
    first = csv_of(get(manager_client, f"{URL}bonus/", list="lost", points="10", reason="Hello", part="1"))
    second = csv_of(get(manager_client, f"{URL}bonus/", list="lost", points="10", reason="Hello", part="2"))
    assert len(first) == 2 and len(second) == 1
    assert {r["member_id"] for r in first}.isdisjoint(r["member_id"] for r in second)


@pytest.mark.parametrize(("params", "field", "message"), [
    ({"list": "lost", "points": "", "reason": "Hi"}, "points", "Give the points each member gets."),
    ({"list": "lost", "points": "1.5", "reason": "Hi"}, "points", "Give a whole number of points"),
    ({"list": "lost", "points": "0", "reason": "Hi"}, "points", "greater than or equal to 1"),
    ({"list": "lost", "points": "10", "reason": ""}, "reason", "Give the reason"),
    ({"list": "everyone", "points": "10", "reason": "Hi"}, "list", "Choose one of the lists."),
    ({"list": "lost", "points": "10", "reason": "Hi", "part": "x"}, "part", "Give a part number"),
])
def test_a_bad_bonus_request_is_answered_beside_its_field(world, manager_client, params, field, message):
    response = get(manager_client, f"{URL}bonus/", **params)
    assert response.status_code == 400
    page = response.content.decode()
    block = page.split(f'id="field-{field}"', 1)[1].split("</div>", 1)[0]
    assert 'class="field-error"' in block and message in block
    assert not Adjustment.objects.exists()


def test_only_managers_may_make_a_bonus_file(world, analyst_client, agent_client):
    for client in (analyst_client, agent_client):
        assert get(client, f"{URL}bonus/", list="lost", points="10", reason="Hi").status_code == 403


def test_the_pages_stop_where_skipping_would_be_slow_and_say_the_csv_has_everyone(world, manager_client,
                                                                                   monkeypatch):
    monkeypatch.setattr("staff.analytics.risk.PAGE_SIZE", 1)
    monkeypatch.setattr("analytics.health.MAX_PAGES", 1)
    page = get(manager_client, URL).content.decode()
    lagging = page.split('id="lagging-title"', 1)[1].split("</section>", 1)[0]
    assert "These pages show the first 1 members; the CSV has all 2." in lagging


def test_the_member_page_shows_the_health_score_with_its_parts(world, manager_client):
    _, people = world
    page = get(manager_client, f"/staff/members/{people['Cleo'].pk}/").content.decode()
    card = page.split('id="health-title"', 1)[1].split("</section>", 1)[0]
    assert "Health: 58 of 100" in card and "Watch · Usually every 7 days" in card
    assert '<th scope="row">Recency</th><td class="num">20 of 40</td>' in card

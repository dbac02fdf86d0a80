"""The behaviour page: it shows the figures of the hand-computed story (tests/analytics/test_behaviour.py) for the
months asked, each of its tables downloads as CSV with the same figures, it opens on the last 12 months, and a
bad month is answered with the page again and a message by the field."""

import csv
import io

import pytest
import time_machine

from analytics.models import BehaviourMonth, RollupRun
from staff.analytics.behaviour import TABLES
from tests.analytics.test_behaviour import NOW, rebuild, tell

pytestmark = pytest.mark.django_db

RANGE = "start=2026-01&end=2026-04"


@pytest.fixture
def told(program):
    program.time_zone, program.expiry_days = "Europe/Berlin", None
    program.save(update_fields=["time_zone", "expiry_days"])
    story = tell(program)
    rebuild(program)
    return story


def rows_of(response) -> list[list[str]]:
    assert response.status_code == 200 and response["Content-Type"] == "text/csv"
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_the_page_shows_the_stories_figures(told, manager_client):
    response = manager_client.get(f"/staff/analytics/behaviour/?{RANGE}")
    assert response.status_code == 200
    body = response.content.decode()
    report = response.context["report"]
    assert (report.latest.active_30, report.latest.active_90) == (0, 2)
    assert report.totals.enrolments == 4
    # The projection and its method are written on the page.
    assert "792.00 EUR" in body and "99.00 EUR" in body and "12.5 %" in body and "8.0 months" in body
    assert "1 ÷ churn" in body
    # The retention heatmap: January's cohort, 2 of 3 in its first month.
    assert '<td class="num heat heat-7">66.7 %</td><td class="num heat heat-4">33.3 %</td>' in body
    # Self-selection is said beside the members-and-guests figures.
    assert "members who join already" in body.lower() or "partly who chose to join" in body
    for words in ("Bronze", "Silver", "Coffee", "Mug", "Mitte", "Kreuzberg", "8–14 days", "31–60 days"):
        assert words in body
    assert body.count('<canvas data-chart=') == 10
    assert body.count("Download CSV") == 9


def test_each_table_downloads_with_the_figures_the_page_shows(told, manager_client):
    base = "/staff/analytics/behaviour"
    activity = rows_of(manager_client.get(f"{base}/activity.csv?{RANGE}"))
    assert activity[0] == TABLES.tables["activity"][0]
    assert activity[1:] == [
        ["2026-01", "2026-01-31", "2", "2", "3", "2", "1", "50.0", "3", "1.50", "190.00", "0", "0", ""],
        ["2026-02", "2026-02-28", "1", "3", "1", "1", "0", "0.0", "1", "1.00", "600.00", "2", "0", "0.0"],
        ["2026-03", "2026-03-31", "1", "3", "0", "1", "1", "100.0", "1", "1.00", "200.00", "3", "0", "0.0"],
        ["2026-04", "2026-04-15", "0", "2", "0", "0", "0", "", "0", "", "0.00", "3", "1", "33.3"],
    ]
    assert rows_of(manager_client.get(f"{base}/members-guests.csv?{RANGE}"))[1] == \
        ["2026-01", "3", "1", "190.00", "30.00", "63.33", "30.00", "75.0"]
    assert rows_of(manager_client.get(f"{base}/order-value.csv?{RANGE}"))[1:] == [
        ["Bronze", "4", "390.00", "97.50"], ["Silver", "1", "600.00", "600.00"]]
    gaps = rows_of(manager_client.get(f"{base}/gaps.csv?{RANGE}"))
    assert gaps[1] == ["First purchase", "3", ""] and ["8–14 days", "1", "50.0"] in gaps
    assert rows_of(manager_client.get(f"{base}/lifetime-value.csv?{RANGE}"))[1:] == [
        ["2026-01", "3", "990.00", "330.00"], ["2026-02", "1", "0", "0.00"]]
    retention = rows_of(manager_client.get(f"{base}/retention.csv?{RANGE}"))
    assert retention[1:5] == [["2026-01", "0", "3", "2", "66.7"], ["2026-01", "1", "3", "1", "33.3"],
                              ["2026-01", "2", "3", "1", "33.3"], ["2026-01", "3", "3", "0", "0.0"]]
    assert ["2026-02", "Silver", "1", "1", "0"] in rows_of(manager_client.get(f"{base}/tiers.csv?{RANGE}"))
    assert rows_of(manager_client.get(f"{base}/rewards.csv?{RANGE}"))[1:] == [
        ["Coffee", "2", "1", "1", "100", "50.0"], ["Mug", "1", "0", "1", "200", "50.0"]]
    assert rows_of(manager_client.get(f"{base}/stores.csv?{RANGE}"))[1:] == [
        ["Mitte", "4", "3", "75.0", "780.00", "750.00", "195.00", "75.0", "2"],
        ["Kreuzberg", "3", "2", "66.7", "260.00", "240.00", "86.67", "25.0", "2"]]


@pytest.mark.parametrize("table", sorted(TABLES.tables))
def test_every_table_has_its_columns_even_without_data(table, analyst_client):
    rows = rows_of(analyst_client.get(f"/staff/analytics/behaviour/{table}.csv"))
    assert rows[0] == TABLES.tables[table][0]


def test_the_page_opens_on_the_last_twelve_months(manager_client):
    with time_machine.travel(NOW, tick=False):
        response = manager_client.get("/staff/analytics/behaviour/")
    assert response.status_code == 200
    form = response.context["form"]
    assert (form["start"].value(), form["end"].value()) == ("2025-05", "2026-04")
    assert len(response.context["report"].months) == 12


def test_without_data_each_block_says_so_in_words(manager_client):
    body = manager_client.get("/staff/analytics/behaviour/").content.decode()
    for words in ("Nobody enrolled in these months", "No purchases by members in these months",
                  "No rewards redeemed in these months", "This program has no tiers"):
        assert words in body


@pytest.mark.parametrize(("query", "field", "message"), [
    ("start=2026-13&end=2026-04", "start", "Give a month as YYYY-MM"),
    ("start=January&end=2026-04", "start", "Give a month as YYYY-MM"),
    ("start=2026-04&end=2026-01", "end", "The last month comes before the first."),
    ("start=2000-01&end=2026-04", "end", "Show at most 120 months"),
    ("start=&end=2026-04", "start", "Give the first month."),
    ("start=2026-01%00&end=2026-04", "start", "Give a month as YYYY-MM"),
])
def test_a_bad_month_answers_the_page_again_with_a_message_by_the_field(told, manager_client, query, field,
                                                                         message):
    rows = BehaviourMonth.objects.count(), RollupRun.objects.count()
    response = manager_client.get(f"/staff/analytics/behaviour/?{query}")
    assert response.status_code == 400
    body = response.content.decode()
    assert f'id="field-{field}"' in body and message in body and "report" not in response.context
    assert (BehaviourMonth.objects.count(), RollupRun.objects.count()) == rows

    download = manager_client.get(f"/staff/analytics/behaviour/activity.csv?{query}")
    assert download.status_code == 400 and message in download.content.decode()


def test_download_links_carry_the_months_asked(told, manager_client):
    body = manager_client.get(f"/staff/analytics/behaviour/?{RANGE}").content.decode()
    assert "/staff/analytics/behaviour/retention.csv?program=coffee&amp;start=2026-01&amp;end=2026-04" in body

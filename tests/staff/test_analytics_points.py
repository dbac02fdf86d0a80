"""/staff/analytics/points/: the roll-forward the liability report gives, checked against the members' balances,
the liability in money with breakage apart, the triangle, the estimate's history and deferred revenue, each with
a CSV whose figures are the page's; bad dates answered in words."""

import csv
import io
import itertools
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine

from analytics.models import BreakageEstimate
from ledger.services import points_earn
from tests.analytics.test_breakage import four_months
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db

PAGE = "/staff/analytics/points/"
APRIL = {"start": "2026-04-01", "end": "2026-04-30"}
END_OF_APRIL = datetime(2026, 4, 30, 23, tzinfo=UTC)


@pytest.fixture
def book(program):
    program.time_zone, program.value_per_point = "UTC", Decimal("0.01")
    program.save()
    return four_months(program)


def get(client, url, **query):
    with time_machine.travel(END_OF_APRIL, tick=False):
        return client.get(url, query)


def read_csv(response) -> list[dict]:
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "text/csv"
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode("utf-8"))))


def text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


def test_the_page_shows_the_roll_forward_the_money_and_deferred_revenue(manager_client, book):
    response = get(manager_client, PAGE, **APRIL)
    assert response.status_code == 200
    page = text(response)
    # Opening 1,280 (1,000 + 500 − 300 − 200 + 400 − 150 + 150 − 120), then April: +130 earned, −150 reversed,
    # −50 redeemed, −400 expired: closing 810, what January (480), March (300) and April (30) hold.
    assert "Owed at the end of 30 Apr 2026 810" in page
    assert "Opening balance 1,280 12.80" in page and "Closing balance 810 8.10" in page
    assert "Earned purchases, events, bonuses +130" in page and "Expired −400" in page
    # Breakage of the open points (tests/analytics/test_breakage.py works the estimates): January 480 − (666 −
    # 420), March 300 − 84, April none: 234 + 216 = 450 points.
    assert "Liability before breakage every point owed, at full value 810 8.10" in page
    assert "Expected breakage open points each issue month is not expected to redeem −450 −4.50" in page
    assert "Liability net of breakage 360 3.60" in page
    # Deferred revenue: opening, deferred on issue, reversed, recognised on redemption, breakage, closing.
    assert "1 Apr 2026 to 30 Apr 2026 12.80 1.30 −1.50 −0.50 −4.00 8.10" in page
    assert "The figures reconcile to the ledger." in page
    for chart in ("points-bridge", "points-balance", "points-curves", "points-history", "points-deferred"):
        assert f'data-chart="{chart}-data"' in response.content.decode()


def test_the_roll_forward_csv_is_the_liability_reports_row_and_the_pages(manager_client, book):
    ours = read_csv(get(manager_client, f"{PAGE}roll-forward.csv", program=book.slug, **APRIL))
    report = read_csv(get(manager_client, "/staff/reports/liability.csv", program=book.slug, **APRIL))
    assert ours == report
    assert (ours[0]["opening_points"], ours[0]["earned_points"],
                                         ours[0]["reversed_points"], ours[0]["redeemed_points"],
                                         ours[0]["expired_points"], ours[0]["closing_points"],
                                         ours[0]["closing_value"]) == ("1280", "130", "150", "50", "400", "810",
                                                                       "8.10")


def test_the_roll_forward_reconciles_to_the_ledger_on_every_range(manager_client, book):
    for start, end in (("2026-01-01", "2026-01-31"), ("2026-02-15", "2026-03-20"), ("2026-01-10", "2026-04-30"),
                       ("2025-12-01", "2026-04-30")):
        query = {"program": book.slug, "start": start, "end": end}
        assert read_csv(get(manager_client, f"{PAGE}roll-forward.csv", **query)) == \
            read_csv(get(manager_client, "/staff/reports/liability.csv", **query))


def test_the_daily_csv_has_every_day_chained(manager_client, book):
    rows = read_csv(get(manager_client, f"{PAGE}daily.csv", program=book.slug, **APRIL))
    assert len(rows) == 30 and rows[0]["date"] == "2026-04-01" and rows[0]["opening_points"] == "1280"
    assert all(a["closing_points"] == b["opening_points"] for a, b in itertools.pairwise(rows))
    assert rows[-1]["closing_points"] == "810" and rows[-1]["closing_value"] == "8.10"
    assert sum(int(r["expired_points"]) for r in rows) == 400


def test_the_triangle_csv_has_each_issue_months_cumulative_shares(manager_client, book):
    rows = read_csv(get(manager_client, f"{PAGE}triangle.csv", program=book.slug, **APRIL))
    january = [r for r in rows if r["issue_month"] == "2026-01"]
    assert [(r["months_since_issue"], r["redeemed_points"], r["expired_points"], r["open_points"])
            for r in january] == [("0", "0", "0", "1500"), ("1", "300", "0", "1000"), ("2", "420", "0", "880"),
                                  ("3", "420", "400", "480")]
    assert (january[-1]["redeemed_share"], january[-1]["expired_share"], january[-1]["open_share"]) == \
        ("0.323077", "0.307692", "0.369231")


def test_the_estimates_csv_and_the_page_show_the_recorded_history(manager_client, book):
    rows = read_csv(get(manager_client, f"{PAGE}estimates.csv", program=book.slug))
    overall = [r for r in rows if r["issue_month"] == "all"]
    assert [r["as_of"] for r in overall] == ["2026-01-31", "2026-02-28", "2026-03-31", "2026-04-30"]
    assert (overall[-1]["ultimate_redeemed_points"], overall[-1]["ultimate_redemption_rate"],
            overall[-1]["breakage_rate"]) == ("830", "0.494048", "0.505952")
    assert len(rows) == BreakageEstimate.objects.filter(program=book).count()
    assert "30 Apr 2026 1,680 470 830 49.4 % 50.6 %" in text(get(manager_client, PAGE, **APRIL))


def test_the_deferred_revenue_csv_is_the_pages_table(manager_client, book):
    rows = read_csv(get(manager_client, f"{PAGE}deferred-revenue.csv", program=book.slug, start="2026-03-01",
                        end="2026-04-30"))
    assert [r["span"] for r in rows] == ["month", "month", "range"]
    whole = rows[-1]
    assert (whole["opening"], whole["deferred_on_issue"], whole["reversed_with_sale"],
            whole["recognised_on_redemption"], whole["closing"]) == ("10.00", "5.30", "1.50", "1.70", "8.10")
    assert Decimal(whole["opening"]) + Decimal(whole["deferred_on_issue"]) - Decimal(whole["reversed_with_sale"]) \
        - Decimal(whole["recognised_on_redemption"]) - Decimal(whole["recognised_breakage"]) == Decimal("8.10")
    page = text(get(manager_client, PAGE, start="2026-03-01", end="2026-04-30"))
    def down(value: str) -> str:  # what lowers the balance shows with a minus
        return value if Decimal(value) == 0 else f"−{value}"

    for row, label in ((rows[0], "Mar 2026"), (rows[1], "Apr 2026"), (whole, "1 Mar 2026 to 30 Apr 2026")):
        assert (f"{label} {row['opening']} {row['deferred_on_issue']} {down(row['reversed_with_sale'])} "
                f"{down(row['recognised_on_redemption'])} {down(row['recognised_breakage'])} {row['closing']}") in page


def test_when_the_ledger_moved_after_the_rollup_the_page_says_so(manager_client, book):
    with time_machine.travel(END_OF_APRIL + timedelta(minutes=5), tick=False):
        points_earn(member=MemberFactory(program=book), points=5, idempotency_key="late", source_type="test",
                    actor="test")
    page = text(get(manager_client, PAGE, **APRIL))
    assert "The figures do not reconcile to the ledger yet." in page
    assert "differs from the sum of every member's balance, 815 points" in page
    assert "The ledger has moved since the figures were rolled up (30 Apr 2026, 23:00)" in page


def test_a_program_without_points_reads_in_words(manager_client, program):
    page = text(manager_client.get(PAGE))
    assert "No points issued yet" in page and "The figures reconcile to the ledger." in page


@pytest.mark.parametrize(("query", "message"), [
    ({"start": "2026-13-01", "end": "2026-04-30"}, "Give a date as YYYY-MM-DD."),
    ({"start": "2026-04-30", "end": "2026-04-01"}, "The last date comes before the first."),
    ({"start": "2026-04-01"}, "Give the last date."),
])
def test_bad_dates_are_answered_with_a_message_by_the_field(manager_client, book, query, message):
    response = get(manager_client, PAGE, **query)
    assert response.status_code == 400 and message in response.content.decode()
    for table in ("roll-forward", "daily", "triangle", "estimates", "deferred-revenue"):
        refused = get(manager_client, f"{PAGE}{table}.csv", program=book.slug, **query)
        assert refused.status_code == 400 and message in refused.content.decode()


def test_the_page_links_each_csv_with_its_range(manager_client, book):
    body = get(manager_client, PAGE, **APRIL).content.decode()
    for table in ("roll-forward", "daily", "triangle", "estimates", "deferred-revenue"):
        assert f"{PAGE}{table}.csv?program={book.slug}&amp;start=2026-04-01&amp;end=2026-04-30" in body
    assert get(manager_client, f"{PAGE}nothing.csv", program=book.slug).status_code == 404


def test_default_range_is_this_month(manager_client, book):
    with time_machine.travel(datetime(2026, 4, 12, 9, tzinfo=UTC), tick=False):
        response = manager_client.get(PAGE)
    assert response.status_code == 200
    assert 'value="2026-04-01"' in response.content.decode() and 'value="2026-04-12"' in response.content.decode()


def test_agents_may_not_download_the_tables(agent_client, book):
    assert get(agent_client, f"{PAGE}roll-forward.csv", program=book.slug, **APRIL).status_code == 403

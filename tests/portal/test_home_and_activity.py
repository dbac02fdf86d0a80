"""The home page's tier targets, barcode and expiry schedule; the statement's filters."""

import re
from decimal import Decimal

import pytest
from django.utils import timezone

from ledger.services import points_adjust
from tests.ledger.support import earn, key, spend
from tests.tiers.conftest import ladder_define
from tiers.models import TierPolicy
from tiers.services import tier_activity_record


@pytest.fixture
def ladder(program):
    ladder_define(program)
    return program


@pytest.fixture
def spend_ladder(program):
    ladder_define(program, metric=TierPolicy.Metric.SPEND)
    return program


def qualify(member, points=0, spend=0):
    tier_activity_record(member=member, occurred_at=timezone.now(), points=points, spend=Decimal(spend),
                         source_type="test", source_id=key("q"), actor="test")


def test_home_draws_both_targets_as_bars(ladder, member_with_login, member_client):
    qualify(member_with_login, points=700)
    text = member_client.get(f"/portal/{ladder.slug}/").text
    assert "Your tier: Silver" in text and "700 points counted so far." in text
    assert "Keep Silver" in text and "Reach Gold" in text
    assert "1,300 points to go to reach Gold." in text
    assert re.search(r'<meter aria-labelledby="target-next"[^>]* max="2000.00" value="700.00"', text)


def test_a_calendar_year_says_by_when_the_next_tier_must_be_reached(ladder, member_with_login, member_client):
    ladder_define(ladder, window=TierPolicy.Window.CALENDAR_YEAR, downgrade=TierPolicy.Downgrade.END_OF_WINDOW)
    qualify(member_with_login, points=100)
    text = member_client.get(f"/portal/{ladder.slug}/").text
    assert re.search(r"400 points to go by 31 December \d{4} to reach Silver\.", text)


def test_spend_tiers_read_as_money_in_the_members_language(spend_ladder, member_with_login, member_client):
    ladder = spend_ladder
    member_with_login.language = "de"
    member_with_login.save(update_fields=["language"])
    text = member_client.get(f"/portal/{ladder.slug}/").text
    assert "Noch 500,00\xa0€, um Silver zu erreichen." in text


def test_without_tiers_there_is_no_tier_panel(member_client, program):
    assert "portal-tier-targets" not in member_client.get(f"/portal/{program.slug}/").text


def test_the_card_has_a_barcode_for_the_till(member_with_login, member_client):
    text = member_client.get(f"/portal/{member_with_login.program.slug}/").text
    assert re.search(rf'<svg class="portal-barcode" role="img" aria-label="Barcode of your card '
                     rf'{member_with_login.card_number}"', text)
    assert 'style=' not in text.split('class="portal-barcode"')[1].split("</svg>")[0]


def test_every_expiry_date_up_to_six_then_the_rest_together(member_with_login, member_client):
    for days in range(10, 90, 10):  # eight batches
        earn(member_with_login, days, expires_in_days=days)
    text = member_client.get(f"/portal/{member_with_login.program.slug}/").text
    panel = text.split('class="portal-expiry"')[1].split("</div>")[0]
    assert panel.count("<li>") == 7 and "150 later" in panel  # 70 + 80 after the first six


@pytest.fixture
def mixed_statement(member_with_login):
    earn(member_with_login, 300, description="Purchase at Main Street, receipt R-1")
    spend(member_with_login, 100)
    points_adjust(member=member_with_login, points=-25, reason="Correction: duplicate receipt",
                  actor="staff:1", idempotency_key=key("adj"))
    return member_with_login


@pytest.mark.parametrize(("show", "present", "absent"), [
    ("earned", ["Purchase at Main Street"], ["Correction", "−100", "-100"]),
    ("spent", ["-100"], ["Purchase at Main Street", "Correction"]),
    ("adjusted", ["Correction: duplicate receipt"], ["Purchase at Main Street"]),
    ("expired", ["Nothing of this kind yet."], ["Purchase at Main Street"]),
    ("", ["Purchase at Main Street", "Correction: duplicate receipt", "-100"], []),
    ("nonsense", ["Purchase at Main Street", "Correction: duplicate receipt"], []),
])
def test_activity_filters(mixed_statement, member_client, show, present, absent):
    response = member_client.get(f"/portal/{mixed_statement.program.slug}/activity/", {"show": show})
    assert response.status_code == 200
    statement = response.text.split("</nav>", 2)[-1]
    for words in present:
        assert words in statement
    for words in absent:
        assert words not in statement


def test_a_filtered_statement_pages_within_its_filter(member_with_login, member_client):
    for n in range(25):
        earn(member_with_login, n + 1, description=f"Visit {n}")
    text = member_client.get(f"/portal/{member_with_login.program.slug}/activity/?show=earned").text
    assert 'href="?show=earned&amp;page=2"' in text

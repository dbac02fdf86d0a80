"""The staff home in a real browser, on the demo program after a month of trading: today's figures with their
charts, the alerts each role may act on, desktop and tablet, axe-clean, and readable without JavaScript."""

import random
import re
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.utils import timezone
from playwright.sync_api import expect

from earning.services import purchase_record
from ledger.models import Kind, PointsAccount
from ledger.services import lots_expire_due, points_earn
from members.services import member_enrol
from notifications.models import Outbox
from notifications.services import outbox_send_due
from rewards.models import Reward
from rewards.services import reward_redeem
from staff.models import Adjustment, ReasonCode
from webhooks.models import WebhookDelivery, WebhookEndpoint

from .conftest import assert_accessible, no_horizontal_overflow, screenshot, staff_sign_in

pytestmark = pytest.mark.django_db(transaction=True)

# A fixed afternoon, so today has trading before "now" whatever the hour the tests run (the browser's
# session cookies are fine with a clock a few hours off).
NOW = datetime.combine(timezone.now().date(), time(15, 30), tzinfo=UTC)
FIRST_NAMES = ["Lena", "Omar", "Sofia", "Jonas", "Mia", "Noah", "Ella", "Felix", "Hana", "Luca", "Ines", "Theo"]
LAST_NAMES = ["Becker", "Costa", "Nowak", "Yilmaz", "Haas", "Moreau", "Lindqvist", "Rossi", "Kowalski", "Brandt"]


@pytest.fixture
def afternoon():
    with time_machine.travel(NOW, tick=True):
        yield


def trade_for_a_month(demo, *, seed: int = 19) -> None:
    """Thirty days of a small coffee chain: members join, buy, redeem free coffees, and promotion points
    that were not used expire; booked at the days' own times."""
    rng = random.Random(seed)
    program, store = demo.program, demo.store
    coffee = Reward.objects.get(program=program, code="FREE-COFFEE")
    members = list(demo.members)
    receipt = 0
    for back in range(29, -1, -1):
        day = NOW.date() - timedelta(days=back)
        weekend = day.weekday() >= 5
        last_hour = 15 if back == 0 else 20
        moments = sorted(datetime.combine(day, time(rng.randint(7, last_hour - 1), rng.randint(0, 59)), tzinfo=UTC)
                         for _ in range(rng.randint(10, 16) + (6 if weekend else 0)))
        for moment in moments:
            with time_machine.travel(moment, tick=False):
                if rng.random() < 0.25 or len(members) < 8:
                    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
                    members.append(member_enrol(program=program, store=store, first_name=first, last_name=last,
                                                email=f"{first}.{last}.{len(members)}@example.com".lower()))
                member = rng.choice(members)
                receipt += 1
                purchase_record(store=store, actor="test:till", external_id=f"R-{receipt}",
                                member_reference={"id": str(member.pk)}, currency="EUR",
                                total=Decimal(rng.randint(350, 2600)) / 100)
                if rng.random() < 0.2:
                    rich = (PointsAccount.objects.filter(program=program, available__gte=coffee.points_cost)
                            .select_related("member").order_by("-available", "pk").first())
                    if rich is not None:
                        reward_redeem(member=rich.member, reward=coffee, actor="test:till")
        if back % 6 == 0:  # a weekend promotion: points for a week
            with time_machine.travel(datetime.combine(day, time(9), tzinfo=UTC), tick=False):
                for member in rng.sample(members, 4):
                    points_earn(member=member, points=rng.choice([20, 30, 50]), kind=Kind.BONUS,
                                idempotency_key=f"promo:{day}:{member.pk}", source_type="promotion",
                                actor="test:promotion", expires_at=timezone.now() + timedelta(days=7),
                                description="Weekend promotion")
        with time_machine.travel(datetime.combine(day, time(23, 0), tzinfo=UTC), tick=False):
            lots_expire_due()
    outbox_send_due()  # the members' emails of the month, which a worker would have sent as they came


def troubles(demo) -> None:
    """What the alerts are about: an adjustment waiting, a failing webhook, stuck emails and ledger drift."""
    from django.contrib.auth import get_user_model

    program = demo.program
    anna = demo.members[0]
    agent = get_user_model().objects.get(username="demo-agent")
    Adjustment.objects.create(program=program, member=anna, points=1500, reason_code=ReasonCode.GOODWILL,
                              note="Machine broken for a week", requested_by=agent, idempotency_key="home-adj-1",
                              requested_at=timezone.now() - timedelta(hours=5))
    endpoint = WebhookEndpoint.objects.create(program=program, url="https://crm.example.com/loyalty/hooks",
                                              events=["points.earned"])
    for n in range(6):
        WebhookDelivery.objects.create(
            endpoint=endpoint, program=program, event_id=f"00000000-0000-0000-0000-{n:012d}",
            event_type="points.earned", payload={}, status="pending" if n < 4 else "failed", attempts=3 if n < 4 else 6,
            last_error="HTTP 503", response_code=503, created_at=timezone.now() - timedelta(hours=n + 1))
    for n in range(3):
        Outbox.objects.create(program=program, member=anna, kind="points_earned", category="transactional",
                              dedupe_key=f"home-stuck-{n}", to=anna.email, from_email="club@example.com",
                              attempts=3, last_error="SMTP 421: service not available",
                              created_at=timezone.now() - timedelta(hours=2, minutes=n))
    # one account's cached balance knocked off its entries, found by the nightly verification
    PointsAccount.objects.filter(member=demo.members[1]).update(available=12345)
    with pytest.raises(CommandError):
        call_command("ledger_verify")


@pytest.fixture
def month(demo, afternoon):
    trade_for_a_month(demo)
    return demo


def figure(page, key: str) -> str:
    return page.get_by_test_id(f"figure-{key}").inner_text()


def open_home(page, role: str) -> None:
    """Sign in as the demo program's manager, agent or analyst and open the home page."""
    staff_sign_in(page, f"demo-{role}", f"demo-{role}-2026")
    page.goto("/staff/")


def looks_right(page, name: str) -> None:
    assert no_horizontal_overflow(page)
    assert_accessible(page)
    screenshot(page, name)


def test_the_manager_sees_a_months_figures_and_every_alert_with_a_link_to_the_work(month, page):
    troubles(month)
    console = []
    page.on("console", lambda message: console.append(message.text))
    open_home(page, "manager")

    expect(page.get_by_role("heading", name="Today", level=1)).to_be_visible()
    for label in ("Enrolments", "Points issued", "Points redeemed", "Points expired", "Active members",
                  "Outstanding points"):
        expect(page.get_by_role("heading", name=label, exact=True)).to_be_visible()
    assert int(figure(page, "issued").replace(",", "")) > 0
    assert int(figure(page, "outstanding").replace(",", "")) > 0
    # every chart is drawn, and names what it shows
    charts = page.locator("canvas[role=img]")
    expect(charts).to_have_count(6)
    for n in range(6):
        assert charts.nth(n).bounding_box()["height"] > 30
        assert "last 30 days" in charts.nth(n).get_attribute("aria-label")
    assert [text for text in console if "Content Security Policy" in text or "rror" in text] == []

    alerts = page.get_by_role("region", name=re.compile("Needs attention"))
    for title in ("Ledger drift", "Webhooks failing", "Emails stuck in the outbox",
                  "Adjustments waiting for approval"):
        expect(alerts.get_by_role("heading", name=title)).to_be_visible()
    assert alerts.locator("li").first.get_attribute("id") == "alert-ledger"  # the worst first
    expect(alerts.get_by_role("link", name=month.members[1].full_name)).to_be_visible()
    looks_right(page, "staff-home-manager.png")

    page.get_by_role("link", name="Review approvals").click()
    expect(page).to_have_url(re.compile(r"/staff/approvals/$"))
    page.go_back()
    expect(alerts.get_by_role("link", name="Open webhook settings")).to_have_attribute(
        "href", "/staff/settings/webhooks/")


def test_the_day_by_day_tables_are_the_charts_text(month, page):
    open_home(page, "manager")
    recent, earlier = page.get_by_role("table").nth(0), page.get_by_role("table").nth(1)
    expect(recent.locator("tbody tr")).to_have_count(7)
    expect(earlier).to_be_hidden()
    page.get_by_text("Show the 23 days before").click()
    expect(earlier.locator("tbody tr")).to_have_count(23)
    today = recent.locator("tbody tr").first
    expect(today.get_by_role("rowheader")).to_have_text("Today")
    assert today.locator("td").nth(1).inner_text() == figure(page, "issued")
    assert today.locator("td").nth(5).inner_text() == figure(page, "outstanding")
    page.evaluate("window.scrollTo(0, 0)")  # a whole-page picture taken scrolled repeats the sticky top bar
    looks_right(page, "staff-home-days.png")


def test_an_agent_sees_the_figures_and_no_alert_an_agent_cannot_act_on(month, tablet_page):
    troubles(month)
    open_home(tablet_page, "agent")

    expect(tablet_page.get_by_role("heading", name="Points issued")).to_be_visible()
    expect(tablet_page.get_by_text("Needs attention")).to_have_count(0)
    expect(tablet_page.get_by_text("Checks", exact=True)).to_have_count(0)
    looks_right(tablet_page, "staff-home-agent-tablet.png")


def test_the_analyst_on_a_tablet_sees_drift_and_webhooks_but_not_approvals_or_emails(month, tablet_page):
    troubles(month)
    open_home(tablet_page, "analyst")

    alerts = tablet_page.get_by_role("region", name=re.compile("Needs attention"))
    expect(alerts.get_by_role("heading", name="Ledger drift")).to_be_visible()
    expect(alerts.get_by_role("heading", name="Webhooks failing")).to_be_visible()
    expect(tablet_page.get_by_text("Adjustments waiting for approval")).to_have_count(0)
    expect(tablet_page.get_by_text("Emails stuck in the outbox")).to_have_count(0)
    expect(alerts.get_by_role("link", name=month.members[1].full_name)).to_have_count(0)  # no member pages
    looks_right(tablet_page, "staff-home-analyst-tablet.png")


def test_the_superuser_with_nothing_to_worry_about_sees_every_check_green(month, page):
    call_command("ledger_verify")
    staff_sign_in(page, "staff", "demo-staff-2026")
    page.goto("/staff/")

    expect(page.get_by_text("Needs attention")).to_have_count(0)
    checks = page.get_by_role("region", name="Checks")
    expect(checks.locator(".badge-success")).to_have_count(5)  # ledger, webhooks, outbox, approvals, survey cases
    looks_right(page, "staff-home-all-clear.png")


def test_without_javascript_the_page_reads_the_same_without_charts(month, browser, live_server):
    context = browser.new_context(viewport={"width": 1280, "height": 800}, base_url=live_server.url,
                                  java_script_enabled=False)
    page = context.new_page()
    try:
        open_home(page, "manager")
        expect(page.get_by_role("heading", name="Outstanding points")).to_be_visible()
        assert int(figure(page, "outstanding").replace(",", "")) > 0
        expect(page.locator("canvas").first).to_be_hidden()
        expect(page.get_by_role("table").first.locator("tbody tr")).to_have_count(7)
        screenshot(page, "staff-home-no-js.png")
    finally:
        context.close()

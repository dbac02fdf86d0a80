"""Earning rules in a real browser: the demo manager builds a rule from its fields, sees what a purchase earns
with it before saving (and the till then earns exactly that), rewords an email and looks at webhooks; the analyst
previews without changing; the agent is refused. Desktop and tablet, axe-clean."""

import re

import pytest
from playwright.sync_api import expect

from earning.models import EarningRule
from staff.models import AuditEvent
from tests.conftest import pos_client

from .conftest import (
    DEMO_API_KEY,
    SCREENSHOTS,
    assert_accessible,
    no_horizontal_overflow,
    screenshot,
    staff_sign_in,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _fill_coffee_rule(page) -> None:
    page.get_by_label("Name", exact=True).fill("Double coffee")
    page.get_by_label("Code").fill("double-coffee")
    page.get_by_label("Product categories").fill("coffee")
    page.get_by_label("Multiplier").fill("2")
    item = page.get_by_role("group", name="Item 1")
    item.get_by_label("SKU").fill("LATTE")
    item.get_by_label("Category").fill("coffee")
    item.get_by_label("Quantity").fill("2")
    item.get_by_label("Unit price").fill("4.50")


def _shoot(page, name: str) -> None:
    """The whole page from its top (sticky parts stay where they belong), and what the screen shows now."""
    screenshot(page, name.replace(".png", "-view.png"), full_page=False)
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, name)


def _settled(page) -> None:
    """No preview on its way: the live preview answers a change a moment later."""
    page.wait_for_load_state("networkidle")
    expect(page.locator(".htmx-request")).to_have_count(0)


def _preview_total(page) -> int:
    return int(page.locator("#rule-preview [data-total-points]").get_attribute("data-total-points"))


def test_demo_manager_builds_a_rule_sees_what_it_earns_and_the_till_agrees(demo, page):
    staff_sign_in(page, "demo-manager", "demo-manager-2026")
    page.goto("/staff/settings/")
    page.get_by_role("navigation", name="Settings sections").get_by_role("link", name="Earning rules").click()
    assert_accessible(page)
    page.get_by_role("link", name="Add a rule").click()
    # Conditions that cannot apply to a purchase rule are out of the way.
    expect(page.get_by_label("Event types")).to_be_hidden()
    expect(page.locator("#id_unit_points")).to_be_hidden()

    _fill_coffee_rule(page)
    page.get_by_role("button", name="Preview earnings").click()
    preview = page.locator("#rule-preview")
    expect(preview).to_contain_text("This rule adds 9 points.")  # the extra ×1 on 2 × 4.50 of coffee
    assert _preview_total(page) == 29  # and 20 at the base rate for 20.00
    assert not EarningRule.objects.exists()  # a preview saves nothing
    _settled(page)
    assert_accessible(page)
    _shoot(page, "staff-rules-new-preview.png")

    # Live: changing a field answers again, without the button.
    page.get_by_label("Multiplier").fill("3")
    page.get_by_label("Multiplier").blur()
    expect(preview).to_contain_text("This rule adds 18 points.")

    page.get_by_role("button", name="Save rule").click()
    page.wait_for_load_state()
    expect(page.get_by_text("Rule Double coffee added.")).to_be_visible()
    expect(page.get_by_text("×3 points on the matching lines")).to_be_visible()
    assert_accessible(page)
    screenshot(page, "staff-rules-list.png")
    assert AuditEvent.objects.filter(action="earning_rule.create", actor_name="demo-manager").exists()

    # The till earns what the preview said, for the same purchase.
    answer = pos_client(DEMO_API_KEY).post("/api/v1/pos/purchases/", {
        "external_id": "E2E-RULE-1", "currency": "EUR", "total": "20.00",
        "member": {"card_number": demo.members[0].card_number},
        "lines": [{"sku": "LATTE", "category": "coffee", "quantity": 2, "unit_price": "4.50"}]}, format="json").json()
    assert {line["rule"]: line["points"] for line in answer["breakdown"]} == {"base": 20, "double-coffee": 18}

    # A refusal: the reason beside the field, nothing changed.
    page.get_by_role("link", name="Edit Double coffee").click()
    page.get_by_label("Multiplier").fill("1")
    page.get_by_role("button", name="Save rule").click()
    page.wait_for_load_state()
    expect(page.get_by_role("alert")).to_be_visible()
    expect(page.locator("#field-factor .field-error")).to_contain_text("greater than 1")
    assert EarningRule.objects.get(code="double-coffee").effect["factor"] == "3"
    assert_accessible(page)
    _shoot(page, "staff-rules-refused.png")


def test_rules_emails_and_webhooks_read_well_on_a_tablet(demo, tablet_page):
    page = tablet_page
    staff_sign_in(page, "demo-manager", "demo-manager-2026")
    page.goto("/staff/settings/rules/new/")
    _fill_coffee_rule(page)
    page.get_by_role("button", name="Preview earnings").click()
    expect(page.locator("#rule-preview")).to_contain_text("This rule adds 9 points.")
    _settled(page)
    assert_accessible(page)
    assert no_horizontal_overflow(page)
    _shoot(page, "staff-rules-new-tablet.png")

    # An email reworded and previewed with a sample member before it is saved.
    page.goto("/staff/settings/emails/")
    assert_accessible(page)
    assert no_horizontal_overflow(page)
    screenshot(page, "staff-emails-tablet.png")
    page.get_by_role("link", name=re.compile("Points earned, English")).click()
    page.get_by_label("Subject").fill("{{ member.first_name }}, {{ data.points }} points are yours")
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("#email-preview .email-subject")).to_have_text("Anna, 42 points are yours")
    assert_accessible(page)
    assert no_horizontal_overflow(page)
    _shoot(page, "staff-email-preview-tablet.png")
    # The email itself, in its sandboxed frame (a full-page capture leaves such frames blank).
    frame = page.frame_locator("#email-preview iframe")
    expect(frame.get_by_text("Hello Anna,")).to_be_visible()
    page.locator("#email-preview").scroll_into_view_if_needed()
    page.locator("#email-preview").screenshot(path=str(SCREENSHOTS / "staff-email-preview-frame-tablet.png"))
    page.get_by_role("button", name="Save wording").click()
    page.wait_for_load_state()
    expect(page.get_by_text("Own wording").first).to_be_visible()

    page.goto("/staff/settings/webhooks/")
    page.get_by_label("URL").fill("http://127.0.0.1:9/hooks")
    page.get_by_role("button", name="Add endpoint").click()
    page.wait_for_load_state()
    expect(page.locator("#field-url .field-error")).to_contain_text("loopback")
    assert_accessible(page)
    assert no_horizontal_overflow(page)
    screenshot(page, "staff-webhooks-refused-tablet.png")


def test_analyst_previews_a_rule_without_changing_it_and_the_agent_is_refused(demo, page, browser, live_server):
    rule = EarningRule.objects.create(program=demo.program, code="morning-coffee", name="Morning coffee",
                                      effect={"kind": "multiplier", "factor": "2"},
                                      conditions=[{"kind": "category", "categories": ["coffee"]}])
    staff_sign_in(page, "demo-analyst", "demo-analyst-2026")
    page.goto(f"/staff/settings/rules/{rule.pk}/")
    expect(page.get_by_text("Read only.")).to_be_visible()
    assert page.get_by_label("Multiplier").is_disabled()
    assert page.get_by_role("button", name="Save rule").count() == 0
    page.get_by_label(re.compile("Purchase total")).fill("50.00")
    page.get_by_role("button", name="Preview earnings").click()
    expect(page.locator("#rule-preview [data-total-points]")).to_have_attribute("data-total-points", "59")
    expect(page.locator("#rule-preview")).to_contain_text("This rule adds 9 points.")
    _settled(page)
    assert_accessible(page)
    _shoot(page, "staff-rules-analyst.png")

    agent = browser.new_context(viewport={"width": 1280, "height": 800}, base_url=live_server.url).new_page()
    staff_sign_in(agent, "demo-agent", "demo-agent-2026")
    for path in ("/staff/settings/rules/", f"/staff/settings/rules/{rule.pk}/", "/staff/settings/emails/",
                 "/staff/settings/webhooks/"):
        assert agent.goto(path).status == 403, path
    agent.context.close()

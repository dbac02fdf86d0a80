"""Finding a member and explaining their points in a real browser: the demo agent searches, opens Anna's page, reads
her statement and asks why a purchase earned what it did and what counted for her tier; desktop and tablet, axe-clean.
The analyst is refused the member pages."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from earning.services import earning_rule_create, purchase_record
from programs.models import StoreApiKey
from rewards.models import Reward
from rewards.services import reward_redeem

from .conftest import assert_accessible, no_horizontal_overflow, screenshot, staff_sign_in

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def anna(demo):
    """Anna with a morning's coffee under a double-points rule, an older basket, and a free coffee taken."""
    program, store, anna = demo.program, demo.store, demo.members[0]
    earning_rule_create(program=program, code="coffee-x2", name="Double on coffee",
                        conditions=[{"kind": "category", "categories": ["coffee"]}],
                        effect={"kind": "multiplier", "factor": "2"}, cap_per_purchase=40)
    earning_rule_create(program=program, code="weekend", name="Weekend treat",
                        conditions=[{"kind": "day_of_week", "days": ["sat", "sun"]}],
                        effect={"kind": "fixed_bonus", "points": 25})
    lines = [{"sku": "LATTE", "category": "coffee", "quantity": 2, "unit_price": "4.50"},
             {"sku": "CROISSANT", "category": "bakery", "quantity": 1, "unit_price": "3.00"}]
    till = f"api_key:{StoreApiKey.objects.filter(store=store).values_list('pk', flat=True).first()}"
    for number, (days, total) in enumerate(((12, "61.00"), (0, "12.00"))):
        purchase_record(store=store, actor=till, external_id=f"DEMO-{number + 1}",
                        member_reference={"id": str(anna.pk)}, currency="EUR", total=Decimal(total),
                        occurred_at=timezone.now() - timedelta(days=days), lines=lines)
    reward_redeem(member=anna, reward=Reward.objects.get(program=program, code="FREE-COFFEE"), store=store,
                  actor=till)
    return anna


def find_and_explain(page, anna, size: str) -> None:
    page.goto("/staff/members/")
    assert_accessible(page)
    page.get_by_label("Find a member").fill("anna schm")
    page.get_by_role("button", name="Search").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", name="1 member matches").is_visible()
    assert_accessible(page)
    assert no_horizontal_overflow(page)
    screenshot(page, f"staff-members-search-{size}.png")

    page.get_by_role("link", name="Anna Schmidt").click()
    page.wait_for_load_state()
    assert page.url.endswith(f"/staff/members/{anna.pk}/")
    assert page.get_by_role("heading", name="Anna Schmidt", level=1).is_visible()
    statement = page.get_by_role("region", name="Statement")
    assert statement.get_by_text("Purchase DEMO-2 at Demo store DEMO-001, 12.00 EUR").is_visible()  # why
    assert statement.get_by_text("“Purchase DEMO-2 at Demo store DEMO-001”").is_visible()  # what the member sees
    assert statement.get_by_text("Redeemed Free coffee: voucher").is_visible()
    assert page.get_by_label("Points").is_visible() and page.get_by_label("Reason").is_visible()
    assert_accessible(page)
    assert no_horizontal_overflow(page)
    screenshot(page, f"staff-member-page-{size}.png")

    statement.get_by_role("link", name="Explain these points").first.click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", name="Receipt DEMO-2").is_visible()
    fired = page.get_by_role("article", name="Double on coffee")
    assert fired.get_by_text("Wants a line with category coffee; saw LATTE (coffee) ×2").is_visible()
    idle = page.get_by_role("article", name="Weekend treat")
    assert idle.get_by_text("Conditions not met").is_visible() or idle.get_by_text("+25").is_visible()
    assert_accessible(page)
    assert no_horizontal_overflow(page)
    screenshot(page, f"staff-member-explain-purchase-{size}.png")

    page.get_by_role("link", name="Back to the member").click()
    page.get_by_role("link", name="Which activity counted").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", name="Bronze: what counted").is_visible()
    assert page.get_by_role("link", name="Receipt DEMO-1").is_visible()
    assert_accessible(page)
    assert no_horizontal_overflow(page)
    screenshot(page, f"staff-member-explain-tier-{size}.png")


def test_the_agent_finds_anna_and_explains_her_points_on_a_desktop(anna, page):
    staff_sign_in(page, "demo-agent", "demo-agent-2026")
    find_and_explain(page, anna, "desktop")


def test_the_agent_finds_anna_and_explains_her_points_on_a_tablet(anna, tablet_page):
    staff_sign_in(tablet_page, "demo-agent", "demo-agent-2026")
    find_and_explain(tablet_page, anna, "tablet")


def test_the_analyst_is_refused_the_member_pages(anna, page):
    staff_sign_in(page, "demo-analyst", "demo-analyst-2026")
    for url in ("/staff/members/?q=anna", f"/staff/members/{anna.pk}/", f"/staff/members/{anna.pk}/tier/explain/"):
        response = page.goto(url)
        assert response.status == 403

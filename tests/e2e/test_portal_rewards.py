"""Rewards and vouchers in a real browser, on a phone and at a desk: Anna browses the catalogue by category, reads
why some rewards are out of reach, pays part of a bill with the points she chooses, undoes it, redeems a coffee
and finds it among her vouchers. Every page axe-clean and no wider than the screen."""

import io
from decimal import Decimal

import pytest
from django.core.files.base import ContentFile
from PIL import Image, ImageDraw
from playwright.sync_api import expect

from ledger.services import points_earn
from rewards.models import Redemption, Reward
from rewards.services import reward_category_create, reward_create, reward_redeem, reward_update
from tests.conftest import pos_client

from .conftest import DEMO_API_KEY, assert_accessible, no_horizontal_overflow, screenshot, staff_sign_in
from .test_portal import sign_in

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def _picture(colour, name: str) -> ContentFile:
    image = Image.new("RGB", (320, 320), (246, 240, 230))
    ImageDraw.Draw(image).ellipse((60, 60, 260, 260), fill=colour)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return ContentFile(out.getvalue(), name=name)


@pytest.fixture
def anna(demo):
    """Anna with 900 points, a catalogue in three categories with pictures, a pay-with-points reward, and a
    weekly croissant she has already had this week."""
    program, anna = demo.program, demo.members[0]
    rewards = {r.code: r for r in Reward.objects.filter(program=program)}
    drinks, gifts, savings = (reward_category_create(program=program, name=name)
                              for name in ("Drinks", "Gifts", "Savings"))
    reward_update(reward=rewards["FREE-COFFEE"], categories=[drinks], description="Any size, any milk.",
                  image=_picture((120, 72, 40), "coffee.png"))
    reward_update(reward=rewards["GOLD-LOUNGE"], categories=[drinks])
    reward_update(reward=rewards["TOTE-BAG"], categories=[gifts], description="Organic cotton, with our logo.",
                  image=_picture((74, 63, 224), "tote.png"))
    croissant = reward_create(program=program, code="CROISSANT", name="Breakfast croissant", points_cost=80,
                              limit_per_member=1, limit_period="week", categories=[drinks])
    reward_create(program=program, code="POINTS-OFF", name="Points off your bill", type="pay_with_points",
                  points_min=100, points_max=1000, points_step=50, money_per_point=Decimal("0.01"),
                  description="Use points to pay part of your bill.", categories=[savings])
    points_earn(member=anna, points=980, idempotency_key="e2e-rewards", source_type="test", actor="test")
    reward_redeem(member=anna, reward=croissant, actor="test")
    return anna


def balance(anna) -> int:
    return pos_client(DEMO_API_KEY).get("/api/v1/pos/members/lookup/", {"email": anna.email}).json()["balance"][
        "available"]


def check(page, name: str) -> None:
    assert no_horizontal_overflow(page), page.url
    assert_accessible(page)
    screenshot(page, name)


def walk(page, anna, size: str) -> None:
    slug = anna.program.slug
    sign_in(page, slug, anna.email)
    page.get_by_role("navigation", name="Portal").get_by_role("link", name="Rewards").click()
    page.wait_for_url("**/rewards/")
    categories = page.get_by_role("navigation", name="Reward categories")
    assert categories.get_by_role("link").all_inner_texts() == ["All", "Drinks", "Gifts", "Savings"]
    expect(page.get_by_role("listitem").filter(has_text="Gold lounge access").get_by_text(
        "Gold members only")).to_be_visible()
    expect(page.get_by_role("listitem").filter(has_text="Breakfast croissant").get_by_text(
        "Limit reached until")).to_be_visible()
    picture = page.locator('img[src$="/rewards/TOTE-BAG/image"]')
    picture.scroll_into_view_if_needed()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=picture.element_handle())
    check(page, f"portal-rewards-all-{size}.png")

    categories.get_by_role("link", name="Drinks").click()
    page.wait_for_url("**/rewards/?category=drinks")
    expect(page.get_by_role("heading", name="Free coffee")).to_be_visible()
    expect(page.get_by_role("heading", name="Canvas tote bag")).to_have_count(0)
    check(page, f"portal-rewards-drinks-{size}.png")

    # Pay with points: a wrong amount is answered beside the field, then the chosen amount is redeemed.
    categories.get_by_role("link", name="Savings").click()
    page.wait_for_url("**/rewards/?category=savings")
    page.get_by_role("listitem").filter(has_text="Points off your bill").get_by_role("button", name="Redeem").click()
    page.wait_for_load_state()
    field = page.get_by_label("Points to use")
    expect(page.get_by_text("Between 100 and 1,000, in steps of 50. You have 900 points.")).to_be_visible()
    field.fill("125")
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_load_state()
    expect(page.locator("#id_points_error")).to_contain_text("Choose an amount the reward takes")
    assert balance(anna) == 900 and not Redemption.objects.filter(reward__code="POINTS-OFF").exists()
    check(page, f"portal-pay-with-points-error-{size}.png")
    page.get_by_label("Points to use").fill("300")
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_load_state()
    expect(page.get_by_text("€3.00 off your bill")).to_be_visible()
    assert balance(anna) == 600
    undo = page.get_by_role("button", name="Undo redemption")
    expect(undo).to_be_visible()
    expect(page.get_by_text("You can undo this redemption for 15 more minutes")).to_be_visible()
    check(page, f"portal-voucher-undo-{size}.png")

    # Undo: the points come back, the voucher is cancelled, the button is gone.
    undo.click()
    page.wait_for_load_state()
    expect(page.get_by_text("Redemption undone: 300 points are back in your account.")).to_be_visible()
    expect(page.get_by_role("button", name="Undo redemption")).to_have_count(0)
    assert balance(anna) == 900
    code = page.get_by_test_id("voucher-code").inner_text()
    assert pos_client(DEMO_API_KEY).get(f"/api/v1/pos/vouchers/{code}/").json()["status"] == "cancelled"
    check(page, f"portal-voucher-undone-{size}.png")

    # A coffee, then My vouchers: the coffee ready with its QR code, the undone one among the past.
    page.get_by_role("navigation", name="Portal").get_by_role("link", name="Rewards").click()
    page.get_by_role("listitem").filter(has_text="Free coffee").get_by_role("button", name="Redeem").click()
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_load_state()
    coffee_code = page.get_by_test_id("voucher-code").inner_text()
    page.get_by_role("navigation", name="Portal").get_by_role("link", name="Vouchers").click()
    page.wait_for_url("**/vouchers/")
    expect(page.get_by_role("heading", name="My vouchers")).to_be_visible()
    expect(page.get_by_role("img", name=f"QR code of voucher {coffee_code}")).to_be_visible()
    past = page.get_by_role("region", name="Used, expired and cancelled")
    undone = past.get_by_role("listitem").filter(has_text="Points off your bill")
    expect(undone.get_by_text("Cancelled")).to_be_visible()
    check(page, f"portal-vouchers-{size}.png")
    page.get_by_role("link", name="Free coffee").click()
    expect(page.get_by_test_id("voucher-code")).to_have_text(coffee_code)


def test_rewards_and_vouchers_on_a_phone(phone_page, anna):
    walk(phone_page, anna, "phone")


def test_rewards_and_vouchers_at_a_desk(page, anna):
    walk(page, anna, "desktop")


def test_the_vouchers_page_in_german(phone_page, anna):
    anna.language = "de"
    anna.save(update_fields=["language"])
    page = phone_page
    sign_in(page, anna.program.slug, anna.email)
    page.goto(f"/portal/{anna.program.slug}/rewards/")
    expect(page.get_by_role("navigation", name="Prämienkategorien")).to_be_visible()
    expect(page.get_by_text("Nur für Gold-Mitglieder")).to_be_visible()
    check(page, "portal-rewards-de-phone.png")
    page.get_by_role("navigation", name="Portal").get_by_role("link", name="Gutscheine").click()
    page.wait_for_load_state()
    expect(page.get_by_role("heading", name="Meine Gutscheine")).to_be_visible()
    check(page, "portal-vouchers-de-phone.png")


def test_the_manager_shortens_the_undo_window_and_the_voucher_says_so(page, anna):
    staff_sign_in(page, "demo-manager", "demo-manager-2026")
    page.goto("/staff/settings/")
    field = page.get_by_label("Undo window (minutes)")
    assert field.input_value() == "15"
    expect(page.get_by_text("0 turns undo off")).to_be_visible()
    assert page.get_by_label("Daily transfer limit (points)").input_value() == "10000"
    field.fill("5")
    page.get_by_role("button", name="Save settings").click()
    page.wait_for_load_state()
    expect(page.get_by_text("Settings saved.")).to_be_visible()
    expect(page.get_by_text("Members may undo a redemption within 5 minutes")).to_be_visible()
    assert_accessible(page)
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_load_state()

    sign_in(page, anna.program.slug, anna.email)
    page.goto(f"/portal/{anna.program.slug}/rewards/FREE-COFFEE/redeem/")
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_load_state()
    expect(page.get_by_text("You can undo this redemption for 5 more minutes")).to_be_visible()

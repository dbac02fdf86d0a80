"""The member portal in a real browser: Anna signs in on her phone and at a desk, sees her points and card,
redeems a free coffee and shows the voucher; the till finds it issued. Every page axe-clean, none wider
than the screen."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from earning.services import purchase_record
from programs.demo import DEMO_MEMBER_PASSWORD
from programs.models import StoreApiKey
from tests.conftest import pos_client

from .conftest import DEMO_API_KEY, assert_accessible, no_horizontal_overflow, screenshot

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def anna(demo):
    """Anna with two purchases: one whose points are available, one still pending."""
    store, anna = demo.store, demo.members[0]
    till = f"api_key:{StoreApiKey.objects.filter(store=store).values_list('pk', flat=True).first()}"
    lines = [{"sku": "LATTE", "category": "coffee", "quantity": 2, "unit_price": "4.50"}]
    for number, days in enumerate((40, 0)):
        purchase_record(store=store, actor=till, external_id=f"PORTAL-{number}", member_reference={"id": str(anna.pk)},
                        currency="EUR", total=Decimal("120.00"), occurred_at=timezone.now() - timedelta(days=days),
                        lines=lines)
    return anna


def sign_in(page, slug: str, email: str) -> None:
    page.goto(f"/portal/{slug}/login/")
    assert_accessible(page)
    screenshot(page, f"portal-login-{page.viewport_size['width']}.png")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(DEMO_MEMBER_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def walk(page, anna, size: str) -> None:
    slug = anna.program.slug
    sign_in(page, slug, anna.email)
    till = pos_client(DEMO_API_KEY)
    balance = till.get("/api/v1/pos/members/lookup/", {"email": anna.email}).json()["balance"]
    assert page.get_by_test_id("available").inner_text().replace(",", "") == str(balance["available"])
    assert page.get_by_role("img", name="QR code of your card").is_visible()
    barcode = page.get_by_role("img", name=f"Barcode of your card {anna.card_number}")
    assert barcode.bounding_box()["width"] >= 300  # wide enough for a laser scanner off a phone screen
    assert page.get_by_text(anna.card_number).is_visible()
    assert page.get_by_role("meter", name="Reach Silver").is_visible()
    assert no_horizontal_overflow(page)
    assert_accessible(page)
    screenshot(page, f"portal-home-{size}.png")

    page.get_by_role("link", name="Rewards", exact=True).click()
    assert no_horizontal_overflow(page)
    assert_accessible(page)
    screenshot(page, f"portal-rewards-{size}.png")
    page.get_by_role("listitem").filter(has_text="Free coffee").get_by_role("button", name="Redeem").click()
    assert_accessible(page)
    screenshot(page, f"portal-confirm-{size}.png")
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_load_state()
    code = page.get_by_test_id("voucher-code").inner_text()
    assert page.get_by_role("img", name=f"QR code of voucher {code}").is_visible()
    assert no_horizontal_overflow(page)
    assert_accessible(page)
    screenshot(page, f"portal-voucher-{size}.png")
    assert till.get(f"/api/v1/pos/vouchers/{code}/").json()["status"] == "issued"

    page.get_by_role("link", name="Activity").click()
    assert page.get_by_text("Free coffee").first.is_visible()
    assert no_horizontal_overflow(page)
    assert_accessible(page)
    screenshot(page, f"portal-activity-{size}.png")
    page.get_by_role("link", name="Spent").click()
    page.wait_for_url("**/activity/?show=spent")
    assert page.get_by_role("link", name="Spent").get_attribute("aria-current") == "page"
    assert page.get_by_text("Free coffee").first.is_visible()
    assert page.locator(".portal-points.is-plus").count() == 0
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_load_state()
    assert "/login/" in page.url


def test_anna_on_her_phone(phone_page, anna):
    walk(phone_page, anna, "phone")


def test_anna_at_a_desk_in_another_brand(page, anna):
    # A teal café: the portal takes the program's accent for its card, buttons and tabs.
    anna.program.accent_color = "#0f766e"
    anna.program.save(update_fields=["accent_color"])
    walk(page, anna, "desktop")
    page.goto(f"/portal/{anna.program.slug}/login/")
    button = page.get_by_role("button", name="Sign in")
    assert button.evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(15, 118, 110)"


def test_joining_on_a_phone_and_a_wrong_password(phone_page, demo):
    page, slug = phone_page, demo.program.slug
    page.goto(f"/portal/{slug}/login/")
    page.get_by_label("Email").fill(demo.members[1].email)
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    assert page.get_by_text("do not match").is_visible()
    assert_accessible(page)

    page.get_by_role("link", name="Join now").click()
    page.get_by_role("button", name="Join").click()  # nothing filled in: each field says what it needs
    assert page.locator(".field-error").count() == 4
    assert_accessible(page)
    screenshot(page, "portal-signup-errors-phone.png")
    page.get_by_label("Email").fill("dora.weiss@example.com")
    page.get_by_label("Password").fill("bright-copper-kettle")
    page.get_by_label("First name").fill("Dora")
    page.get_by_label("Last name").fill("Weiss")
    page.get_by_role("button", name="Join").click()
    page.wait_for_load_state()
    assert page.get_by_role("img", name="QR code of your card").is_visible()
    found = pos_client(DEMO_API_KEY).get("/api/v1/pos/members/lookup/", {"email": "dora.weiss@example.com"})
    assert found.status_code == 200 and found.json()["first_name"] == "Dora"

"""The profile in a real browser, on a phone and at a desk: Anna edits her details, withdraws her consent to
offers, downloads her data and deletes her account; then her old password opens nothing and the till no
longer finds her card. Every page axe-clean, none wider than the screen."""

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from earning.services import purchase_record
from programs.demo import DEMO_MEMBER_PASSWORD
from programs.models import StoreApiKey
from tests.conftest import pos_client

from .conftest import DEMO_API_KEY, assert_accessible, no_horizontal_overflow, screenshot
from .test_portal import sign_in

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def anna(demo):
    store, anna = demo.store, demo.members[0]
    till = f"api_key:{StoreApiKey.objects.filter(store=store).values_list('pk', flat=True).first()}"
    purchase_record(store=store, actor=till, external_id="PROFILE-1", member_reference={"id": str(anna.pk)},
                    currency="EUR", total=Decimal("42.00"), occurred_at=timezone.now() - timedelta(days=3),
                    lines=[{"sku": "LATTE", "category": "coffee", "quantity": 1, "unit_price": "42.00"}])
    return anna


def check(page, name: str) -> None:
    assert no_horizontal_overflow(page), page.url
    assert_accessible(page)
    screenshot(page, name)


def walk(page, anna, size: str, tmp_path) -> None:
    slug, card, email = anna.program.slug, anna.card_number, anna.email
    sign_in(page, slug, email)
    page.get_by_role("link", name="Profile").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", name="Profile", exact=True).is_visible()
    assert page.get_by_label("Email", exact=True).input_value() == email
    check(page, f"portal-profile-{size}.png")

    # Details: a bad phone number is said beside the field, then a good one is saved.
    page.get_by_label("Phone").fill("12")
    page.get_by_role("button", name="Save details").click()
    page.wait_for_load_state()
    assert page.locator("#field-phone .field-error").is_visible()
    check(page, f"portal-profile-error-{size}.png")
    page.get_by_label("First name").fill("Annabel")
    page.get_by_label("Phone").fill("+49 151 5550 1234")
    page.get_by_label("Birth date").fill("1991-04-23")
    page.get_by_role("button", name="Save details").click()
    page.wait_for_load_state()
    assert page.get_by_text("Your details are saved.").is_visible()
    assert page.get_by_label("First name").input_value() == "Annabel"
    found = pos_client(DEMO_API_KEY).get("/api/v1/pos/members/lookup/", {"card_number": card}).json()
    assert (found["first_name"], found["phone"], found["birth_date"]) == ("Annabel", "+4915155501234", "1991-04-23")

    # German at once, and back to the browser's choice.
    page.get_by_label("Language").select_option("de")
    page.get_by_role("button", name="Save details").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", name="Profil", exact=True).is_visible()
    assert page.locator("html").get_attribute("lang") == "de"
    check(page, f"portal-profile-de-{size}.png")
    page.get_by_label("Sprache").select_option("")
    page.get_by_role("button", name="Angaben speichern").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", name="Profile", exact=True).is_visible()

    # Consent: the demo members agreed through the team; Anna withdraws in the portal.
    said = page.get_by_test_id("consent-said")
    assert "You agreed on" in said.inner_text() and "through our team" in said.inner_text()
    offers = page.get_by_label("Email me offers and news")
    assert offers.is_checked()
    offers.uncheck()
    page.get_by_role("button", name="Save preferences").click()
    page.wait_for_load_state()
    assert page.get_by_label("Email me offers and news").is_checked() is False
    assert "You withdrew your agreement on" in said.inner_text() and "in the portal" in said.inner_text()
    check(page, f"portal-profile-consent-{size}.png")

    # The data file.
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download my data").click()
    download = download_info.value
    assert download.suggested_filename == f"{slug}-{card}-data.json"
    path = tmp_path / download.suggested_filename
    download.save_as(path)
    data = json.loads(path.read_text())
    assert data["profile"]["first_name"] == "Annabel" and data["profile"]["card_number"] == card
    assert data["marketing_consent"]["email_offers_and_news"] is False
    assert data["marketing_consent"]["source"] == "portal"
    assert [p["external_id"] for p in data["purchases"]] == ["PROFILE-1"]
    assert data["ledger_entries"] and all(entry["public_id"] for entry in data["ledger_entries"])

    # Deleting: a wrong password changes nothing, the right one deletes.
    page.get_by_role("link", name="Delete my account").click()
    page.wait_for_load_state()
    assert page.get_by_text("cannot be undone").is_visible()
    check(page, f"portal-profile-delete-{size}.png")
    page.get_by_label("Password").fill("not-my-password")
    page.get_by_label("I understand").check()
    page.get_by_role("button", name="Delete my account").click()
    page.wait_for_load_state()
    assert page.locator("#field-password .field-error").inner_text() == "This is not your password."
    check(page, f"portal-profile-delete-error-{size}.png")
    page.get_by_label("Password").fill(DEMO_MEMBER_PASSWORD)
    page.get_by_label("I understand").check()
    page.get_by_role("button", name="Delete my account").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", name="Your account is deleted").is_visible()
    assert page.get_by_role("button", name="Sign out").count() == 0
    check(page, f"portal-profile-goodbye-{size}.png")

    # The old password opens nothing; the till no longer knows the card.
    page.goto(f"/portal/{slug}/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(DEMO_MEMBER_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    assert page.get_by_text("do not match").is_visible()
    assert pos_client(DEMO_API_KEY).get("/api/v1/pos/members/lookup/", {"card_number": card}).status_code == 404


def test_anna_manages_her_profile_on_her_phone(phone_page, anna, tmp_path):
    walk(phone_page, anna, "phone", tmp_path)


def test_anna_manages_her_profile_at_a_desk(page, anna, tmp_path):
    walk(page, anna, "desktop", tmp_path)

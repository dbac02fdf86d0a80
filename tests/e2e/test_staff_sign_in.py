"""The staff sign-in page in a real browser: the contract's labels, the dashboard behind it, axe-clean."""

import pytest

from .conftest import assert_accessible, screenshot, staff_sign_in

pytestmark = pytest.mark.django_db(transaction=True)


def test_demo_manager_signs_in_to_the_dashboard(demo, page):
    page.goto("/staff/")
    assert "/staff/login/" in page.url
    assert_accessible(page)
    screenshot(page, "staff-login.png", full_page=False)
    staff_sign_in(page, "demo-manager", "demo-manager-2026")
    assert page.url.endswith("/staff/")
    assert page.get_by_text("Demo Coffee Club").first.is_visible()
    assert_accessible(page)


def test_a_wrong_password_says_so_beside_the_form(demo, page):
    staff_sign_in(page, "demo-agent", "not-the-password")
    assert "/staff/login/" in page.url
    assert page.get_by_role("alert").is_visible()
    assert_accessible(page)


def test_on_a_phone_sign_out_stays_on_the_screen_and_the_account_is_a_section(demo, phone_page):
    page = phone_page
    staff_sign_in(page, "demo-manager", "demo-manager-2026")
    sign_out = page.get_by_role("button", name="Sign out")
    box = sign_out.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= page.viewport_size["width"]
    assert page.get_by_text("Demo Coffee Club").first.is_visible()
    screenshot(page, "staff-home-phone.png", full_page=False)
    account = page.get_by_role("navigation", name="Dashboard").get_by_role("link", name="Your account")
    account.scroll_into_view_if_needed()
    account.click()
    page.wait_for_load_state()
    assert page.url.endswith("/staff/account/")
    assert_accessible(page)

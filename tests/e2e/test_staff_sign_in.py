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

"""Two-factor sign-in in a real browser: a manager sets up an authenticator app from the account page, signs out,
and signs in again with password and code; a wrong code is refused; a program that requires it sends its
manager to set it up first. Every page axe-clean, screenshots at desktop and tablet sizes."""

import re
from datetime import timedelta

import pyotp
import pytest
from django.utils import timezone

from .conftest import assert_accessible, screenshot, staff_sign_in

pytestmark = pytest.mark.django_db(transaction=True)


def code_for(secret: str, steps_ahead: int = 0) -> str:
    return pyotp.TOTP(secret).at(timezone.now() + timedelta(seconds=30 * steps_ahead))


def test_a_manager_turns_on_two_factor_and_signs_in_with_a_code(demo, page):
    staff_sign_in(page, "demo-manager", "demo-manager-2026")
    page.get_by_role("link", name=re.compile("demo-manager")).click()
    assert page.url.endswith("/staff/account/")
    assert_accessible(page)
    screenshot(page, "staff-account-two-factor-off.png")

    page.get_by_role("button", name="Set up an authenticator app").click()
    assert page.get_by_role("img", name=re.compile("QR")).is_visible()
    secret = "".join(page.locator("#totp-secret").inner_text().split())
    assert_accessible(page)
    screenshot(page, "staff-account-two-factor-set-up.png")

    page.get_by_label("Code").fill(code_for(secret))
    page.get_by_role("button", name="Turn on two-factor sign-in").click()
    assert page.get_by_text("Two-factor sign-in is on", exact=False).first.is_visible()
    assert page.locator("#totp-secret").count() == 0
    assert_accessible(page)
    screenshot(page, "staff-account-two-factor-on.png")

    page.get_by_role("button", name="Sign out").click()
    staff_sign_in(page, "demo-manager", "demo-manager-2026")
    assert page.url.endswith("/staff/login/code/")
    assert_accessible(page)
    screenshot(page, "staff-sign-in-code.png", full_page=False)

    right = {code_for(secret, step) for step in (-1, 0, 1, 2)}
    page.get_by_label("Code").fill(next(c for c in ("000000", "123456", "999999") if c not in right))
    page.get_by_role("button", name="Verify").click()
    assert page.get_by_role("alert").is_visible()
    assert page.get_by_text("That code is not right", exact=False).first.is_visible()
    assert_accessible(page)
    screenshot(page, "staff-sign-in-code-wrong.png", full_page=False)

    # the code used to turn it on is spent: the app's next one signs in
    page.get_by_label("Code").fill(code_for(secret, 1))
    page.get_by_role("button", name="Verify").click()
    page.wait_for_url("**/staff/")
    assert page.get_by_text("Demo Coffee Club").first.is_visible()


def test_a_program_that_requires_it_sends_its_manager_to_set_it_up_first(demo, tablet_page):
    from staff.models import StaffPolicy

    StaffPolicy.objects.filter(program=demo.program).update(manager_mfa_required=True)
    page = tablet_page
    staff_sign_in(page, "demo-manager", "demo-manager-2026")
    assert "/staff/account/?next=" in page.url
    assert page.get_by_role("heading", name="Set up two-factor sign-in to continue").is_visible()
    assert_accessible(page)
    screenshot(page, "staff-account-two-factor-required-tablet.png")

    page.get_by_role("button", name="Set up an authenticator app").click()
    secret = "".join(page.locator("#totp-secret").inner_text().split())
    assert_accessible(page)
    screenshot(page, "staff-account-two-factor-set-up-tablet.png")
    page.get_by_label("Code").fill(code_for(secret))
    page.get_by_role("button", name="Turn on two-factor sign-in").click()
    page.wait_for_url("**/staff/")
    assert_accessible(page)

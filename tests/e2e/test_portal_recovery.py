"""Getting into the portal by email, in a real browser on a phone and at a desk: Ben forgets his password and sets
a new one by the emailed link; Anna confirms her email address; Carl, who got his card at the till, takes it online
with his points. Every page axe-clean, none wider than the screen; the links are read from the emails sent."""

import re
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from django.core import mail
from django.utils import timezone

from earning.services import purchase_record
from members.models import Member
from members.services import member_enrol
from programs.demo import DEMO_MEMBER_PASSWORD
from programs.models import StoreApiKey

from .conftest import assert_accessible, no_horizontal_overflow, screenshot

pytestmark = pytest.mark.django_db(transaction=True)

NEW_PASSWORD = "silver-harbour-lantern"


def emailed_link(to: str, subject_part: str) -> str:
    """The path of the link in the newest email to ``to`` whose subject has ``subject_part``."""
    messages = [m for m in mail.outbox if m.to == [to] and subject_part in m.subject]
    assert messages, f"no email to {to} about {subject_part!r}: {[m.subject for m in mail.outbox]}"
    (link,) = set(re.findall(r"https?://\S+/portal/\S+/", messages[-1].body))
    return urlsplit(link).path


def check(page, name: str, size: str) -> None:
    page.wait_for_load_state()
    assert no_horizontal_overflow(page), page.url
    assert_accessible(page)
    screenshot(page, f"portal-recovery-{name}-{size}.png")


def forgotten_password(page, demo, size: str) -> None:
    ben = demo.members[1]
    slug = demo.program.slug
    page.goto(f"/portal/{slug}/login/")
    page.get_by_role("link", name="Forgot your password?").click()
    check(page, "reset", size)
    page.get_by_role("button", name="Send reset link").click()  # nothing typed: said beside the field
    assert page.locator("#id_email_error").is_visible()
    page.get_by_label("Email").fill(ben.email)
    page.get_by_role("button", name="Send reset link").click()
    assert page.get_by_role("heading", name="Check your email").is_visible()
    check(page, "reset-sent", size)

    page.goto(emailed_link(ben.email, "Set a new password"))
    page.get_by_label("New password").fill("12345678")
    page.get_by_role("button", name="Save password").click()
    assert page.locator("#id_password_error").is_visible()
    check(page, "new-password-error", size)
    page.get_by_label("New password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Save password").click()
    page.wait_for_load_state()
    assert page.get_by_text("Your new password is saved").is_visible()
    assert page.get_by_text(ben.card_number).is_visible()
    check(page, "signed-in", size)

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_load_state()
    page.goto(emailed_link(ben.email, "Set a new password"))
    assert page.get_by_role("heading", name="This link does not work").is_visible()
    check(page, "link-spent", size)
    page.goto(f"/portal/{slug}/login/")
    page.get_by_label("Email").fill(ben.email)
    page.get_by_label("Password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    assert page.get_by_text(ben.card_number).is_visible()


def email_confirmation(page, demo, size: str) -> None:
    anna = demo.members[0]
    slug = demo.program.slug
    page.goto(f"/portal/{slug}/login/")
    page.get_by_label("Email").fill(anna.email)
    page.get_by_label("Password").fill(DEMO_MEMBER_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", name="Confirm your email").is_visible()
    check(page, "email-notice", size)
    page.get_by_role("button", name="Send the link again").click()
    page.wait_for_load_state()
    assert page.get_by_text(f"We sent a new link to {anna.email}.").is_visible()
    check(page, "email-sent", size)

    page.goto(emailed_link(anna.email, "Please confirm your email"))
    assert page.get_by_role("heading", name="Email confirmed").is_visible()
    check(page, "email-confirmed", size)
    page.get_by_role("link", name="Go to your card").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", name="Confirm your email").count() == 0
    anna.refresh_from_db()
    assert anna.email_verified_at is not None


def claiming(page, demo, size: str) -> None:
    program, store = demo.program, demo.store
    carl = member_enrol(program=program, email=f"carl.{size}@example.com", first_name="Carl", last_name="Berg",
                        store=store)
    till = f"api_key:{StoreApiKey.objects.filter(store=store).values_list('pk', flat=True).first()}"
    purchase_record(store=store, actor=till, external_id=f"CLAIM-{size}", member_reference={"id": str(carl.pk)},
                    currency="EUR", total=Decimal("42.00"), occurred_at=timezone.now(), lines=[])
    page.goto(f"/portal/{program.slug}/login/")
    check(page, "login", size)
    page.get_by_role("link", name="Use it online").click()
    check(page, "claim", size)
    page.get_by_label("Card number").fill("1234")
    page.get_by_label("Email").fill(carl.email)
    page.get_by_role("button", name="Send link").click()
    assert page.locator("#id_card_number_error").is_visible()
    check(page, "claim-error", size)
    spaced = " ".join(carl.card_number[i:i + 4] for i in range(0, 16, 4))
    page.get_by_label("Card number").fill(spaced)
    page.get_by_role("button", name="Send link").click()
    assert page.get_by_role("heading", name="Check your email").is_visible()
    check(page, "claim-sent", size)

    page.goto(emailed_link(carl.email, "card online"))
    assert page.get_by_role("heading", name="Choose a password").is_visible()
    check(page, "claim-password", size)
    page.get_by_label("Choose a password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Save password").click()
    page.wait_for_load_state()
    assert page.get_by_text("Your card is now online").is_visible()
    assert page.get_by_text(carl.card_number).is_visible()
    assert page.get_by_test_id("available").inner_text() == "42"
    check(page, "claimed", size)
    carl = Member.objects.get(pk=carl.pk)
    assert carl.user is not None and carl.email_verified_at is not None


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_a_new_password_by_email(request, demo, size):
    forgotten_password(request.getfixturevalue("phone_page" if size == "phone" else "page"), demo, size)


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_confirming_the_email_address(request, demo, size):
    email_confirmation(request.getfixturevalue("phone_page" if size == "phone" else "page"), demo, size)


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_claiming_a_card_made_at_the_till(request, demo, size):
    claiming(request.getfixturevalue("phone_page" if size == "phone" else "page"), demo, size)


def test_the_pages_in_german_on_a_phone(phone_page, demo):
    page, slug = phone_page, demo.program.slug
    page.set_extra_http_headers({"Accept-Language": "de-DE,de;q=0.9"})
    page.goto(f"/portal/{slug}/login/")
    page.get_by_role("link", name="Passwort vergessen?").click()
    page.get_by_role("button", name="Link zum Zurücksetzen senden").click()
    assert page.locator("#id_email_error").is_visible()
    check(page, "reset-de", "phone")
    page.goto(f"/portal/{slug}/claim/")
    assert page.get_by_label("Kartennummer").is_visible()
    check(page, "claim-de", "phone")

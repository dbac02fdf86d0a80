"""Every portal page a member reaches by following links answers on a phone, passes axe-core, is no wider than
the screen, and reads with JavaScript turned off.

The crawl starts at the card page of a member who has traded a little (a purchase, a redemption), follows
every link under the program's portal and opens one page of each shape (codes, ids and query values set
aside), so a page added later is checked without being named here.
"""

import re

import pytest

from programs.demo import DEMO_MEMBER_PASSWORD

from .conftest import DEMO_API_KEY, PHONE, crawl

pytestmark = pytest.mark.django_db(transaction=True)

SKIP = re.compile(r"/logout/|/image$|/logo$|\.css|\.json|/download|/data/")
MAX_PAGES = 60


def sign_in(page, slug: str, email: str) -> None:
    page.goto(f"/portal/{slug}/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(DEMO_MEMBER_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def trade(page, demo) -> None:
    headers = {"Authorization": f"Api-Key {DEMO_API_KEY}"}
    anna = demo.members[0]
    bought = page.request.post("/api/v1/pos/purchases/", headers=headers, data={
        "member": {"id": str(anna.pk)}, "external_id": "PORTAL-CRAWL-1", "currency": "EUR", "total": "120.00",
        "lines": [{"sku": "LATTE", "category": "coffee", "quantity": 2, "unit_price": "4.50"}]})
    assert bought.ok, bought.text()
    redeemed = page.request.post("/api/v1/pos/redemptions/", headers={**headers, "Idempotency-Key": "crawl-1"},
                                 data={"member": {"id": str(anna.pk)}, "reward": "FREE-COFFEE"})
    assert redeemed.ok, redeemed.text()


def test_every_portal_page_on_a_phone_passes_axe_and_reads_without_javascript(demo, phone_page, browser,
                                                                              live_server):
    slug = demo.program.slug
    trade(phone_page, demo)
    sign_in(phone_page, slug, demo.members[0].email)
    opened, problems = crawl(phone_page, f"/portal/{slug}/", prefix=f"/portal/{slug}/", skip=SKIP, most=MAX_PAGES,
                             fit_screen=True)
    assert problems == [], problems
    assert len(opened) >= 12, opened
    for area in ("rewards/", "activity/", "vouchers/", "give/", "profile/", "surveys/"):
        assert any(url.startswith(f"/portal/{slug}/{area}") for url in opened), (area, opened)

    # The same pages with scripts off, signed in with the same session: each answers with its content.
    no_script = browser.new_context(viewport=PHONE, base_url=live_server.url, java_script_enabled=False)
    no_script.add_cookies(phone_page.context.cookies())
    try:
        page = no_script.new_page()
        for url in opened:
            response = page.goto(url)
            assert response.status == 200, url
            assert page.locator("main h1, main h2").count() >= 1, url
            assert "/login/" not in page.url, url
    finally:
        no_script.close()

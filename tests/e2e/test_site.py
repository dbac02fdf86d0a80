"""The public pages and the admin, in a real browser."""

import re

import pytest
from playwright.sync_api import expect

from members.models import Member
from programs.demo import DEMO_STAFF_PASSWORD, DEMO_STAFF_USERNAME

from .conftest import DEMO_API_KEY, assert_accessible, no_horizontal_overflow, screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def developer_overview(settings):
    """The overview of every program at / is the developer's, shown with DEBUG on only."""
    settings.DEBUG = True


def test_the_public_home_names_no_program(demo, page):
    page.goto("/")

    expect(page.get_by_role("heading", level=1)).to_contain_text("Points, tiers and rewards")
    main = page.locator("main")
    expect(main).not_to_contain_text(demo.program.name)
    expect(page.locator("[data-program]")).to_have_count(0)
    expect(page.locator("#curl-snippet")).to_have_count(0)
    expect(page.get_by_role("link", name="Sign in to the dashboard")).to_have_attribute("href", "/staff/login/")
    assert no_horizontal_overflow(page)
    assert_accessible(page)
    screenshot(page, "home-public.png")


def test_home_shows_the_demo_program_with_its_real_counts(demo, page, developer_overview):
    members = Member.objects.filter(program=demo.program).count()
    stores = demo.program.stores.count()
    assert members > 0

    page.goto("/")

    expect(page).to_have_title(re.compile("Loyalty"))
    row = page.locator('tr[data-program="demo"]')
    expect(row).to_contain_text(demo.program.name)
    expect(row).to_contain_text("EUR")
    expect(row.locator('[data-col="members"]')).to_have_text(str(members))
    expect(row.locator('[data-col="stores"]')).to_have_text(str(stores))
    expect(page.get_by_test_id("total-members")).to_have_text(str(Member.objects.count()))

    snippet = page.locator("#curl-snippet")
    expect(snippet).to_contain_text(f"Api-Key {DEMO_API_KEY}")
    expect(snippet).to_contain_text("/api/v1/pos/members/lookup/?email=")
    for href in ("/api/docs/", "/api/schema/", "/admin/", "/healthz"):
        expect(page.locator(f'main a[href="{href}"]').first).to_be_visible()
    assert no_horizontal_overflow(page)
    assert page.offsite_requests == []
    screenshot(page, "home-desktop.png")


def test_home_on_a_phone(demo, phone_page, developer_overview):
    phone_page.goto("/")

    expect(phone_page.locator('tr[data-program="demo"]')).to_be_visible()
    expect(phone_page.get_by_role("link", name="Read the API docs")).to_be_visible()
    assert no_horizontal_overflow(phone_page)
    screenshot(phone_page, "home-phone.png")

    phone_page.set_viewport_size({"width": 360, "height": 740})
    assert no_horizontal_overflow(phone_page)


def test_home_without_programs_shows_an_empty_state(transactional_db, page, developer_overview):
    page.goto("/")

    expect(page.get_by_role("heading", name="No programs yet")).to_be_visible()
    expect(page.get_by_test_id("total-programs")).to_have_text("0")
    expect(page.locator("#try-pos-api")).to_have_count(0)


def test_api_docs_link_opens_swagger_ui_served_locally(demo, page):
    page.goto("/")
    page.locator("#link-api-docs").click()

    expect(page).to_have_url(re.compile(r"/api/docs/$"))
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Loyalty POS API")
    expect(page.locator(".opblock").first).to_be_visible()
    assert page.offsite_requests == []


def test_staff_signs_in_to_the_admin_and_sees_members(demo, page):
    page.goto("/admin/")
    page.get_by_label("Username").fill(DEMO_STAFF_USERNAME)
    page.get_by_label("Password").fill(DEMO_STAFF_PASSWORD)
    page.get_by_role("button", name=re.compile("Log in", re.I)).click()

    members_link = page.locator("#members-member").get_by_role("link", name="Members", exact=True)
    expect(members_link).to_be_visible()
    members_link.click()

    expect(page.locator("#result_list")).to_be_visible()
    for member in demo.members:
        expect(page.locator("#result_list")).to_contain_text(member.email)
    # Fold the app sidebar away, as staff do on a laptop, so the whole list shows.
    page.locator("#toggle-nav-sidebar").click()
    expect(page.locator("#nav-sidebar")).not_to_be_visible()
    screenshot(page, "admin-members.png", full_page=False)


def test_unknown_page_is_a_styled_404(transactional_db, page):
    response = page.goto("/no-such-page/")

    assert response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("We couldn't find that page")
    expect(page.locator("main")).to_contain_text("/no-such-page/")
    # the design system loaded: the top bar sticks
    assert page.evaluate("getComputedStyle(document.querySelector('.topbar')).position") == "sticky"
    screenshot(page, "not-found.png", full_page=False)
    page.get_by_role("link", name="Go to the overview").click()
    expect(page).to_have_url(re.compile(r"/$"))


def test_unknown_api_path_is_still_problem_json(transactional_db, page):
    response = page.request.get("/api/v1/pos/no-such-thing/")

    assert response.status == 404
    assert response.headers["content-type"].startswith("application/problem+json")

"""Adjusting points in a real browser, through the contract only (web.md): the member page's "Points", "Reason"
and "Adjust points", /staff/approvals/ with "Approve", and the POS API showing the balance."""

import uuid

import pytest
from django.urls import Resolver404, path, resolve

from loyalty.urls import urlpatterns as site_urlpatterns
from members.models import Member
from rewards.models import Reward
from rewards.services import reward_redeem
from staff.access import staff_object, staff_view
from staff.members.page import render_member_page
from staff.models import Adjustment

from .conftest import DEMO_API_KEY, assert_accessible, no_horizontal_overflow, screenshot, staff_sign_in

pytestmark = pytest.mark.django_db(transaction=True)


@staff_view("member.view")
def _member_page_stand_in(request, member_id):
    member = staff_object(request, Member.objects.select_related("program"), "member.view", pk=member_id)
    return render_member_page(request, member)


# The site with the member page at its contract address, for a tree where the members area has not drawn it yet.
urlpatterns = [path("staff/members/<uuid:member_id>/", _member_page_stand_in), *site_urlpatterns]


@pytest.fixture(autouse=True)
def member_page(settings):
    """The member page is the members area's; where it is not routed yet, the stand-in above draws the same
    template through ``render_member_page``. Once it is routed, the real page is what these tests use."""
    try:
        resolve(f"/staff/members/{uuid.uuid4()}/")
    except Resolver404:
        settings.ROOT_URLCONF = __name__


def pos_available(page, member) -> int:
    response = page.request.get(f"/api/v1/pos/members/{member.pk}/",
                                headers={"Authorization": f"Api-Key {DEMO_API_KEY}"})
    assert response.ok, response.text()
    return response.json()["balance"]["available"]


def adjust(page, points: int, reason: str, category: str = "goodwill") -> None:
    page.get_by_label("Points").fill(str(points))
    page.get_by_label("Category").select_option(category)
    page.get_by_label("Reason").fill(reason)
    page.get_by_role("button", name="Adjust points").click()
    page.wait_for_load_state()


def sign_in_as(page, username: str, password: str) -> None:
    page.context.clear_cookies()
    staff_sign_in(page, username, password)


def test_agent_manager_and_superuser_adjust_with_maker_checker_and_the_analyst_is_refused(demo, page):
    anna = demo.members[0]
    member_url = f"/staff/members/{anna.pk}/"
    start = pos_available(page, anna)

    # a support agent: +50 moves the balance at once; 600 is over an agent's limit
    sign_in_as(page, "demo-agent", "demo-agent-2026")
    page.goto(member_url)
    assert_accessible(page)
    adjust(page, 50, "Coffee was cold")
    assert page.url.endswith(member_url)
    assert page.get_by_role("status").get_by_text("+50 points for Anna Schmidt").is_visible()
    assert pos_available(page, anna) == start + 50

    adjust(page, 600, "Birthday treat")
    beside_points = page.locator("#field-points .field-error")
    assert "at most 500 points at a time" in beside_points.inner_text()
    assert page.get_by_role("alert").is_visible()
    assert page.get_by_label("Points").input_value() == "600"
    assert_accessible(page)
    screenshot(page, "staff-adjust-agent-limit.png")
    assert pos_available(page, anna) == start + 50

    # a manager: 1,500 is above the threshold and waits
    sign_in_as(page, "demo-manager", "demo-manager-2026")
    page.goto(member_url)
    adjust(page, 1500, "Status match from a partner program", "promotion")
    assert page.get_by_text("wait for another manager's approval").is_visible()
    assert pos_available(page, anna) == start + 50
    assert_accessible(page)
    screenshot(page, "staff-member-actions.png")

    # the superuser approves it at /staff/approvals/ and the points move
    sign_in_as(page, "staff", "demo-staff-2026")
    page.goto("/staff/approvals/")
    assert_accessible(page)
    screenshot(page, "staff-approvals.png")
    waiting = page.locator(".approval").filter(has_text="Status match from a partner program")
    waiting.get_by_role("button", name="Approve").click()
    page.wait_for_load_state()
    assert page.get_by_text("approved and posted").is_visible()
    assert pos_available(page, anna) == start + 1550
    assert_accessible(page)

    # an analyst sees no adjustment form, and a posted one is refused
    sign_in_as(page, "demo-analyst", "demo-analyst-2026")
    response = page.goto(member_url)
    assert response.status == 403 or page.get_by_label("Points").count() == 0
    assert page.get_by_label("Points").count() == 0
    page.goto("/staff/")
    csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    refused = page.request.post(f"/staff/members/{anna.pk}/adjust/", form={
        "csrfmiddlewaretoken": csrf, "points": "10", "category": "goodwill", "reason": "x",
        "token": uuid.uuid4().hex})
    assert refused.status == 403 and "Your role doesn't allow this" in refused.text()  # the role, not the token
    assert pos_available(page, anna) == start + 1550
    assert Adjustment.objects.count() == 2


def test_the_pages_read_well_on_a_tablet(demo, tablet_page):
    page = tablet_page
    ben = demo.members[1]
    sign_in_as(page, "demo-manager", "demo-manager-2026")

    page.goto(f"/staff/members/{ben.pk}/")
    adjust(page, 2500, "Lost card, balance moved from the old one", "migration")
    assert no_horizontal_overflow(page)
    screenshot(page, "staff-member-actions-tablet.png")

    page.goto("/staff/approvals/")
    assert page.get_by_role("button", name="Approve").is_disabled()  # the requester may not approve their own
    assert no_horizontal_overflow(page)
    assert_accessible(page)
    screenshot(page, "staff-approvals-tablet.png")

    page.goto("/staff/adjustments/bulk/")
    page.get_by_label("CSV file").set_input_files(files=[{
        "name": "april.csv", "mimeType": "text/csv",
        "buffer": (f"email,points,reason,category\n{ben.email},120,Spring campaign,promotion\n"
                   f"{demo.members[2].email},30,Spring campaign,promotion\n"
                   "nobody@example.com,10,Who?,goodwill\n").encode()}])
    page.get_by_role("button", name="Check the file").click()
    page.wait_for_load_state()
    assert page.get_by_text("No member of this program has this email address.").is_visible()
    assert no_horizontal_overflow(page)
    assert_accessible(page)
    screenshot(page, "staff-bulk-preview-tablet.png")
    page.get_by_role("button", name="Post 2 adjustments").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", name="april.csv").is_visible()
    assert_accessible(page)
    screenshot(page, "staff-bulk-result-tablet.png")

    page.goto(f"/staff/members/{ben.pk}/tier/")
    assert_accessible(page)
    screenshot(page, "staff-member-tier-tablet.png")
    page.goto(f"/staff/members/{ben.pk}/anonymise/")
    assert_accessible(page)
    screenshot(page, "staff-member-anonymise-tablet.png")

    voucher = reward_redeem(member=ben, reward=Reward.objects.get(program=demo.program, code="FREE-COFFEE"),
                            actor="test")
    page.goto(f"/staff/members/{ben.pk}/")
    page.get_by_role("button", name=f"Resend email with voucher {voucher.voucher_code}").click()
    page.wait_for_load_state()
    assert page.get_by_text(f"The email with voucher {voucher.voucher_code} is on its way").is_visible()
    assert_accessible(page)
    screenshot(page, "staff-member-vouchers-tablet.png")
    page.get_by_role("link", name=f"Cancel voucher {voucher.voucher_code}").click()
    page.wait_for_load_state()
    assert_accessible(page)
    page.get_by_label("Explanation").fill("Ordered by mistake")
    page.get_by_role("button", name="Cancel voucher").click()
    page.wait_for_load_state()
    assert page.get_by_text("50 points went back to Ben Okafor").is_visible()

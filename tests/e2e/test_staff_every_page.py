"""Every staff page a manager can reach by following links answers, and axe-core finds nothing serious on it.

The crawl starts at the home page with a program that has traded a little (a purchase, a redemption, an
adjustment waiting for approval), follows every link under /staff/ and opens one page of each shape (ids
and query values set aside), so a page added later is checked without being named here.
"""

import re

import pytest

from members.models import Member
from surveys.models import Survey
from surveys.services import response_record

from .conftest import DEMO_API_KEY, crawl, staff_sign_in

pytestmark = pytest.mark.django_db(transaction=True)

SKIP = re.compile(r"\.csv($|\?)|/logout/|/image/|/download/")
MAX_PAGES = 120



def trade(page, demo) -> None:
    """A purchase and a redemption at the till, and an adjustment that waits for a second manager."""
    headers = {"Authorization": f"Api-Key {DEMO_API_KEY}"}
    anna = demo.members[0]
    bought = page.request.post("/api/v1/pos/purchases/", headers=headers, data={
        "member": {"id": str(anna.pk)}, "external_id": "CRAWL-1", "currency": "EUR", "total": "120.00",
        "lines": [{"sku": "LATTE", "category": "coffee", "quantity": 2, "unit_price": "4.50"}]})
    assert bought.ok, bought.text()
    redeemed = page.request.post("/api/v1/pos/redemptions/", headers={**headers, "Idempotency-Key": "crawl-1"},
                                 data={"member": {"id": str(anna.pk)}, "reward": "FREE-COFFEE"})
    assert redeemed.ok, redeemed.text()


def test_every_staff_page_a_manager_reaches_answers_and_passes_axe(demo, page):
    staff_sign_in(page, "demo-manager", "demo-manager-2026")
    trade(page, demo)
    anna = Member.objects.get(pk=demo.members[0].pk)
    page.goto(f"/staff/members/{anna.pk}/")
    page.get_by_label("Points").fill("1500")
    page.get_by_label("Category").select_option("goodwill")
    page.get_by_label("Reason").fill("Waits for a second manager")
    page.get_by_role("button", name="Adjust points").click()
    page.wait_for_load_state()
    # a detractor's answer, so the survey pages have scores and the case queue a case to open
    survey = Survey.objects.get(program=demo.program, code="nps")
    response_record(survey=survey, score=3, channel="pos", actor="crawl", member=anna, store=demo.store,
                    comment="Slow service")

    opened, problems = crawl(page, "/staff/", prefix="/staff/", skip=SKIP, most=MAX_PAGES)

    assert problems == [], problems
    # the crawl reached the areas, not only the home page (39 pages of different shapes in the demo today)
    assert len(opened) >= 30, opened
    for area in ("/staff/members/", "/staff/approvals/", "/staff/settings/rules/", "/staff/reports/",
                 "/staff/imports/", "/staff/audit/", "/staff/account/", "/staff/surveys/cases/"):
        assert any(url.startswith(area) for url in opened), (area, opened)
    assert any(re.match(r"/staff/members/[0-9a-f-]{36}/purchases/", url) for url in opened), opened
    assert any(re.match(r"/staff/surveys/cases/[0-9a-f-]{36}/", url) for url in opened), opened
    assert any(re.match(r"/staff/surveys/[0-9a-f-]{36}/edit/", url) for url in opened), opened

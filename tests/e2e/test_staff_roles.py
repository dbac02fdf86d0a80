"""One walk per role through the dashboard, as each person works, at desktop and tablet widths.

Each walk does the role's everyday tasks on the demo program, tries one thing its role may not do and is
refused, and runs axe-core on every page it opens. Only the contract's addresses and the labels a person
reads are used.
"""

import csv
import io

import pytest

from .conftest import (
    DEMO_API_KEY,
    staff_sign_in,
)
from .conftest import visit as walk_visit

pytestmark = pytest.mark.django_db(transaction=True)


def visit(page, step: str) -> None:
    walk_visit(page, f"staff-walk-{step}")


def pos_available(page, member) -> int:
    response = page.request.get(f"/api/v1/pos/members/{member.pk}/",
                                headers={"Authorization": f"Api-Key {DEMO_API_KEY}"})
    assert response.ok, response.text()
    return response.json()["balance"]["available"]


def find_member(page, text: str, name: str) -> None:
    page.get_by_role("navigation", name="Dashboard").get_by_role("link", name="Members").click()
    page.get_by_label("Find a member").fill(text)
    page.get_by_role("search").get_by_role("button", name="Search").click()
    page.wait_for_load_state()
    page.get_by_role("link", name=name).first.click()
    page.wait_for_load_state()


def adjust(page, points: int, reason: str) -> None:
    page.get_by_label("Points").fill(str(points))
    page.get_by_label("Category").select_option("goodwill")
    page.get_by_label("Reason").fill(reason)
    page.get_by_role("button", name="Adjust points").click()
    page.wait_for_load_state()


def test_a_manager_runs_the_program_and_cannot_approve_their_own_adjustment(demo, sized):
    page = sized
    anna = demo.members[0]
    staff_sign_in(page, "demo-manager", "demo-manager-2026")
    assert page.url.endswith("/staff/")
    assert page.get_by_role("heading", name="Today", exact=True).is_visible()
    visit(page, "manager-home")

    find_member(page, "anna", "Anna Schmidt")
    assert page.url.endswith(f"/staff/members/{anna.pk}/")
    visit(page, "manager-member")
    start = pos_available(page, anna)

    # above the approval threshold (1,000): it waits, and nothing moves
    adjust(page, 1500, "Compensation for the broken machine")
    assert pos_available(page, anna) == start

    page.get_by_role("navigation", name="Dashboard").get_by_role("link", name="Approvals").click()
    page.wait_for_load_state()
    visit(page, "manager-approvals")
    approve = page.get_by_role("button", name="Approve").first
    assert approve.is_disabled()
    # forcing the button open does not get past the rule: another manager must approve it
    approve.evaluate("button => button.disabled = false")
    approve.click()
    page.wait_for_load_state()
    assert "another manager must approve it" in page.get_by_role("status").inner_text()
    assert pos_available(page, anna) == start

    page.get_by_role("navigation", name="Dashboard").get_by_role("link", name="Settings").click()
    page.wait_for_load_state()
    visit(page, "manager-settings")
    page.get_by_role("link", name="Earning rules").click()
    page.wait_for_load_state()
    assert page.get_by_role("link", name="Add a rule").is_visible()

    page.get_by_role("navigation", name="Dashboard").get_by_role("link", name="Audit log").click()
    page.wait_for_load_state()
    assert page.get_by_text("Compensation for the broken machine").first.is_visible()
    visit(page, "manager-audit")


def test_an_agent_helps_a_member_and_is_refused_the_settings(demo, sized):
    page = sized
    ben = demo.members[1]
    staff_sign_in(page, "demo-agent", "demo-agent-2026")
    nav = page.get_by_role("navigation", name="Dashboard")
    assert nav.get_by_role("link", name="Settings").count() == 0
    visit(page, "agent-home")

    find_member(page, ben.card_number, "Ben Okafor")
    visit(page, "agent-member")
    start = pos_available(page, ben)
    adjust(page, 20, "Coffee was cold")
    assert "+20 points for Ben Okafor" in page.get_by_role("status").inner_text()
    assert pos_available(page, ben) == start + 20

    response = page.goto("/staff/settings/")
    assert response.status == 403
    assert page.get_by_role("heading", name="Your role doesn't allow this").is_visible()
    visit(page, "agent-refused")


def test_an_analyst_reads_the_figures_and_is_refused_a_member(demo, sized):
    page = sized
    anna = demo.members[0]
    staff_sign_in(page, "demo-analyst", "demo-analyst-2026")
    nav = page.get_by_role("navigation", name="Dashboard")
    assert nav.get_by_role("link", name="Members").count() == 0
    visit(page, "analyst-home")

    nav.get_by_role("link", name="Reports").click()
    page.wait_for_load_state()
    visit(page, "analyst-reports")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV of the points liability").click()
    rows = list(csv.reader(io.StringIO(download.value.path().read_text(encoding="utf-8"))))
    assert rows[0][:4] == ["program", "currency", "start", "end"]
    assert rows[1][0] == "demo"

    nav.get_by_role("link", name="Settings").click()
    page.wait_for_load_state()
    page.get_by_role("link", name="Earning rules").click()
    page.wait_for_load_state()
    assert page.get_by_role("link", name="Add a rule").count() == 0  # read-only for analysts
    visit(page, "analyst-rules")

    response = page.goto(f"/staff/members/{anna.pk}/")
    assert response.status == 403
    assert page.get_by_label("Points").count() == 0
    visit(page, "analyst-refused")

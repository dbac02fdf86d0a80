"""A manager reads a survey's scores and works a detractor's follow-up case to its resolution, at desktop and
tablet widths: the queue, the case, goodwill points, a refusal beside the field, then resolved. Every page is
checked by axe-core and photographed."""

from datetime import timedelta

import pytest
from django.utils import timezone

from surveys.models import FollowUpCase, Survey
from surveys.services import response_record

from .conftest import staff_sign_in
from .conftest import visit as walk_visit

pytestmark = pytest.mark.django_db(transaction=True)


def visit(page, step: str) -> None:
    walk_visit(page, f"staff-surveys-{step}")


def test_a_manager_works_a_detractor_case_to_its_resolution(demo, sized):
    page = sized
    survey = Survey.objects.get(program=demo.program, code="nps")
    now = timezone.now()
    for days, score in enumerate([10, 9, 10, 8, 7, 10, 3, 9, 10, 6] * 4):  # answers over the last months
        response_record(survey=survey, score=score, channel="pos", actor="test", store=demo.store,
                        answered_at=now - timedelta(days=days * 4))
    anna = demo.members[0]
    case = response_record(survey=survey, score=2, channel="pos", actor="test", member=anna, store=demo.store,
                           comment="Nobody could tell me where my points went.").case

    staff_sign_in(page, "demo-manager", "demo-manager-2026")
    page.get_by_role("navigation", name="Dashboard").get_by_role("link", name="Surveys").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", name="Surveys", exact=True).is_visible()
    visit(page, "list")

    page.get_by_role("link", name=survey.name).click()
    page.wait_for_load_state()
    assert page.get_by_test_id("nps").is_visible() and page.get_by_test_id("margin").inner_text().startswith("±")
    page.locator("#survey-trend-chart").wait_for(state="visible")  # the chart drew over its table
    assert page.get_by_role("heading", name="Compared with the period before").is_visible()
    visit(page, "survey")

    page.get_by_role("link", name="Follow-up cases").first.click()
    page.wait_for_load_state()
    visit(page, "cases")
    page.locator(f'a[href="/staff/surveys/cases/{case.pk}/"]').click()
    page.wait_for_load_state()
    assert page.get_by_text("Nobody could tell me where my points went.").is_visible()
    assert page.get_by_role("link", name="Anna Schmidt").first.is_visible()
    visit(page, "case")

    page.get_by_label("Status").select_option("in_progress")
    page.get_by_label("Assignee").select_option(label="demo-manager")
    page.get_by_label("Note").fill("Called Anna: her points were pending for the return window.")
    page.get_by_role("button", name="Save case").click()
    page.wait_for_load_state()
    assert page.get_by_test_id("case-status").inner_text() == "In progress"

    page.get_by_label("Goodwill points").fill("150")
    page.get_by_label("Message on the member's statement").fill("Sorry for the confusion about pending points")
    page.get_by_role("button", name="Give goodwill points").click()
    page.wait_for_load_state()
    assert page.get_by_text("+150 goodwill points given.").is_visible()

    page.get_by_label("Status").select_option("closed")
    page.get_by_role("button", name="Save case").click()  # no root cause yet: refused beside the field
    page.wait_for_load_state()
    assert page.locator("#field-root_cause .field-error").inner_text() == "Name the root cause to close the case."
    visit(page, "case-refused")

    page.get_by_label("Status").select_option("resolved")
    page.get_by_label("Root cause").fill("Pending points not explained at the till")
    page.get_by_label("When resolving, ask the member").check()
    page.get_by_role("button", name="Save case").click()
    page.wait_for_load_state()
    assert page.get_by_test_id("case-status").inner_text() == "Resolved"
    visit(page, "case-resolved")

    case.refresh_from_db()
    assert (case.status, case.root_cause, case.assignee.get_username()) == (
        "resolved", "Pending points not explained at the till", "demo-manager")
    assert FollowUpCase.objects.get(pk=case.pk).changes.count() == 3  # in progress, goodwill note, resolved

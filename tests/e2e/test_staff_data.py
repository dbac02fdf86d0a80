"""Data in and out of the dashboard in a real browser: a manager checks a members file with one bad row, reads
the dry run, imports it and follows the progress to the end; then the reports (with their CSV) and the audit
log. Desktop and tablet, axe-clean; the agent is refused the import."""

import csv
import io
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from earning.services import purchase_record
from ledger.models import Kind
from ledger.services import points_adjust, points_earn
from members.models import Member
from staff.data.importing import import_job_run
from staff.models import ImportJob

from .conftest import assert_accessible, no_horizontal_overflow, screenshot, staff_sign_in

pytestmark = pytest.mark.django_db(transaction=True)

MEMBERS = ("email,first_name,last_name,phone,language,marketing_opt_in\n"
           "lena.fischer@example.com,Lena,Fischer,+4915112340101,de,yes\n"
           "not-an-email,Broken,Row,,,\n"
           "omar.haddad@example.com,Omar,Haddad,,en,no\n")


def _activity(demo):
    """A few days of the demo program's life, so the reports have something to say."""
    now = timezone.now()
    for i, member in enumerate(demo.members):
        purchase_record(store=demo.store, actor="test", external_id=f"E2E-{i}", total=Decimal("42.50") + i * 10,
                        member_reference={"id": str(member.pk)}, currency="EUR", occurred_at=now - timedelta(days=i))
    points_adjust(member=demo.members[0], points=-5, reason="Duplicate bonus", actor="test", idempotency_key="e2e-adj")
    for days, points in ((20, 120), (75, 60)):  # a promotion's points that run out soon
        points_earn(member=demo.members[1], points=points, idempotency_key=f"e2e-promo-{days}", source_type="test",
                    actor="test", kind=Kind.BONUS, expires_at=now + timedelta(days=days))


def _upload(page, name: str, text: str) -> None:
    page.get_by_label("What the file holds").select_option("members")
    page.get_by_label("CSV file").set_input_files(files=[{"name": name, "mimeType": "text/csv",
                                                          "buffer": text.encode()}])
    page.get_by_role("button", name="Check the file").click()
    page.wait_for_load_state()


def test_a_manager_imports_members_then_reads_the_reports_and_the_audit_log(demo, page):
    _activity(demo)
    staff_sign_in(page, "demo-manager", "demo-manager-2026")
    page.goto("/staff/imports/")
    assert_accessible(page)
    screenshot(page, "staff-data-imports.png")

    # the dry run: the bad row by line and column, nothing enrolled yet
    _upload(page, "spring-members.csv", MEMBERS)
    assert page.get_by_role("heading", name="Ready to import 2 rows").is_visible()
    errors = page.locator("table.import-errors tbody tr")
    assert errors.count() == 1
    assert errors.first.inner_text().split("\t") == ["3", "email", "This is not an email address."]
    assert not Member.objects.filter(email="lena.fischer@example.com").exists()
    assert_accessible(page)
    screenshot(page, "staff-data-dry-run.png")

    # the import, to the end (without a broker the job runs at once)
    page.get_by_role("button", name="Import").click()
    page.wait_for_load_state()
    assert page.get_by_text("Imported", exact=True).is_visible()
    added = page.locator(".stat", has_text="Added").locator(".stat-value")
    assert added.first.inner_text() == "2"
    assert Member.objects.filter(email__in=["lena.fischer@example.com", "omar.haddad@example.com"]).count() == 2
    assert_accessible(page)
    screenshot(page, "staff-data-imported.png")

    # the same file again: the dry run finds nothing new; its import is followed on the progress bar
    page.goto("/staff/imports/")
    _upload(page, "spring-members.csv", MEMBERS)
    assert page.get_by_role("heading", name="Nothing new in this file").is_visible()
    assert page.get_by_text("This file was imported before").is_visible()
    job = ImportJob.objects.order_by("-pk").first()
    ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.RUNNING, started_at=timezone.now(),
                                               processed_rows=1, skipped_rows=1)  # as a worker is doing
    page.reload()
    bar = page.get_by_role("progressbar")
    assert bar.get_attribute("value") == "1" and bar.get_attribute("max") == "3"
    assert_accessible(page)
    screenshot(page, "staff-data-progress.png")
    ImportJob.objects.filter(pk=job.pk).update(processed_rows=2, skipped_rows=2)
    expect(bar).to_have_attribute("value", "2")  # htmx polled the new figure, the page did not reload
    ImportJob.objects.filter(pk=job.pk).update(processed_rows=0, skipped_rows=0)
    import_job_run(job_id=job.pk)  # the worker carries on to the end
    expect(bar).to_have_count(0, timeout=10_000)  # once done, the page reloads with the result
    expect(page.get_by_role("heading", name="Import", exact=True)).to_be_visible()
    job.refresh_from_db()
    assert job.status == ImportJob.Status.DONE and job.created_rows == 0 and job.skipped_rows == 2
    assert Member.objects.filter(program=demo.program).count() == len(demo.members) + 2

    # reports, and the contract's CSV beside them
    page.get_by_role("navigation", name="Dashboard").get_by_role("link", name="Reports").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", name="Points liability").is_visible()
    expect(page.locator("#liability-chart")).to_have_attribute("style", re.compile("height"))  # Chart.js drew
    assert_accessible(page)
    screenshot(page, "staff-data-reports.png")
    href = page.get_by_role("link", name="Download CSV of the points liability").get_attribute("href")
    response = page.request.get(href)
    assert response.ok and response.headers["content-type"] == "text/csv"
    (row,) = csv.DictReader(io.StringIO(response.text()))
    assert int(row["closing_points"]) == sum(
        m.account.available - m.account.debt + m.account.pending
        for m in Member.objects.filter(program=demo.program).select_related("account"))

    # the audit log: the import, searched by its file
    page.get_by_role("navigation", name="Dashboard").get_by_role("link", name="Audit log").click()
    page.get_by_label("Search").fill("spring-members")
    page.get_by_role("button", name="Search").click()
    page.wait_for_load_state()
    # the second run was started by hand above, as a worker would pick it up: it has no "started" event
    assert page.locator(".audit-action").all_inner_texts() == ["Import finished", "Import finished", "Import started"]
    assert_accessible(page)
    screenshot(page, "staff-data-audit.png")


def test_the_pages_read_well_on_a_tablet_and_the_agent_is_refused(demo, tablet_page):
    _activity(demo)
    page = tablet_page
    staff_sign_in(page, "demo-manager", "demo-manager-2026")
    page.goto("/staff/imports/")
    _upload(page, "tablet.csv", MEMBERS)
    dry_run = page.url
    assert no_horizontal_overflow(page)
    assert_accessible(page)
    screenshot(page, "staff-data-dry-run-tablet.png")
    page.get_by_role("button", name="Import").click()
    page.wait_for_load_state()
    for name, path in (("imported", dry_run), ("imports", "/staff/imports/"), ("reports", "/staff/reports/"),
                       ("audit", "/staff/audit/")):
        page.goto(path)
        assert no_horizontal_overflow(page), name
        assert_accessible(page)
        screenshot(page, f"staff-data-{name}-tablet.png")

    page.context.clear_cookies()
    staff_sign_in(page, "demo-agent", "demo-agent-2026")
    assert page.request.get("/staff/imports/").status == 403
    assert page.request.get("/staff/exports/members.csv").status == 403
    assert page.request.get("/staff/audit/").status == 403

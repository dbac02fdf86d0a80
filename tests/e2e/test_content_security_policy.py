"""Every page works under the Content-Security-Policy: the browser reports no violation."""

import re

import pytest
from playwright.sync_api import expect

from programs.demo import DEMO_STAFF_PASSWORD, DEMO_STAFF_USERNAME

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# Collected in the page before any of its own scripts run.
LISTEN = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`);
});
"""


@pytest.fixture
def watched(page):
    page.add_init_script(LISTEN)
    console = []
    page.on("console", lambda message: console.append(message.text))

    def violations():
        found = page.evaluate("window.__cspViolations")
        return found + [text for text in console if "Content Security Policy" in text]

    page.violations = violations
    return page


def test_the_public_pages_and_swagger_ui_run_under_the_policy(demo, watched):
    response = watched.goto("/")
    assert "default-src 'self'" in response.headers["content-security-policy"]
    expect(watched.get_by_role("heading", level=1)).to_be_visible()
    assert watched.violations() == []

    watched.goto("/api/docs/")
    expect(watched.locator(".swagger-ui .info .title")).to_contain_text("Loyalty POS API")
    watched.locator(".opblock").first.click()
    expect(watched.locator(".opblock-body").first).to_be_visible()
    assert watched.violations() == []

    watched.goto("/no-such-page/")
    expect(watched.get_by_role("heading", level=1)).to_have_text("We couldn't find that page")
    assert watched.violations() == []


def test_the_unsubscribe_page_runs_under_the_policy(demo, watched):
    from django.urls import reverse

    from notifications.services import unsubscribe_token

    token = unsubscribe_token(member=demo.members[0])
    watched.goto(reverse("notifications:unsubscribe", kwargs={"token": token}))
    watched.get_by_role("button").first.click()
    expect(watched.locator("h1")).to_have_text(re.compile("unsubscribed|Abgemeldet"))
    assert watched.violations() == []


def test_the_admin_runs_under_the_policy(demo, watched):
    watched.goto("/admin/")
    watched.get_by_label("Username").fill(DEMO_STAFF_USERNAME)
    watched.get_by_label("Password").fill(DEMO_STAFF_PASSWORD)
    watched.get_by_role("button", name=re.compile("Log in", re.I)).click()
    expect(watched.locator("#members-member")).to_be_visible()

    for path in ("/admin/members/member/", "/admin/members/member/add/", "/admin/webhooks/webhookendpoint/add/",
                 "/admin/programs/program/"):
        watched.goto(path)
        expect(watched.locator("#content")).to_be_visible()
    watched.locator("#toggle-nav-sidebar").click()
    expect(watched.locator("#nav-sidebar")).not_to_be_visible()
    assert watched.violations() == []

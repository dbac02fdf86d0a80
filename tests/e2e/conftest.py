"""Real-browser tests: Debian's Chromium driven by Playwright against pytest-django's live server."""

import os
from pathlib import Path

import pytest

from tests.conftest import skip_unless

# Playwright's sync API runs its own event loop in this thread; Django would otherwise refuse
# the ORM calls the tests make (seeding, expected counts) as "async-unsafe".
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = Path("/usr/bin/chromium")
# Test runs keep their screenshots under var/ (to look at); `make screenshots` refreshes docs/.
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = Path(os.environ.get("LOYALTY_SCREENSHOTS_DIR") or ROOT / "var" / "screenshots")
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
DEMO_API_KEY = "demo-pos-key-0001"


@pytest.fixture(scope="session")
def browser():
    skip_unless(CHROMIUM.exists(), "needs Debian chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()


class OffsiteRequests(list):
    """URLs the page tried to fetch from anywhere but the live server (all are blocked)."""


def _new_page(browser, live_server, viewport):
    context = browser.new_context(viewport=viewport, base_url=live_server.url)
    offsite = OffsiteRequests()

    def guard(route):
        url = route.request.url
        if url.startswith(live_server.url) or url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            offsite.append(url)
            route.abort()

    context.route("**/*", guard)
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.offsite_requests = offsite
    return context, page


@pytest.fixture
def page(browser, live_server):
    context, page = _new_page(browser, live_server, DESKTOP)
    yield page
    context.close()


@pytest.fixture
def phone_page(browser, live_server):
    context, page = _new_page(browser, live_server, PHONE)
    yield page
    context.close()


@pytest.fixture
def demo(transactional_db):
    from programs.demo import demo_seed

    return demo_seed(api_key=DEMO_API_KEY)


def screenshot(page, name: str, *, full_page: bool = True) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / name
    page.screenshot(path=str(path), full_page=full_page)
    return path


def no_horizontal_overflow(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

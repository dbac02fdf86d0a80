"""Real-browser tests: Debian's Chromium driven by Playwright against pytest-django's live server."""

import os
import re
from collections import deque
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
    page.wait_for_load_state()  # right after a click the next page may not have a document yet
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


TABLET = {"width": 820, "height": 1180}


def axe_violations(page, *, impacts=("serious", "critical")) -> list[dict]:
    """axe-core (vendored) run in the page: the violations of the given impacts, as short dicts.

    The vendored file is loaded from the site's own static files, which the Content-Security-Policy allows.
    A click that navigates returns once the URL has changed, before the new document has a head to add the
    script to, so the page is first allowed to finish loading.
    """
    page.wait_for_load_state()
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(url="/static/vendor/axe-core/axe.min.js")
    results = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        {"id": v["id"], "impact": v["impact"], "help": v["help"],
         "targets": [n["target"] for n in v["nodes"]][:5]}
        for v in results["violations"] if v["impact"] in impacts
    ]


def assert_accessible(page) -> None:
    violations = axe_violations(page)
    assert violations == [], f"{page.url}: {violations}"


@pytest.fixture
def tablet_page(browser, live_server):
    context, page = _new_page(browser, live_server, TABLET)
    yield page
    context.close()


def staff_sign_in(page, username: str, password: str, *, next_path: str = "") -> None:
    """Sign in through the staff login form as a person does."""
    page.goto(f"/staff/login/{'?next=' + next_path if next_path else ''}")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


# --- crawling every page of an area -------------------------------------------------------------------

_ID = re.compile(r"/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9]+|[0-9a-f]{64})(?=/)")


def page_shape(url: str) -> str:
    """The page a URL shows, whatever record or filter it names: /staff/members/<id>/ for every member."""
    path, _, query = url.partition("?")
    keys = sorted({pair.split("=")[0] for pair in query.split("&") if pair})
    return _ID.sub("/<id>", path) + ("?" + "&".join(keys) if keys else "")


def crawl(page, start: str, *, prefix: str, skip, most: int, fit_screen: bool = False) -> tuple[list[str], list]:
    """Open ``start`` and every page of one shape per kind that links under ``prefix`` lead to (``skip``: a
    pattern of addresses left alone), at most ``most``: the addresses opened, and each problem found (a status
    other than 200, an axe violation, with ``fit_screen`` a page wider than the screen)."""
    queue, seen, problems, opened = deque([start]), {page_shape(start)}, [], []
    while queue and len(opened) < most:
        url = queue.popleft()
        response = page.goto(url)
        opened.append(url)
        if response.status != 200:
            problems.append((url, response.status))
            continue
        if fit_screen and not no_horizontal_overflow(page):
            problems.append((url, "wider than the screen"))
        for violation in axe_violations(page):
            problems.append((url, violation))
        for href in page.eval_on_selector_all("a[href]", "links => links.map(a => a.getAttribute('href'))"):
            href = href.split("#")[0]
            if href.startswith("?"):
                href = url.split("?")[0] + href
            if not href.startswith(prefix) or skip.search(href):
                continue
            if page_shape(href) not in seen:
                seen.add(page_shape(href))
                queue.append(href)
    return opened, problems


@pytest.fixture(params=[("desktop", DESKTOP), ("tablet", TABLET)], ids=["desktop", "tablet"])
def sized(request, browser, live_server):
    """A staff page at a desktop's and at a tablet's width, in turn; ``page.size`` names which."""
    size, viewport = request.param
    context, page = _new_page(browser, live_server, viewport)
    page.size = size
    yield page
    context.close()


def visit(page, screenshot_name: str) -> None:
    """What every page of a walk must be: readable by assistive technology, no sideways scrolling, on record."""
    assert_accessible(page)
    assert no_horizontal_overflow(page), f"{page.url} scrolls sideways at {page.size} width"
    screenshot(page, f"{screenshot_name}-{page.size}.png")

"""Configuration in a real browser: the demo manager changes the earn rate and handles a POS key, the analyst
reads the settings without a form to send, the agent is refused; desktop and tablet, axe-clean."""

import io

import pytest
from django.urls import reverse
from PIL import Image, ImageDraw

from programs.models import Program, StoreApiKey
from staff.models import AuditEvent

from .conftest import assert_accessible, no_horizontal_overflow, screenshot, staff_sign_in

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def _picture() -> bytes:
    """A small picture with some shape to it, as a manager's product photo would have."""
    image = Image.new("RGB", (480, 300), (236, 228, 212))
    draw = ImageDraw.Draw(image)
    draw.rectangle((150, 90, 330, 270), fill=(74, 63, 224))
    draw.arc((180, 20, 300, 140), 180, 360, fill=(74, 63, 224), width=14)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def test_demo_manager_edits_the_earn_rate_and_creates_then_revokes_a_pos_key(demo, page):
    staff_sign_in(page, "demo-manager", "demo-manager-2026")
    page.goto("/staff/settings/")
    assert_accessible(page)
    screenshot(page, "staff-settings-program.png")

    page.get_by_label("Earn rate").fill("2")
    page.get_by_role("button", name="Save settings").click()
    page.wait_for_load_state()
    assert page.get_by_text("Settings saved.").is_visible()
    assert page.get_by_label("Earn rate").input_value() in ("2", "2.0000")
    assert Program.objects.get(slug="demo").points_per_unit == 2
    assert AuditEvent.objects.filter(action="program.update", actor_name="demo-manager").exists()

    page.get_by_role("navigation", name="Settings sections").get_by_role("link", name="Stores & POS keys").click()
    assert_accessible(page)
    page.get_by_role("link", name="Manage Demo store DEMO-001").click()
    page.get_by_label("Key name").fill("Till 2")
    page.get_by_role("button", name="Create key").click()
    page.wait_for_load_state()
    key = page.locator("#new-key").inner_text().strip()
    assert key.startswith("lk_") and len(key) > 30
    assert page.get_by_role("button", name="Copy key").is_visible()
    assert_accessible(page)
    screenshot(page, "staff-settings-new-key.png")

    page.goto(f"/staff/settings/stores/{demo.store.pk}/")
    assert key not in page.content()  # shown once, never again
    page.get_by_role("link", name="Revoke Till 2").click()
    assert_accessible(page)
    page.get_by_role("button", name="Revoke key").click()
    page.wait_for_load_state()
    assert page.get_by_text("is revoked").is_visible()
    assert StoreApiKey.objects.get(name="Till 2").revoked_at is not None
    assert AuditEvent.objects.filter(action="api_key.revoke").count() == 1


def test_configuration_pages_read_well_on_a_tablet(demo, tablet_page):
    page = tablet_page
    staff_sign_in(page, "demo-manager", "demo-manager-2026")
    for path, name in [("/staff/settings/", "program"), ("/staff/settings/stores/", "stores"),
                       ("/staff/settings/tiers/", "tiers"), ("/staff/settings/rewards/", "rewards"),
                       ("/staff/settings/rewards/new/", "reward-new")]:
        page.goto(path)
        assert_accessible(page)
        assert no_horizontal_overflow(page), path
        screenshot(page, f"staff-settings-{name}-tablet.png")

    # an image uploaded from the browser, shown as the catalogue's thumbnail
    page.goto("/staff/settings/rewards/")
    page.get_by_role("link", name="Edit Canvas tote bag").click()
    page.get_by_label("Image").set_input_files(
        {"name": "tote.png", "mimeType": "image/png", "buffer": _picture()})
    page.get_by_role("spinbutton", name="Stock").fill("12")
    page.get_by_role("button", name="Save reward").click()
    page.wait_for_load_state()
    assert page.get_by_text("Reward Canvas tote bag saved.").is_visible()
    # the page is there before its pictures are: wait for the thumbnail to load, then check it drew
    page.wait_for_function("() => { const img = document.querySelector('img.thumb'); return img && img.complete; }")
    assert page.locator("img.thumb").first.evaluate("img => img.naturalWidth > 0")
    assert_accessible(page)
    screenshot(page, "staff-settings-rewards-with-image-tablet.png")
    page.get_by_role("link", name="Edit Canvas tote bag").click()
    assert_accessible(page)
    screenshot(page, "staff-settings-reward-edit-tablet.png")

    # a refusal in the browser: the reason beside the field, nothing saved
    page.goto("/staff/settings/tiers/")
    page.get_by_role("link", name="Edit Silver").click()
    page.get_by_label("Threshold").fill("5000")
    page.get_by_role("button", name="Save tier").click()
    page.wait_for_load_state()
    assert page.get_by_role("alert").is_visible()
    assert page.get_by_text("below Gold").first.is_visible()
    assert_accessible(page)
    screenshot(page, "staff-settings-tier-refused-tablet.png")


def test_analyst_reads_the_settings_and_the_agent_is_refused(demo, page, browser, live_server):
    staff_sign_in(page, "demo-analyst", "demo-analyst-2026")
    page.goto("/staff/settings/")
    assert page.get_by_text("Read only.").is_visible()
    assert page.get_by_label("Earn rate").is_disabled()
    assert page.get_by_role("button", name="Save settings").count() == 0
    assert page.locator("main form[method=post]").count() == 0
    assert_accessible(page)
    screenshot(page, "staff-settings-analyst.png")

    agent = browser.new_context(viewport={"width": 1280, "height": 800}, base_url=live_server.url).new_page()
    staff_sign_in(agent, "demo-agent", "demo-agent-2026")
    for path in ("/staff/settings/", "/staff/settings/stores/", reverse("staff:settings-rewards")):
        assert agent.goto(path).status == 403, path
    agent.context.close()

"""The program's settings page: managers change it (audited), analysts read it, agents are refused."""

import io
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from programs.models import Program
from staff.models import AuditEvent, Role, StaffPolicy

from .conftest import client_for, make_staff

pytestmark = pytest.mark.django_db

URL = "/staff/settings/"


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def form_data(program, policy, **changes):
    data = {
        "name": program.name, "points_per_unit": program.points_per_unit, "pending_days": program.pending_days,
        "expiry_days": program.expiry_days if program.expiry_days is not None else "",
        "claim_window_days": program.claim_window_days, "value_per_point": program.value_per_point,
        "time_zone": program.time_zone, "accent_color": program.accent_color,
        "approval_threshold": policy.approval_threshold, "agent_adjustment_limit": policy.agent_adjustment_limit,
        "redemption_undo_minutes": program.redemption_undo_minutes,
        "transfer_daily_limit": program.transfer_daily_limit if program.transfer_daily_limit is not None else "",
    }
    if policy.manager_mfa_required:
        data["manager_mfa_required"] = "on"
    data.update(changes)
    return data


def png(size=(64, 64), color=(200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format="PNG")
    return out.getvalue()


def test_manager_sees_the_programs_settings(manager_client, program):
    response = manager_client.get(URL)
    html = response.content.decode()
    assert response.status_code == 200
    assert 'name="points_per_unit"' in html and "Save settings" in html
    assert '<label for="id_points_per_unit">Earn rate' in html


def test_manager_changes_the_earn_rate_and_the_change_is_audited(manager_client, manager, program, policy):
    response = manager_client.post(URL, form_data(program, policy, points_per_unit="2.5"))

    assert response.status_code == 302 and response["Location"] == URL
    program.refresh_from_db()
    assert program.points_per_unit == Decimal("2.5")
    event = AuditEvent.objects.get(action="program.update")
    assert event.actor == manager and event.program == program
    assert event.before == {"points_per_unit": "1.0000"} and event.after == {"points_per_unit": "2.5"}


def test_staff_policy_changes_are_saved_and_audited_apart(manager_client, program, policy):
    manager_client.post(URL, form_data(program, policy, approval_threshold=2500, manager_mfa_required="on"))

    policy.refresh_from_db()
    assert policy.approval_threshold == 2500 and policy.manager_mfa_required
    event = AuditEvent.objects.get(action="staff_policy.update")
    assert event.before == {"approval_threshold": 1000, "manager_mfa_required": False}
    assert event.after == {"approval_threshold": 2500, "manager_mfa_required": True}
    assert not AuditEvent.objects.filter(action="program.update").exists()


def test_saving_without_a_change_records_nothing(manager_client, program, policy):
    manager_client.post(URL, form_data(program, policy))
    assert not AuditEvent.objects.exists()


def test_a_program_without_a_staff_policy_gets_one_when_saved(program):
    user = make_staff("lonely-manager", program, Role.MANAGER)
    client = client_for(user)
    assert client.get(URL).status_code == 200
    client.post(URL, form_data(program, StaffPolicy(program=program), agent_adjustment_limit=200))
    assert StaffPolicy.objects.get(program=program).agent_adjustment_limit == 200


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"expiry_days": "0"}, "expiry_days", "leave it empty for never"),
    ({"pending_days": "30", "expiry_days": "14"}, "expiry_days", "expire before they are released"),
    ({"time_zone": "Mars/Olympus_Mons"}, "time_zone", "Select a valid choice"),
    ({"accent_color": "#ffff00"}, "accent_color", "hard to read"),
    ({"accent_color": "yellow"}, "accent_color", "Choose a colour such as"),
    ({"points_per_unit": "-1"}, "points_per_unit", "greater than or equal to 0"),
    ({"name": ""}, "name", "This field is required"),
    ({"approval_threshold": "lots"}, "approval_threshold", "Enter a whole number"),
])
def test_invalid_settings_answer_the_form_with_the_reason_beside_the_field(
        manager_client, program, policy, changes, field, message):
    before = Program.objects.filter(pk=program.pk).values().get()

    response = manager_client.post(URL, form_data(program, policy, **{"points_per_unit": "3", **changes}))

    html = response.content.decode()
    assert response.status_code == 200
    assert f'id="id_{field}_error"' in html and message in html
    assert "There is a problem" in html
    assert Program.objects.filter(pk=program.pk).values().get() == before
    assert not AuditEvent.objects.exists()


def test_a_logo_upload_is_stored_re_encoded_and_shown_to_staff(manager_client, program, policy):
    upload = SimpleUploadedFile("brand.png", png(size=(3000, 1500)), content_type="image/png")

    response = manager_client.post(URL, {**form_data(program, policy), "logo": upload})

    assert response.status_code == 302
    program.refresh_from_db()
    assert program.logo.name.startswith("programs/logos/") and program.logo.name.endswith(".png")
    with Image.open(program.logo.path) as stored:
        assert max(stored.size) == 1600  # scaled down on the way in
    image = manager_client.get("/staff/settings/logo/")
    assert image.status_code == 200 and image["Content-Type"] == "image/png"
    event = AuditEvent.objects.get(action="program.update")
    assert event.before == {"logo": ""} and event.after == {"logo": program.logo.name}


def test_removing_the_logo_deletes_its_file_after_the_change(manager_client, program, policy,
                                                             django_capture_on_commit_callbacks):
    manager_client.post(URL, {**form_data(program, policy), "logo": SimpleUploadedFile("a.png", png())})
    program.refresh_from_db()
    path = program.logo.path

    with django_capture_on_commit_callbacks(execute=True):
        manager_client.post(URL, {**form_data(program, policy), "logo_remove": "on"})

    program.refresh_from_db()
    assert program.logo.name == ""
    import os
    assert not os.path.exists(path)
    assert manager_client.get("/staff/settings/logo/").status_code == 404


@pytest.mark.parametrize(("name", "content", "message"), [
    ("notes.png", b"this is not an image", "not an image we can read"),
    ("drawing.gif", None, "GIF images are not accepted"),
    ("huge.png", b"\x89PNG" + b"0" * (2 * 1024 * 1024 + 1), "the most is 2 MB"),
])
def test_a_logo_that_is_not_an_accepted_image_is_refused(manager_client, program, policy, name, content, message):
    if content is None:
        out = io.BytesIO()
        Image.new("RGB", (10, 10)).save(out, format="GIF")
        content = out.getvalue()

    response = manager_client.post(URL, {**form_data(program, policy), "logo": SimpleUploadedFile(name, content)})

    assert response.status_code == 200
    assert message in response.content.decode()
    program.refresh_from_db()
    assert not program.logo


def test_analyst_reads_the_settings_without_a_form_to_send(analyst_client, program):
    response = analyst_client.get(URL)
    html = response.content.decode()
    assert response.status_code == 200
    assert "Read only." in html
    assert 'method="post"' not in html.split('class="staff-main"')[1]  # only the sign-out form, in the top bar
    assert "Save settings" not in html
    assert 'name="points_per_unit"' in html and "disabled" in html


def test_analyst_posting_settings_is_refused_and_nothing_changes(analyst_client, program, policy):
    response = analyst_client.post(URL, form_data(program, policy, points_per_unit="9"))
    assert response.status_code == 403
    program.refresh_from_db()
    assert program.points_per_unit == 1


def test_agent_cannot_open_or_post_the_settings(agent_client, program, policy):
    assert agent_client.get(URL).status_code == 403
    assert agent_client.post(URL, form_data(program, policy, points_per_unit="9")).status_code == 403
    program.refresh_from_db()
    assert program.points_per_unit == 1


def test_another_programs_slug_is_a_404(manager_client, other_program, program, policy):
    assert manager_client.get(f"{URL}?program={other_program.slug}").status_code == 404
    response = manager_client.post(f"{URL}?program={other_program.slug}", form_data(other_program, policy, name="X"))
    assert response.status_code == 404
    other_program.refresh_from_db()
    assert other_program.name == "Other Program"


def test_staff_of_two_programs_configure_the_one_they_choose(program, other_program, policy):
    user = make_staff("two-hats", program, Role.MANAGER)
    user.staff_roles.create(program=other_program, role=Role.MANAGER)
    client = client_for(user)

    page = client.get(f"{URL}?program={other_program.slug}").content.decode()
    assert 'value="Other Program"' in page
    assert f'href="/staff/settings/stores/?program={other_program.slug}"' in page

    response = client.post(f"{URL}?program={other_program.slug}",
                           form_data(other_program, StaffPolicy(program=other_program), name="Other, renamed"))

    assert response["Location"] == f"{URL}?program={other_program.slug}"
    other_program.refresh_from_db()
    program.refresh_from_db()
    assert other_program.name == "Other, renamed" and program.name == "Coffee Club"


def test_the_settings_sections_link_every_configuration_page(manager_client):
    html = manager_client.get(URL).content.decode()
    for href in ("/staff/settings/stores/", "/staff/settings/tiers/", "/staff/settings/rewards/",
                 "/staff/settings/rules/", "/staff/settings/emails/", "/staff/settings/webhooks/"):
        assert f'href="{href}"' in html


def test_the_portal_settings_have_labels_and_help(manager_client, program):
    html = manager_client.get(URL).content.decode()
    assert '<label for="id_redemption_undo_minutes">Undo window (minutes)' in html
    assert "0 turns undo off" in html and 'value="15"' in html
    assert '<label for="id_transfer_daily_limit">Daily transfer limit (points)' in html
    assert "Leave empty for no limit; 0 turns transfers off." in html and 'value="10000"' in html
    assert "Members may undo a redemption within 15 minutes" in html
    assert "Members may transfer up to 10,000 points a day." in html


def test_manager_changes_the_undo_window_and_transfer_limit_audited(manager_client, program, policy):
    response = manager_client.post(URL, form_data(program, policy, redemption_undo_minutes=30,
                                                  transfer_daily_limit=""))

    assert response.status_code == 302
    program.refresh_from_db()
    assert program.redemption_undo_minutes == 30 and program.transfer_daily_limit is None
    event = AuditEvent.objects.get(action="program.update")
    assert event.before == {"redemption_undo_minutes": 15, "transfer_daily_limit": 10000}
    assert event.after == {"redemption_undo_minutes": 30, "transfer_daily_limit": None}
    html = manager_client.get(URL).content.decode()
    assert "Members may transfer any number of points." in html

    manager_client.post(URL, form_data(program, policy, redemption_undo_minutes=0, transfer_daily_limit=0))
    program.refresh_from_db()
    assert program.redemption_undo_minutes == 0 and program.transfer_daily_limit == 0
    html = manager_client.get(URL).content.decode()
    assert "Members cannot undo a redemption." in html and "Members cannot transfer points." in html


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"redemption_undo_minutes": "-1"}, "redemption_undo_minutes", "greater than or equal to 0"),
    ({"redemption_undo_minutes": "1441"}, "redemption_undo_minutes", "less than or equal to 1440"),
    ({"redemption_undo_minutes": ""}, "redemption_undo_minutes", "This field is required"),
    ({"redemption_undo_minutes": "soon"}, "redemption_undo_minutes", "Enter a whole number"),
    ({"transfer_daily_limit": "-5"}, "transfer_daily_limit", "greater than or equal to 0"),
    ({"transfer_daily_limit": "9" * 30}, "transfer_daily_limit", "less than or equal to"),
    ({"transfer_daily_limit": "plenty"}, "transfer_daily_limit", "Enter a whole number"),
])
def test_bad_portal_settings_answer_beside_the_field_and_change_nothing(
        manager_client, program, policy, changes, field, message):
    before = Program.objects.filter(pk=program.pk).values().get()

    response = manager_client.post(URL, form_data(program, policy, **changes))

    html = response.content.decode()
    assert response.status_code == 200
    assert f'id="id_{field}_error"' in html and message in html
    assert Program.objects.filter(pk=program.pk).values().get() == before
    assert not AuditEvent.objects.exists()


def test_an_analyst_sees_the_portal_settings_without_a_form(analyst_client, program):
    html = analyst_client.get(URL).content.decode()
    assert 'id="id_redemption_undo_minutes"' in html and "disabled" in html and "Save settings" not in html

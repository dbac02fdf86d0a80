"""Two-factor sign-in for staff: a code from an authenticator app after the password, set up on the account page,
required for managers where the program says so, and no door (the admin's sign-in included) that skips it."""

from datetime import timedelta

import pyotp
import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from staff.models import AuditEvent, StaffPolicy, TotpDevice

from .conftest import PASSWORD, client_for

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_hasher(settings):
    # Lockout tests check a dozen passwords; Argon2 itself is tested in tests/platform/test_signin_lockout.py.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def device(manager):
    return TotpDevice.objects.create(user=manager, secret=pyotp.random_base32(), confirmed_at=timezone.now())


def code_for(secret: str, steps_ahead: int = 0) -> str:
    return pyotp.TOTP(secret).at(timezone.now() + timedelta(seconds=30 * steps_ahead))


def wrong_code(secret: str) -> str:
    right = {code_for(secret, step) for step in (-1, 0, 1)}
    return next(code for code in ("000000", "111111", "222222", "333333") if code not in right)


def password_step(client, user, *, next_path: str = "", address: str = "203.0.113.5"):
    data = {"username": user.username, "password": PASSWORD}
    if next_path:
        data["next"] = next_path
    return client.post("/staff/login/", data, REMOTE_ADDR=address)


def signed_in(client) -> bool:
    return "_auth_user_id" in client.session


# --- signing in ------------------------------------------------------------------------------------------------

def test_staff_without_an_app_sign_in_with_their_password_alone(manager):
    client = Client()
    response = password_step(client, manager)
    assert response.status_code == 302 and response["Location"] == "/staff/"
    assert client.get("/staff/").status_code == 200


def test_with_an_app_the_password_leads_to_the_code_step_and_nobody_is_signed_in_yet(manager, device):
    client = Client()
    response = password_step(client, manager)
    assert response.status_code == 302 and response["Location"] == "/staff/login/code/"
    assert not signed_in(client)
    assert client.get("/staff/").status_code == 302

    page = client.get("/staff/login/code/").content.decode()
    assert '<label for="id_code">Code' in page
    assert "Signing in as <strong>coffee-manager</strong>" in page


def test_the_right_code_signs_in_and_goes_where_the_person_was_going(manager, device, member):
    client = Client()
    password_step(client, manager, next_path="/staff/approvals/")
    response = client.post("/staff/login/code/", {"code": code_for(device.secret)})
    assert response.status_code == 302 and response["Location"] == "/staff/approvals/"
    assert signed_in(client)
    assert client.get("/staff/").status_code == 200


def test_a_wrong_code_is_refused_beside_the_field_and_signs_nobody_in(manager, device):
    client = Client()
    password_step(client, manager)
    response = client.post("/staff/login/code/", {"code": wrong_code(device.secret)})
    page = response.content.decode()
    assert response.status_code == 200
    assert "There is a problem" in page and "That code is not right" in page
    assert not signed_in(client)


def test_a_code_of_the_wrong_shape_is_refused_without_a_500(manager, device):
    client = Client()
    password_step(client, manager)
    for code in ("12345", "abcdef", "1234567", "", "١٢٣٤٥٦"):
        response = client.post("/staff/login/code/", {"code": code})
        assert response.status_code == 200
    assert not signed_in(client)


def test_a_code_cannot_be_used_twice(manager, device):
    code = code_for(device.secret)
    first = Client()
    password_step(first, manager)
    assert first.post("/staff/login/code/", {"code": code}).status_code == 302

    second = Client()
    password_step(second, manager)
    response = second.post("/staff/login/code/", {"code": code})
    assert response.status_code == 200 and "used already" in response.content.decode()
    assert not signed_in(second)
    # the next step's code is still good
    assert second.post("/staff/login/code/", {"code": code_for(device.secret, 1)}).status_code == 302


def test_the_code_step_lasts_five_minutes(manager, device):
    client = Client()
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        password_step(client, manager)
        clock.move_to(start + timedelta(minutes=5, seconds=1))
        response = client.post("/staff/login/code/", {"code": code_for(device.secret)})
    assert response.status_code == 302 and response["Location"] == "/staff/login/"
    assert not signed_in(client)


def test_the_code_step_without_a_password_first_sends_to_sign_in(db):
    response = Client().get("/staff/login/code/")
    assert response.status_code == 302 and response["Location"] == "/staff/login/"


def test_five_wrong_codes_end_the_attempt(manager, device):
    client = Client()
    password_step(client, manager)
    for _ in range(4):
        assert client.post("/staff/login/code/", {"code": wrong_code(device.secret)}).status_code == 200
    response = client.post("/staff/login/code/", {"code": wrong_code(device.secret)})
    assert response.status_code == 302 and response["Location"] == "/staff/login/"
    assert client.post("/staff/login/code/", {"code": code_for(device.secret)})["Location"] == "/staff/login/"
    assert not signed_in(client)


def test_wrong_codes_count_towards_the_sign_in_lockout(manager, device):
    for attempt in range(8):
        Client().post("/staff/login/", {"username": manager.username, "password": f"guess-{attempt}"},
                      REMOTE_ADDR=f"198.51.100.{attempt + 1}")
    client = Client()
    password_step(client, manager)
    assert client.post("/staff/login/code/", {"code": wrong_code(device.secret)}).status_code == 200  # the 9th
    response = client.post("/staff/login/code/", {"code": wrong_code(device.secret)})  # the 10th
    assert response.status_code == 429
    assert "Too many failed sign-in attempts" in response.content.decode()

    # locked: the right password and the right code from anywhere are refused for now
    later = Client()
    assert password_step(later, manager, address="192.0.2.77").status_code == 429
    assert not signed_in(later)


def test_a_username_locked_out_meanwhile_is_refused_at_the_code_step(manager, device):
    client = Client()
    password_step(client, manager)
    for attempt in range(10):
        Client().post("/staff/login/", {"username": manager.username, "password": f"guess-{attempt}"},
                      REMOTE_ADDR="198.51.100.20")
    response = client.post("/staff/login/code/", {"code": code_for(device.secret)})
    assert response.status_code == 429
    assert not signed_in(client)


def test_a_session_that_skipped_the_code_step_is_signed_out(manager, device):
    client = client_for(manager)  # signed in without the code step, as another way in would
    response = client.get("/staff/")
    assert response.status_code == 302
    assert response["Location"] == "/staff/login/?next=%2Fstaff%2F"
    assert not signed_in(client)


# --- the account page: set up and remove -------------------------------------------------------------------------

def test_every_staff_role_has_an_account_page(manager_client, agent_client, analyst_client):
    for client in (manager_client, agent_client, analyst_client):
        page = client.get("/staff/account/").content.decode()
        assert "Two-factor sign-in" in page and "Set up an authenticator app" in page


def test_a_manager_sets_up_an_app_with_a_first_code(manager, manager_client, program):
    manager_client.post("/staff/account/two-factor/start/")
    device = TotpDevice.objects.get(user=manager)
    assert device.confirmed_at is None

    page = manager_client.get("/staff/account/").content.decode()
    grouped = " ".join(device.secret[i:i + 4] for i in range(0, len(device.secret), 4))
    assert grouped in page
    assert '<svg role="img" aria-label="QR image' in page
    assert 'style="' not in page and "data:" not in page  # the Content-Security-Policy allows neither

    response = manager_client.post("/staff/account/two-factor/confirm/", {"code": code_for(device.secret)})
    assert response.status_code == 302 and response["Location"] == "/staff/account/"
    device.refresh_from_db()
    assert device.confirmed_at is not None
    page = manager_client.get("/staff/account/").content.decode()
    assert "Two-factor sign-in is on" in page and grouped not in page

    event = AuditEvent.objects.get(action="two_factor.enable")
    assert (event.actor, event.program, event.target_label) == (manager, program, "coffee-manager")
    assert device.secret not in str(event.before) + str(event.after) + event.reason


def test_a_wrong_code_at_set_up_changes_nothing(manager, manager_client):
    manager_client.post("/staff/account/two-factor/start/")
    device = TotpDevice.objects.get(user=manager)
    response = manager_client.post("/staff/account/two-factor/confirm/", {"code": wrong_code(device.secret)})
    assert response.status_code == 200
    assert "That code is not right" in response.content.decode()
    device.refresh_from_db()
    assert device.confirmed_at is None
    assert not AuditEvent.objects.exists()


def test_starting_again_gives_a_new_secret_and_cancelling_leaves_no_app(manager, manager_client):
    manager_client.post("/staff/account/two-factor/start/")
    first = TotpDevice.objects.get(user=manager).secret
    manager_client.post("/staff/account/two-factor/start/")
    assert TotpDevice.objects.get(user=manager).secret != first
    manager_client.post("/staff/account/two-factor/cancel/")
    assert not TotpDevice.objects.filter(user=manager).exists()


def test_removing_the_app_needs_a_current_code_and_is_audited(manager, device):
    client = Client()
    password_step(client, manager)
    client.post("/staff/login/code/", {"code": code_for(device.secret)})

    refused = client.post("/staff/account/two-factor/remove/", {"code": wrong_code(device.secret)})
    assert refused.status_code == 200 and "That code is not right" in refused.content.decode()
    assert TotpDevice.objects.filter(user=manager).exists()

    response = client.post("/staff/account/two-factor/remove/", {"code": code_for(device.secret, 1)})
    assert response.status_code == 302
    assert not TotpDevice.objects.filter(user=manager).exists()
    assert AuditEvent.objects.filter(action="two_factor.disable", actor=manager).count() == 1
    assert password_step(Client(), manager)["Location"] == "/staff/"


# --- programs that require it --------------------------------------------------------------------------------------

@pytest.fixture
def required(policy):
    StaffPolicy.objects.filter(pk=policy.pk).update(manager_mfa_required=True)


def test_a_manager_of_a_program_requiring_it_sets_up_an_app_before_anything_else(manager_client, program, required):
    response = manager_client.get("/staff/")
    assert response.status_code == 302
    assert response["Location"] == "/staff/account/?next=%2Fstaff%2F"
    page = manager_client.get(response["Location"]).content.decode()
    assert "Set up two-factor sign-in to continue" in page and "Coffee Club" in page


def test_after_setting_up_the_app_the_manager_goes_on_where_they_were_going(manager, manager_client, required):
    manager_client.post("/staff/account/two-factor/start/?next=/staff/members/")
    device = TotpDevice.objects.get(user=manager)
    response = manager_client.post("/staff/account/two-factor/confirm/",
                                   {"code": code_for(device.secret), "next": "/staff/members/"})
    assert response["Location"] == "/staff/members/"
    assert manager_client.get("/staff/").status_code == 200


def test_the_next_page_after_set_up_stays_on_this_site(manager, manager_client):
    manager_client.post("/staff/account/two-factor/start/")
    device = TotpDevice.objects.get(user=manager)
    response = manager_client.post("/staff/account/two-factor/confirm/",
                                   {"code": code_for(device.secret), "next": "https://evil.example/staff/"})
    assert response["Location"] == "/staff/account/"


def test_agents_and_analysts_of_that_program_are_not_asked(agent_client, analyst_client, required):
    assert agent_client.get("/staff/").status_code == 200
    assert analyst_client.get("/staff/").status_code == 200


def test_managers_of_other_programs_are_not_asked(other_manager_client, required):
    assert other_manager_client.get("/staff/").status_code == 200


def test_superusers_are_asked_when_any_program_requires_it(superuser, required):
    response = client_for(superuser).get("/staff/")
    assert response.status_code == 302 and response["Location"].startswith("/staff/account/")


# --- the admin's door ----------------------------------------------------------------------------------------------

def test_the_admin_sign_in_asks_for_the_code_too(superuser):
    device = TotpDevice.objects.create(user=superuser, secret=pyotp.random_base32(), confirmed_at=timezone.now())
    client = Client()
    response = client.post("/admin/login/?next=/admin/", {"username": "root", "password": PASSWORD,
                                                           "next": "/admin/"})
    assert response.status_code == 302 and response["Location"] == "/staff/login/code/"
    assert not signed_in(client)
    response = client.post("/staff/login/code/", {"code": code_for(device.secret)})
    assert response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_an_admin_session_that_skipped_the_code_is_signed_out(superuser):
    TotpDevice.objects.create(user=superuser, secret=pyotp.random_base32(), confirmed_at=timezone.now())
    response = client_for(superuser).get("/admin/")
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/?next=")


def test_a_superuser_removes_a_lost_app_in_the_admin_and_it_is_audited(superuser, manager, device):
    client = client_for(superuser)
    page = client.get(f"/admin/staff/totpdevice/{device.pk}/change/").content.decode()
    assert device.secret not in page
    response = client.post(f"/admin/staff/totpdevice/{device.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not TotpDevice.objects.exists()
    event = AuditEvent.objects.get(action="two_factor.reset")
    assert (event.actor, event.target_label) == (superuser, "coffee-manager")
    assert password_step(Client(), manager)["Location"] == "/staff/"

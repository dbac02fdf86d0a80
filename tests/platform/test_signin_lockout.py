"""Password guessing at the staff sign-in is stopped: 10 failures lock a username, and an address, out."""

from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import User
from django.utils import timezone

PASSWORD = "correct-horse-battery-staple"


@pytest.fixture
def staff(db, settings):
    # Each attempt checks a password: a fast hasher keeps dozens of them quick (Argon2 is tested below).
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return User.objects.create_superuser("ada", email="ada@example.com", password=PASSWORD)


def sign_in(client, username, password, address="203.0.113.10", **headers):
    return client.post("/admin/login/?next=/admin/", {"username": username, "password": password,
                                                      "next": "/admin/"}, REMOTE_ADDR=address, **headers)


def signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def test_the_right_password_is_refused_after_ten_wrong_ones(client, staff):
    for attempt in range(9):
        assert sign_in(client, "ada", f"guess-{attempt}").status_code == 200  # the form again, with its error
    assert sign_in(client, "ada", "guess-9").status_code == 429

    response = sign_in(client, "ada", PASSWORD)

    assert response.status_code == 429
    page = response.content.decode()
    assert "Too many failed sign-in attempts" in page
    assert "Try again in 15 minutes" in page
    assert not signed_in(client)
    assert client.get("/admin/").status_code == 302, "not signed in"


def test_nine_wrong_passwords_do_not_lock_anyone_out(client, staff):
    for attempt in range(9):
        sign_in(client, "ada", f"guess-{attempt}")

    response = sign_in(client, "ada", PASSWORD)

    assert response.status_code == 302
    assert signed_in(client)


def test_a_username_under_attack_is_locked_from_every_address(client, staff):
    for attempt in range(10):
        sign_in(client, "ada", f"guess-{attempt}", address=f"198.51.100.{attempt + 1}")

    assert sign_in(client, "ada", PASSWORD, address="192.0.2.77").status_code == 429
    assert not signed_in(client)


def test_an_address_guessing_at_many_usernames_is_locked_out_and_others_are_not(client, staff):
    for attempt in range(10):
        sign_in(client, f"user-{attempt}", "guess", address="198.51.100.9")

    assert sign_in(client, "ada", PASSWORD, address="198.51.100.9").status_code == 429
    assert sign_in(client, "ada", PASSWORD, address="192.0.2.77").status_code == 302
    assert signed_in(client)


def test_the_lockout_ends_fifteen_minutes_after_the_last_failure(client, staff):
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        for attempt in range(10):
            sign_in(client, "ada", f"guess-{attempt}")
        clock.move_to(start + timedelta(minutes=14))
        assert sign_in(client, "ada", PASSWORD).status_code == 429

        clock.move_to(start + timedelta(minutes=29, seconds=1))  # 15 minutes after the refused attempt
        assert sign_in(client, "ada", PASSWORD).status_code == 302
    assert signed_in(client)


def test_without_proxies_a_forged_forwarded_for_header_does_not_spread_the_count(client, staff):
    for attempt in range(10):
        sign_in(client, f"user-{attempt}", "guess", address="198.51.100.9",
                HTTP_X_FORWARDED_FOR=f"192.0.2.{attempt}")

    assert sign_in(client, "ada", PASSWORD, address="198.51.100.9",
                   HTTP_X_FORWARDED_FOR="192.0.2.200").status_code == 429


def test_behind_a_trusted_proxy_the_address_the_proxy_saw_is_counted(client, staff, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    proxy = "10.0.0.2"
    for attempt in range(10):  # the client writes its own X-Forwarded-For; the proxy appends what it saw
        sign_in(client, f"user-{attempt}", "guess", address=proxy,
                HTTP_X_FORWARDED_FOR=f"192.0.2.{attempt}, 198.51.100.9")

    assert sign_in(client, "ada", PASSWORD, address=proxy,
                   HTTP_X_FORWARDED_FOR="198.51.100.9").status_code == 429
    assert sign_in(client, "ada", PASSWORD, address=proxy,
                   HTTP_X_FORWARDED_FOR="198.51.100.10").status_code == 302


def test_passwords_are_stored_with_argon2_and_older_hashes_are_upgraded_at_sign_in(client, db):
    assert User.objects.create_user("grace", password=PASSWORD).password.startswith("argon2$")
    old = User.objects.create_user("alan", is_staff=True)
    User.objects.filter(pk=old.pk).update(password=make_password(PASSWORD, hasher="pbkdf2_sha256"))

    assert sign_in(client, "alan", PASSWORD).status_code == 302

    assert User.objects.get(pk=old.pk).password.startswith("argon2$")

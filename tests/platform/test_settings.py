"""Deployment settings: refuse to start in production without a secret; plain HTTP on loopback keeps working."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.jobs.test_broker import database_url_of_tests

BASE_DIR = Path(__file__).resolve().parents[2]
SETUP = "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'loyalty.settings'; django.setup()"
GET_HEALTHZ = SETUP + (
    "; from django.test import Client; r = Client().get('/healthz', HTTP_HOST='127.0.0.1');"
    " print(r.status_code, r.get('Location', ''))"
)
SECRET = "a-long-random-secret-for-this-test-only-0123456789abcdef"


def environment(tmp_path, **overrides) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in {"DJANGO_SECRET_KEY", "DJANGO_SECURE", "CELERY_BROKER_URL", "DJANGO_SETTINGS_MODULE"}}
    env.update(overrides)
    return env


def run(code: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=BASE_DIR, env=env, capture_output=True, text=True,
                          timeout=60, check=False)


def test_production_without_a_secret_key_refuses_to_start(tmp_path):
    result = run(SETUP, environment(tmp_path, DJANGO_DEBUG="false"))

    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr


def test_debug_defaults_to_off_so_a_missing_secret_is_refused_by_default(tmp_path):
    env = environment(tmp_path)
    env.pop("DJANGO_DEBUG", None)

    result = run(SETUP, env)

    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr


def test_production_with_a_secret_key_starts(tmp_path):
    result = run(SETUP + "; from django.conf import settings; print(settings.DEBUG)",
                 environment(tmp_path, DJANGO_DEBUG="false", DJANGO_SECRET_KEY=SECRET))

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_local_development_starts_without_a_secret_key(tmp_path):
    result = run(SETUP + "; from django.conf import settings; print(settings.DEBUG)",
                 environment(tmp_path, DJANGO_DEBUG="true"))

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"


def test_plain_http_on_loopback_is_not_redirected_with_debug_off(tmp_path, db):
    result = run(GET_HEALTHZ, environment(tmp_path, DJANGO_DEBUG="false", DJANGO_SECRET_KEY=SECRET,
                                          DATABASE_URL=database_url_of_tests()))

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["200"]


def test_tls_redirects_are_switched_on_explicitly(tmp_path):
    result = run(GET_HEALTHZ, environment(tmp_path, DJANGO_DEBUG="false", DJANGO_SECRET_KEY=SECRET,
                                          DJANGO_SECURE="true"))

    assert result.returncode == 0, result.stderr
    status, location = result.stdout.split()
    assert status == "301"
    assert location.startswith("https://")


def test_the_test_client_is_not_redirected_either(client, db, settings):
    assert settings.DEBUG is False

    response = client.get("/healthz")

    assert response.status_code == 200


@pytest.mark.parametrize("value", ["false", "0", "no"])
def test_debug_off_spellings_all_mean_off(tmp_path, value):
    result = run(SETUP, environment(tmp_path, DJANGO_DEBUG=value))

    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr

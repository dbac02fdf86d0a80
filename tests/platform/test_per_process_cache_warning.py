"""Serving with several workers on the per-process cache is said out loud at start-up."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.checks import run_checks

ROOT = Path(__file__).resolve().parents[2]
LOCMEM = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "check"}}
REDIS = {"default": {"BACKEND": "loyalty.cache.RedisCache", "LOCATION": "redis://127.0.0.1:6379/9"}}


def warnings_of_checks():
    return [message for message in run_checks() if message.id == "loyalty.W001"]


@pytest.fixture
def production(settings):
    settings.DEBUG = False
    settings.CACHES = LOCMEM
    return settings


def test_the_system_check_warns_when_several_workers_share_no_cache(production, monkeypatch):
    monkeypatch.setenv("WEB_CONCURRENCY", "3")

    (warning,) = warnings_of_checks()

    assert warning.level == 30  # a Warning: migrate and check print it, nothing refuses to start
    assert "3 web workers" in warning.msg
    assert "each counts the POS rate limit" in warning.msg
    assert "CACHE_URL" in warning.msg


@pytest.mark.parametrize(("workers", "caches", "debug"), [("1", LOCMEM, False), ("3", REDIS, False),
                                                          ("3", LOCMEM, True)])
def test_the_check_is_quiet_with_one_worker_a_shared_cache_or_debug(production, monkeypatch, workers, caches,
                                                                    debug):
    monkeypatch.setenv("WEB_CONCURRENCY", workers)
    production.CACHES, production.DEBUG = caches, debug

    assert warnings_of_checks() == []


def gunicorn_log(tmp_path, *, workers: int) -> str:
    """Start gunicorn as the image does (config from the working directory) on loopback; its log once up."""
    env = {key: value for key, value in os.environ.items() if key not in ("CACHE_URL", "WEB_CONCURRENCY")}
    env.update(DJANGO_DEBUG="false", DJANGO_SECRET_KEY="test-secret-key-not-for-production-0123456789")
    log = tmp_path / "gunicorn.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "loyalty.wsgi:application", "--bind", "127.0.0.1:0",
             "--workers", str(workers)], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while log.read_text().count("Booting worker") < workers:
            assert server.poll() is None, f"gunicorn exited:\n{log.read_text()}"
            assert time.monotonic() < deadline, f"gunicorn did not start:\n{log.read_text()}"
            time.sleep(0.2)
    finally:
        server.terminate()
        server.wait(timeout=30)
    return log.read_text()


def test_gunicorn_warns_at_start_up_when_its_workers_count_alone(tmp_path):
    log = gunicorn_log(tmp_path, workers=2)

    assert "WARNING: CACHE_URL is the local-memory cache" in log
    assert "2 web workers serve" in log


def test_gunicorn_with_one_worker_says_nothing_of_it(tmp_path):
    assert "local-memory cache" not in gunicorn_log(tmp_path, workers=1)

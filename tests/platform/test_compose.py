"""docker-compose.yml: valid for docker-compose, and shaped the way docs/operations.md describes it.

The structural tests read the file itself (PyYAML resolves its anchors and merge keys), so they
run everywhere; the ones that need the docker-compose tool skip locally without it and fail on CI.
No Docker engine is needed: `docker-compose config` only parses and interpolates.
"""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import skip_unless

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
SETTINGS_FILE = ROOT / "loyalty" / "settings.py"

APP_SERVICES = ("web", "worker", "beat")
SERVICES = (*APP_SERVICES, "postgres", "redis")
# Read by gunicorn itself, not by loyalty/settings.py.
NON_SETTINGS_VARIABLES = {"WEB_CONCURRENCY"}

TEST_SECRET = "compose-test-secret-0123456789abcdefghijklmnopqrstuvwxyz"


@pytest.fixture(scope="module")
def stack() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def _interpolated_variables() -> set[str]:
    return set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)", COMPOSE_FILE.read_text()))


def _settings_variables() -> set[str]:
    """Every environment variable loyalty/settings.py reads (``env.<cast>("NAME", ...)``)."""
    return set(re.findall(r"\benv(?:\.\w+)?\(\s*[\"']([A-Z_][A-Z0-9_]*)[\"']", SETTINGS_FILE.read_text()))


@pytest.fixture
def compose(tmp_path):
    """Run docker-compose on the stack file with a clean, known environment.

    The caller's own values (and any local .env) are kept out, so the outcome does not depend
    on the machine: ``--env-file`` points at an empty file, and every variable the file
    interpolates is removed from the environment unless the test passes it.
    """
    skip_unless(shutil.which("docker-compose") is not None, "needs docker-compose to validate docker-compose.yml")
    empty_env_file = tmp_path / "empty.env"
    empty_env_file.write_text("")
    hidden = _interpolated_variables()
    base_env = {
        key: value for key, value in os.environ.items() if key not in hidden and not key.startswith("COMPOSE_")
    }

    def run(*args: str, **variables: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["docker-compose", "--project-directory", str(ROOT), "--env-file", str(empty_env_file),
             "-f", str(COMPOSE_FILE), *args],
            env={**base_env, **variables}, capture_output=True, text=True, timeout=60, check=False,
        )

    return run


def test_compose_file_validates(compose):
    result = compose("config", "-q", DJANGO_SECRET_KEY=TEST_SECRET)
    assert result.returncode == 0, result.stderr


def test_compose_refuses_to_start_without_a_secret_key(compose):
    result = compose("config", "-q")
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr


def test_interpolated_environment_reaches_every_app_service(compose):
    result = compose("config", DJANGO_SECRET_KEY=TEST_SECRET, DJANGO_ALLOWED_HOSTS="loyalty.example.com")
    assert result.returncode == 0, result.stderr
    services = yaml.safe_load(result.stdout)["services"]
    for name in (*APP_SERVICES, "migrate"):
        environment = services[name]["environment"]
        assert environment["DJANGO_SECRET_KEY"] == TEST_SECRET, name
        assert environment["DJANGO_DEBUG"] == "false", name
        assert environment["DJANGO_ALLOWED_HOSTS"] == "127.0.0.1,loyalty.example.com", name
        assert environment["DATABASE_URL"].startswith("postgres://"), name
        assert environment["CELERY_BROKER_URL"].startswith("redis://redis:"), name
        assert environment["CACHE_URL"].startswith("redis://redis:"), name


def test_stack_has_the_five_services_each_with_a_healthcheck(stack):
    services = stack["services"]
    for name in SERVICES:
        assert name in services, f"missing service {name}"
        healthcheck = services[name].get("healthcheck") or {}
        assert healthcheck.get("test"), f"{name} has no healthcheck"
        assert not healthcheck.get("disable"), f"{name} disables its healthcheck"


def test_probes_check_what_each_service_does(stack):
    services = stack["services"]

    def probe(name: str) -> str:
        return " ".join(services[name]["healthcheck"]["test"])

    assert "/healthz" in probe("web")
    assert "pg_isready" in probe("postgres")
    assert "redis-cli ping" in probe("redis")
    assert "celery -A loyalty inspect ping" in probe("worker")


def test_app_services_share_one_image_definition(stack):
    extensions = {key: value for key, value in stack.items() if key.startswith("x-")}
    shared = [value for value in extensions.values() if isinstance(value, dict) and "build" in value]
    assert len(shared) == 1, "expected one x- extension holding the build definition"
    (definition,) = shared
    for name in (*APP_SERVICES, "migrate"):
        service = stack["services"][name]
        assert service["build"] == definition["build"], name
        assert service["image"] == definition["image"], name


def test_processes_run_the_commands_their_names_promise(stack):
    services = stack["services"]
    assert services["web"]["command"][:2] == ["gunicorn", "loyalty.wsgi:application"]
    assert "--bind=0.0.0.0:8000" in services["web"]["command"]
    assert services["worker"]["command"][:4] == ["celery", "-A", "loyalty", "worker"]
    assert services["beat"]["command"][:4] == ["celery", "-A", "loyalty", "beat"]
    assert services["migrate"]["command"] == ["python", "manage.py", "migrate", "--noinput"]
    assert services["migrate"]["restart"] == "no"
    assert services["postgres"]["image"].split(":")[1].startswith("16")
    assert services["redis"]["image"].split(":")[1].startswith("7")


def test_app_services_wait_for_healthy_services_and_finished_migrations(stack):
    services = stack["services"]
    for name in APP_SERVICES:
        depends_on = services[name]["depends_on"]
        assert depends_on["redis"] == {"condition": "service_healthy"}, name
        assert depends_on["migrate"] == {"condition": "service_completed_successfully"}, name
    for name in ("web", "worker", "migrate"):
        assert services[name]["depends_on"]["postgres"] == {"condition": "service_healthy"}, name


def test_postgres_keeps_its_data_in_a_named_volume(stack):
    mounts = stack["services"]["postgres"]["volumes"]
    assert any(mount.endswith(":/var/lib/postgresql/data") and not mount.startswith(("/", "."))
               for mount in mounts)
    assert "postgres-data" in stack["volumes"]


def test_app_environment_names_only_variables_the_settings_read(stack):
    read_by_settings = _settings_variables()
    assert "DATABASE_URL" in read_by_settings  # the pattern still finds them
    for name in (*APP_SERVICES, "migrate"):
        environment = stack["services"][name]["environment"]
        unknown = set(environment) - read_by_settings - NON_SETTINGS_VARIABLES
        assert not unknown, f"{name} sets variables loyalty/settings.py does not read: {sorted(unknown)}"
        assert environment["DJANGO_DEBUG"] == "false"
        assert "${DJANGO_SECRET_KEY:?" in environment["DJANGO_SECRET_KEY"]

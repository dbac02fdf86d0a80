"""The lock files install what requirements*.txt ask for: a requirement changed without `make lock` fails here."""

import re
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]


def logical_lines(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text().replace("\\\n", " ").splitlines()]


def pins(path: Path) -> dict[str, str]:
    """name → pinned version of each requirement of ``path`` itself (options such as ``-r`` and comments skipped)."""
    found = {}
    for line in logical_lines(path):
        line = line.split(" #")[0].split(" --hash")[0].strip()
        if line and not line.startswith(("#", "-")):
            requirement = Requirement(line)
            (specifier,) = requirement.specifier
            assert specifier.operator == "==", f"{path.name}: {line} is not pinned with =="
            found[canonicalize_name(requirement.name)] = specifier.version
    return found


def locked(path: Path) -> dict[str, dict]:
    """name → {"version", "hashes", "via": the requirements files that ask for it by name} of a lock file."""
    entries, current = {}, None
    for line in logical_lines(path):
        if line and not line.startswith("#"):
            requirement = Requirement(line.split(" --hash")[0])
            (specifier,) = requirement.specifier
            current = entries[canonicalize_name(requirement.name)] = {
                "version": specifier.version, "hashes": re.findall(r"--hash=sha256:[0-9a-f]{64}", line), "via": set()}
        elif current is not None and (via := re.search(r"-r (\S+)", line)):
            current["via"].add(via.group(1))
    return entries


RUNTIME, DEV = ROOT / "requirements.txt", ROOT / "requirements-dev.txt"
LOCKS = {RUNTIME: ROOT / "requirements.lock", DEV: ROOT / "requirements-dev.lock"}


@pytest.mark.parametrize("requirements", [RUNTIME, DEV], ids=lambda path: path.name)
def test_every_pin_of_the_requirements_is_locked_at_the_same_version(requirements):
    lock = locked(LOCKS[requirements])
    wanted = pins(RUNTIME) | pins(requirements)

    assert {name: lock.get(name, {}).get("version") for name in wanted} == wanted


@pytest.mark.parametrize("requirements", [RUNTIME, DEV], ids=lambda path: path.name)
def test_a_requirement_dropped_from_the_requirements_leaves_the_lock(requirements):
    lock = locked(LOCKS[requirements])

    for source in {RUNTIME, requirements}:
        assert {name for name, entry in lock.items() if source.name in entry["via"]} == set(pins(source))


def test_the_dev_lock_keeps_every_version_of_the_runtime_lock():
    runtime, dev = locked(LOCKS[RUNTIME]), locked(LOCKS[DEV])

    assert {name: dev.get(name, {}).get("version") for name in runtime} == {
        name: entry["version"] for name, entry in runtime.items()}


@pytest.mark.parametrize("lock", LOCKS.values(), ids=lambda path: path.name)
def test_every_locked_package_carries_its_hashes(lock):
    assert [name for name, entry in locked(lock).items() if not entry["hashes"]] == []

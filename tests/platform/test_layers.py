"""No app reaches into another app's private names (the layer order itself is `lint-imports`' contract)."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APPS = ("loyalty", "programs", "members", "ledger", "tiers", "earning", "rewards", "notifications", "webhooks")


def test_no_module_imports_a_private_name_of_another_app():
    found = []
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if not isinstance(node, ast.ImportFrom) or node.level or not node.module:
                    continue
                other = node.module.split(".")[0]
                if other in APPS and other != app:
                    found += [f"{path.relative_to(ROOT)}: {node.module}.{alias.name}"
                              for alias in node.names if alias.name.startswith("_")]
    assert found == []

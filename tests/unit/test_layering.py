"""One writer per piece of state: the admin service may validate with the manager's pure helpers,
but never runs its write path (operator actions go to the manager as commands)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).parents[2]
PURE_MANAGER_HELPERS = {"manager.prompts", "manager.spintax", "manager.pacing"}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_the_admin_service_imports_no_manager_write_path() -> None:
    offending = {
        f"{path.relative_to(ROOT)}: {name}"
        for path in (ROOT / "admin").rglob("*.py")
        for name in _imports(path)
        if (name == "manager" or name.startswith("manager.")) and name not in PURE_MANAGER_HELPERS
    }
    assert offending == set()


def test_the_admin_service_imports_no_scripts_write_path() -> None:
    """Runs are the scripts service's: the admin sends it commands and only validates scenes
    with the pure scenario language."""
    offending = {
        f"{path.relative_to(ROOT)}: {name}"
        for path in (ROOT / "admin").rglob("*.py")
        for name in _imports(path)
        if (name == "scripts" or name.startswith("scripts."))
        and name != "scripts.scenario"
        and not name.startswith("scripts.scenario.")
    }
    assert offending == set()

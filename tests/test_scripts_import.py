"""The benchmarks and tools outside the suite still import: a move inside the package must
update them too (tools/screenshots_manage.py once kept importing a package that was gone)."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted(
    ".".join(path.relative_to(ROOT).with_suffix("").parts)
    for folder in ("bench", "tools")
    for path in (ROOT / folder).rglob("*.py")
    if path.name != "__init__.py"
)


def test_there_are_scripts_to_check() -> None:
    assert "bench.intake" in SCRIPTS and "tools.screenshots" in SCRIPTS


@pytest.mark.parametrize("module", SCRIPTS)
def test_script_imports(module: str) -> None:
    importlib.import_module(module)

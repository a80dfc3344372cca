"""The stages (collect, align, label, build, train) never import each other: each reads what
the one before stored, and what they share lives on the ground floor. Read from the source
with ``ast``, so an import inside a function counts as much as one at the top."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STAGES = {
    "timgen_data.collectors": ROOT / "timgen_data" / "collectors",
    "timgen_data.alignment": ROOT / "timgen_data" / "alignment",
    "timgen_data.labeling": ROOT / "timgen_data" / "labeling",
    "timgen_data.dataset": ROOT / "timgen_data" / "dataset",
    "timgen_model": ROOT / "timgen_model",
}


def imported_modules(path: Path, package: str) -> list[tuple[int, str]]:
    """(line, module) for every import in ``path``, relative ones resolved against ``package``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.append((node.lineno, module))
    return found


def package_of(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts if path.name == "__init__.py" else parts[:-1])


def test_the_reader_sees_imports_of_every_kind():
    source = ROOT / "timgen_data" / "collectors" / "youtube" / "collector.py"
    found = [module for _, module in imported_modules(source, package_of(source))]
    assert "timgen_data.collectors.youtube" in found and "timgen_data.store" in found


@pytest.mark.parametrize("stage", STAGES)
def test_a_stage_imports_no_other_stage(stage):
    others = tuple(name for name in STAGES if name != stage)
    crossings = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in sorted(STAGES[stage].rglob("*.py"))
        for line, module in imported_modules(path, package_of(path))
        if module in others or module.startswith(tuple(f"{name}." for name in others))
    ]
    assert crossings == []

"""The package's architecture rules, checked on its import graph (import-linter and grimp)."""

import subprocess
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_in_pyproject_are_kept():
    """Layers (each package imports only those below it) and no import of the package root."""
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint_imports), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _package(module: str) -> str:
    """``automl_nas.search._run`` -> ``automl_nas.search``."""
    return ".".join(module.split(".")[:2])


def test_packages_use_each_other_only_through_their_public_init():
    graph = grimp.build_graph("automl_nas")
    private = sorted(
        f"{importer} -> {imported}"
        for importer in graph.modules
        for imported in graph.find_modules_directly_imported_by(importer)
        if _package(importer) != _package(imported)
        and any(part.startswith("_") for part in imported.split(".")[2:])
    )
    assert private == [], "imports of another package's private modules:\n" + "\n".join(private)

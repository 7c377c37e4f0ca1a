"""The layers hold: imports only run down (pyproject.toml's [tool.importlinter] contracts).

Top to bottom: pipeline/ (the CLI), devtools/, the services, schemas/, core/. No module of core/
imports a service; no service imports another service, devtools/ or pipeline/.
"""

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
LINT_IMPORTS = str(Path(sys.executable).with_name("lint-imports"))


def _lint(cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LINT_IMPORTS, "--no-cache"],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(cwd)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_every_package_is_in_a_layer() -> None:
    packages = {path.parent.name for path in ROOT.glob("*/__init__.py")} - {"tests"}
    assert set(CONFIG["root_packages"]) == packages
    (layers,) = [c for c in CONFIG["contracts"] if c["type"] == "layers"]
    layered = {name.strip() for layer in layers["layers"] for name in layer.split("|")}
    assert layered == packages


def test_imports_run_down() -> None:
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("importer", "imported", "broken"),
    [
        ("core", "ingest", "core is not allowed to import ingest"),
        ("streams", "ingest", "streams is not allowed to import ingest"),
        ("ingest", "pipeline", "ingest is not allowed to import pipeline"),
        ("sinks.history", "sinks.personalize", "sinks.history is not allowed to import"),
        ("sinks.catalog", "sinks.personalize", "sinks.catalog is not allowed to import"),
    ],
)
def test_the_contracts_refuse_an_import_that_runs_up_or_across(
    tmp_path: Path, importer: str, imported: str, broken: str
) -> None:
    """The same contracts, on empty packages of the same names plus one forbidden import."""
    (tmp_path / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text())
    independent = [
        m for c in CONFIG["contracts"] if c["type"] == "independence" for m in c["modules"]
    ]
    for package in [*CONFIG["root_packages"], *independent]:
        folder = tmp_path.joinpath(*package.split("."))
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "__init__.py").touch()
    tmp_path.joinpath(*importer.split("."), "__init__.py").write_text(f"import {imported}\n")
    result = _lint(tmp_path)
    assert result.returncode != 0
    assert broken in result.stdout

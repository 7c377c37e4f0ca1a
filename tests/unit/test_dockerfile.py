"""The Dockerfile, checked by reading (no Docker engine here): the default image is the
production one, without devtools/; the `dev` target adds it for the local profile's emulator."""

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"][
    "root_packages"
]


def stages() -> dict[str, tuple[str, list[str]]]:
    """Stage name -> (what it is built FROM, its instructions), in the file's order."""
    found: dict[str, tuple[str, list[str]]] = {}
    current: list[str] = []
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = re.fullmatch(r"FROM\s+(\S+)\s+AS\s+(\S+)", line, re.IGNORECASE)
        if match:
            current = []
            found[match[2]] = (match[1], current)
        else:
            assert found, f"an instruction before the first named stage: {line}"
            current.append(line)
    return found


def copied(instructions: list[str]) -> set[str]:
    return {line.split()[1] for line in instructions if line.upper().startswith("COPY ")}


def test_the_default_image_is_production_built_on_base() -> None:
    built = stages()
    assert list(built)[-1] == "production"  # the last stage: what `docker build .` makes
    assert built["production"][0] == "base" and built["dev"][0] == "base"


def test_base_ships_every_runtime_package_and_not_the_dev_tools() -> None:
    runtime = {p for p in PACKAGES if p != "devtools"}
    base = copied(stages()["base"][1])
    assert runtime <= base
    assert "devtools" not in base
    assert "devtools" not in copied(stages()["production"][1])


def test_the_dev_target_adds_the_dev_tools_and_installs_them() -> None:
    dev = stages()["dev"][1]
    assert "devtools" in copied(dev)
    assert any(line.startswith("RUN pip install") for line in dev)
    assert dev[-1] == "USER pipeline"  # not left running as root

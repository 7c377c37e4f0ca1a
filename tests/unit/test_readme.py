"""The README stays a newcomer's page: short, its commands and links real, no numbers of its own.

Every link in the README and in docs/ resolves to a file of the repository; the folders it lists
exist; the `make` targets it names are the Makefile's; the local stack it tells you to curl
listens where it says, with the secret it says; performance numbers live in bench/README.md.
"""

import re
from pathlib import Path

import pytest

from devtools.stack import DEV_SECRET, Ports

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
DOCS = sorted((ROOT / "docs").glob("*.md"))
# [text](target): relative targets only, an optional #anchor dropped.
LINK = re.compile(r"\[[^\]]*\]\((?!https?://|#)([^)#\s]+)(?:#[^)]*)?\)")


def _links(path: Path) -> list[str]:
    return LINK.findall(path.read_text())


def test_the_readme_is_short() -> None:
    lines = len(README.splitlines())
    assert lines <= 160, f"README.md has {lines} lines: move detail into docs/"


def test_the_make_targets_it_names_are_the_makefiles() -> None:
    named = set(re.findall(r"^make (\w+)", README, flags=re.M))
    targets = set(re.findall(r"^(\w+):", (ROOT / "Makefile").read_text(), flags=re.M))
    assert named >= {"run", "test"}
    assert named <= targets, f"not Makefile targets: {sorted(named - targets)}"


@pytest.mark.parametrize("path", [ROOT / "README.md", *DOCS], ids=lambda path: path.name)
def test_every_link_resolves_to_a_file_of_the_repository(path: Path) -> None:
    links = _links(path)
    broken = [link for link in links if not (path.parent / link).resolve().exists()]
    assert not broken, f"{path.relative_to(ROOT)} links to missing files: {broken}"
    for link in links:
        assert (path.parent / link).resolve().is_relative_to(ROOT), link


def test_it_links_every_page_of_docs_and_the_benchmarks() -> None:
    linked = {(ROOT / link).resolve() for link in _links(ROOT / "README.md")}
    unlinked = [p.name for p in [*DOCS, ROOT / "bench" / "README.md"] if p not in linked]
    assert not unlinked, f"README.md's 'Where to go next' misses {unlinked}"


def test_the_folders_of_its_layout_exist() -> None:
    folders = re.findall(r"^\|[^|]*\| `([\w/]+/)` \|", README, flags=re.M)
    assert len(folders) >= 10
    missing = [folder for folder in folders if not (ROOT / folder).is_dir()]
    assert not missing, f"README.md's layout names missing folders: {missing}"


def test_try_it_talks_to_the_local_stack_as_it_runs() -> None:
    ports = Ports()
    assert f"http://127.0.0.1:{ports.ingest}/webhooks/amplitude" in README
    assert f"http://127.0.0.1:{ports.emulator}/_emulator/put-events" in README
    assert f"Authorization: Bearer {DEV_SECRET}" in README


def test_no_performance_numbers_of_its_own() -> None:
    numbers = re.findall(
        r"\d[\d,.]*\s*(?:k|K)?\s*(?:events/s|calls/s|req(?:uests)?/s|/s\b|us\b|µs|ms\b|%)", README
    )
    assert not numbers, f"README.md quotes {numbers}: link bench/README.md instead"

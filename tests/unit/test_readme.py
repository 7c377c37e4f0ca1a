"""The README documents every environment variable the services read."""

from pathlib import Path

import pytest

from tests.unit.test_compose import LIBRARY_VARIABLES, known_variables

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


@pytest.mark.parametrize("name", sorted(known_variables() - LIBRARY_VARIABLES))
def test_every_setting_is_in_the_readme(name: str) -> None:
    assert f"`{name}`" in README, f"{name} is read by a service but not in README.md"

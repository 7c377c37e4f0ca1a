"""docs/configuration.md is what the settings classes say, and every setting says something."""

from pathlib import Path

import pytest
from pydantic import SecretStr

from devtools.config_reference import COMMAND, SECTIONS, own_fields, render
from tests.fixtures.environment import service_variables

REFERENCE = Path(__file__).resolve().parents[3] / "docs" / "configuration.md"


def test_the_reference_is_what_the_generator_prints_now() -> None:
    assert REFERENCE.read_text() == render(), (
        f"docs/configuration.md is out of date with the settings classes: run `{COMMAND}`"
    )


@pytest.mark.parametrize(
    "settings", [settings for *_, settings in SECTIONS], ids=lambda settings: settings.__name__
)
def test_every_field_has_a_description(settings: type) -> None:
    missing = [name for name, field in own_fields(settings) if not (field.description or "")]
    assert not missing, f"{settings.__name__}: add Field(description=...) to {missing}"


def test_every_variable_a_service_reads_is_in_the_reference() -> None:
    text = render()
    missing = sorted(name for name in service_variables() if f"`{name}`" not in text)
    assert not missing, f"SECTIONS in devtools/config_reference.py misses {missing}"


def test_a_secret_default_is_never_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    from core.settings import KafkaSettings

    field = KafkaSettings.model_fields["kafka_client_config"]
    monkeypatch.setattr(field, "default", SecretStr("sasl.password=hunter2"))
    row = next(line for line in render().splitlines() if "`KAFKA_CLIENT_CONFIG`" in line)
    assert "hunter2" not in row and "(secret)" in row and "not shown" in row
